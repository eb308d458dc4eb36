-- The dashboard's tables: central staff, their sign-in sessions, central's own audit log and the commands sent from
-- the dashboard with their acks. Numbered 0010 so the alarm migrations (0005-0009) have room before it; each
-- migration is applied by its own number, so the order they land in does not matter.
CREATE TABLE IF NOT EXISTS staff (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,            -- central_viewer, central_operator, central_admin
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,   -- failed sign-ins in a row
    last_failure_at TEXT,
    locked_until TEXT
);
-- Only the SHA-256 of a session token is kept: a copy of the database signs nobody in.
CREATE TABLE IF NOT EXISTS staff_sessions (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
-- Central's audit log, hash-chained with the edge's own entry hash (markaz/contracts/audit.py).
CREATE TABLE IF NOT EXISTS central_audit (
    seq BIGINT PRIMARY KEY,
    ts TEXT NOT NULL,
    actor TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    before TEXT,
    after TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
-- Every command sent to a station from central, with who sent it and the station's ack when it comes.
CREATE TABLE IF NOT EXISTS commands (
    id TEXT PRIMARY KEY,
    station TEXT NOT NULL,
    name TEXT NOT NULL,
    params TEXT NOT NULL,
    sent_by TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    ack_at TEXT,
    ack_ok INTEGER,
    ack_error TEXT,
    ack_result TEXT
);
CREATE INDEX IF NOT EXISTS commands_station ON commands (station, sent_at);
-- When central saw a station's state change (a Last Will carries its birth's `since`, not the moment it went away).
ALTER TABLE stations ADD COLUMN IF NOT EXISTS state_changed_at TEXT;
