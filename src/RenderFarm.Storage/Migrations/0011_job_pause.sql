-- A job its owner paused: its queued tasks keep their queue entries but are not leased until it is resumed.
ALTER TABLE renderfarm.jobs ADD COLUMN paused boolean NOT NULL DEFAULT false;
