-- A job its owner paused: its queued tasks wait in no queue (not leased) until it is resumed.
ALTER TABLE renderfarm.jobs ADD COLUMN paused boolean NOT NULL DEFAULT false;
