-- Jobs, their frame tasks, providers and one-time values (login challenges).
CREATE TABLE renderfarm.jobs (
    id          uuid        PRIMARY KEY,
    spec        jsonb       NOT NULL,
    state       text        NOT NULL,
    created_at  timestamptz NOT NULL,
    finished_at timestamptz NULL,
    error       text        NULL
);

-- ListJobsAsync: newest first.
CREATE INDEX jobs_created_at ON renderfarm.jobs (created_at DESC, id DESC);

CREATE TABLE renderfarm.tasks (
    job_id           uuid        NOT NULL REFERENCES renderfarm.jobs (id) ON DELETE CASCADE,
    task_index       integer     NOT NULL,
    first_frame      integer     NOT NULL,
    last_frame       integer     NOT NULL,
    state            text        NOT NULL,
    hangfire_job_id  text        NULL,
    provider         text        NULL,
    lease_id         text        NULL,
    lease_expires_at timestamptz NULL,
    attempts         integer     NOT NULL,
    failed_by        jsonb       NOT NULL,
    outputs          jsonb       NOT NULL,
    started_at       timestamptz NULL,
    finished_at      timestamptz NULL,
    error            text        NULL,
    version          bigint      NOT NULL,
    PRIMARY KEY (job_id, task_index)
);

-- Addresses are looked up case-insensitively; address_key is the lowercase form.
CREATE TABLE renderfarm.providers (
    address_key   text        PRIMARY KEY,
    address       text        NOT NULL,
    registered_at timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    device        text        NULL
);

CREATE TABLE renderfarm.once_values (
    value      text        PRIMARY KEY,
    expires_at timestamptz NOT NULL
);

CREATE INDEX once_values_expires_at ON renderfarm.once_values (expires_at);
