-- Each task's timeline: leases, heartbeats, uploads, checks with their numbers and verdicts, failures.
-- Appended as they happen, read per task in order; id orders entries that share an instant.
CREATE TABLE renderfarm.task_events (
    id         bigserial   PRIMARY KEY,
    job_id     uuid        NOT NULL REFERENCES renderfarm.jobs (id) ON DELETE CASCADE,
    task_index integer     NOT NULL,
    at         timestamptz NOT NULL,
    kind       text        NOT NULL,
    provider   text,
    detail     text        NOT NULL
);
CREATE INDEX task_events_by_task ON renderfarm.task_events (job_id, task_index, id);
CREATE INDEX providers_by_last_seen ON renderfarm.providers (last_seen_at DESC);
