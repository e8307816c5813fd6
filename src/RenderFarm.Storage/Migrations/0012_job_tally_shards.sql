-- A job's counters are spread over shards (a task writes the shard of its index) and summed on read, so concurrent
-- task writes of one job do not all wait on one row lock. Existing rows become shard 0.
ALTER TABLE renderfarm.job_tallies ADD COLUMN shard smallint NOT NULL DEFAULT 0;
ALTER TABLE renderfarm.job_tallies DROP CONSTRAINT job_tallies_pkey;
ALTER TABLE renderfarm.job_tallies ADD PRIMARY KEY (job_id, kind, provider, shard);
