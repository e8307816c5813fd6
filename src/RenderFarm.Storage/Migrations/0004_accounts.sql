-- Client accounts: every job has an owner (null for jobs stored before accounts), listed per owner; API keys kept as hashes.
ALTER TABLE renderfarm.jobs ADD COLUMN owner text;
CREATE INDEX jobs_owner_created ON renderfarm.jobs (owner, created_at DESC, id DESC);

CREATE TABLE renderfarm.api_keys (
    id         text PRIMARY KEY,
    account    text        NOT NULL,
    sha256     text        NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz);
