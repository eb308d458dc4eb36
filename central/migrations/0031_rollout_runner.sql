-- Which central process runs a roll-out and when it last said so, so that a second central (or one restarted) tells
-- a live runner from a gone one instead of taking every 'running' roll-out for an orphan.
ALTER TABLE rollouts ADD COLUMN IF NOT EXISTS runner TEXT;
ALTER TABLE rollouts ADD COLUMN IF NOT EXISTS runner_seen_at TEXT
