-- Central's tables. One set of files for both backends: `{id}` is the only dialect token (an auto-numbered key).
CREATE TABLE IF NOT EXISTS stations (
    station TEXT PRIMARY KEY,
    state TEXT,                -- online/offline from the retained status
    state_since TEXT,
    versions TEXT,
    last_message_at TEXT,
    max_seq BIGINT NOT NULL DEFAULT 0,
    received BIGINT NOT NULL DEFAULT 0,
    duplicates BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS messages (
    station TEXT NOT NULL,
    seq BIGINT NOT NULL,
    schema TEXT NOT NULL,
    topic TEXT NOT NULL,
    ts TEXT NOT NULL,
    received_at TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (station, seq)
);
-- Missing seqs per station: opened when a seq jumps, narrowed or closed when late messages fill it.
-- `dropped` counts seqs the station said its bounded outbox dropped (old snapshots): explained, not lost.
CREATE TABLE IF NOT EXISTS gaps (
    id {id},
    station TEXT NOT NULL,
    first_seq BIGINT NOT NULL,
    last_seq BIGINT NOT NULL,
    detected_at TEXT NOT NULL,
    dropped BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS gaps_station ON gaps (station, first_seq);
CREATE TABLE IF NOT EXISTS latest (
    station TEXT NOT NULL,
    channel TEXT NOT NULL,     -- e.g. telemetry.queue, telemetry.devices/kiosk-1
    seq BIGINT NOT NULL,
    ts TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (station, channel)
);
