-- Per-provider counters across jobs for whole-frame sampling: frames that passed verification and times proven wrong.
ALTER TABLE renderfarm.providers
    ADD COLUMN verified_frames bigint  NOT NULL DEFAULT 0,
    ADD COLUMN times_caught    integer NOT NULL DEFAULT 0;
