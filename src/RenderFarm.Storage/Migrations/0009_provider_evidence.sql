-- Per-provider bias evidence across jobs: the state of a two-sided CUSUM over the bias statistics of checked frames.
-- frames also versions the row (every update counts one more frame).
CREATE TABLE renderfarm.provider_evidence (
    address_key text             PRIMARY KEY,
    frames      bigint           NOT NULL CHECK (frames >= 0),
    upper_sum   double precision NOT NULL CHECK (upper_sum >= 0),
    lower_sum   double precision NOT NULL CHECK (lower_sum >= 0)
);
