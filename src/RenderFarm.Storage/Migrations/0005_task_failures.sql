-- Each provider's failures of a task with its latest reason and whether it had standing (shown to the client).
ALTER TABLE renderfarm.tasks
    ADD COLUMN failures jsonb NOT NULL DEFAULT '[]'::jsonb;
