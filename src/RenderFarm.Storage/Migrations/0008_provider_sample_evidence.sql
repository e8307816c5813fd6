-- Per-provider sample-count evidence across jobs: per snapshot count (smallest first) the state of a one-sided CUSUM over
-- the sample-count statistics of checked frames. checks also versions the row (every update counts one more check).
CREATE TABLE renderfarm.provider_sample_evidence (
    address_key text               PRIMARY KEY,
    checks      bigint             NOT NULL CHECK (checks >= 0),
    sums        double precision[] NOT NULL CHECK (cardinality(sums) <= 16)
);
