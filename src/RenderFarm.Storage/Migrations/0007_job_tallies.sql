-- Per-job counters of tasks (JobTallies in RenderFarm.Core): a lease or a completion asks about its job in constant
-- time instead of reading every task. Each task write changes them in its own transaction.
CREATE TABLE renderfarm.job_tallies (
    job_id   uuid    NOT NULL REFERENCES renderfarm.jobs (id) ON DELETE CASCADE,
    kind     text    NOT NULL,
    provider text    NOT NULL,
    n        integer NOT NULL,
    PRIMARY KEY (job_id, kind, provider)
);

-- Sweeps page through the tasks of one state; lapsed leases are found by their end.
CREATE INDEX tasks_state_key ON renderfarm.tasks (state, job_id, task_index);
CREATE INDEX tasks_lease_expires ON renderfarm.tasks (lease_expires_at) WHERE state = 'Leased';

-- The tallies of tasks stored before this migration, by the same rules as JobTallies.Of.
INSERT INTO renderfarm.job_tallies (job_id, kind, provider, n)
SELECT job_id, kind, provider, count(*)
FROM (
    SELECT t.job_id, 'Tasks' AS kind, '' AS provider FROM renderfarm.tasks t
    UNION ALL
    SELECT t.job_id, 'Unfinished', '' FROM renderfarm.tasks t WHERE t.state <> 'Succeeded'
    UNION ALL
    SELECT t.job_id, 'Canaried', '' FROM renderfarm.tasks t
    WHERE EXISTS (SELECT 1 FROM jsonb_array_elements(t.checks) c WHERE COALESCE((c ->> 'canary')::boolean, false))
    UNION ALL
    SELECT t.job_id, 'Failed', p.provider FROM renderfarm.tasks t
    CROSS JOIN LATERAL (SELECT DISTINCT lower(v) AS provider FROM jsonb_array_elements_text(t.failed_by) v) p
    UNION ALL
    SELECT t.job_id, 'Rejected', p.provider FROM renderfarm.tasks t
    CROSS JOIN LATERAL (SELECT DISTINCT lower(v) AS provider FROM jsonb_array_elements_text(t.rejected_by) v) p
    UNION ALL
    SELECT t.job_id, 'Sampled', p.provider FROM renderfarm.tasks t
    CROSS JOIN LATERAL (
        SELECT DISTINCT lower(c ->> 'renderedBy') AS provider FROM jsonb_array_elements(t.checks) c
        WHERE COALESCE((c ->> 'wholeFrame')::boolean, false)
          AND NOT COALESCE((c ->> 'canary')::boolean, false)
          AND c ->> 'state' <> 'Cancelled') p
) contributions
GROUP BY job_id, kind, provider;
