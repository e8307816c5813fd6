-- Spot checks of delivered frames, job settlements, of delivered frames (with their verdicts) and providers whose output of a task was proven wrong.
ALTER TABLE renderfarm.tasks
    ADD COLUMN checks      jsonb NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN rejected_by jsonb NOT NULL DEFAULT '[]'::jsonb;

ALTER TABLE renderfarm.jobs ADD COLUMN settlement jsonb NULL;
