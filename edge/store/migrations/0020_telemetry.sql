-- Telemetry: the store-and-forward outbox, the per-station sequence, remembered command ids, device heartbeats.
-- Rows leave the outbox only when the broker acknowledged them (PUBACK), or when the size bound drops an old
-- periodic snapshot (droppable = 1); events and acks are never dropped.
-- `id` orders the rows (given by the outbox, increasing); `seq` is the station's sequence number in the payload.
CREATE TABLE telemetry_outbox (
    id INTEGER PRIMARY KEY,
    station TEXT NOT NULL,
    seq INTEGER NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    droppable INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
-- No secondary index on purpose: each one is another page written per message; the rare bound check scans.

-- The highest seq that has left the outbox per station (acknowledged or dropped). The next seq is one more than
-- the larger of this and the newest row's seq, so the counter survives restarts and an empty outbox, and costs no
-- extra write per message.
CREATE TABLE telemetry_seq (
    station TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL,
    dropped_total INTEGER NOT NULL DEFAULT 0
);

-- Command ids already executed (at-most-once), with the ack they got so a duplicate is answered the same way.
CREATE TABLE telemetry_commands (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    received_at TEXT NOT NULL,
    ack TEXT NOT NULL
);

-- Latest self-reported status of each device (kiosk heartbeat): states and counts only.
CREATE TABLE device_status (
    device_id TEXT PRIMARY KEY,
    reported_at TEXT NOT NULL,
    reader_present INTEGER,
    camera_fps REAL,
    printer_paper TEXT,
    faults TEXT NOT NULL DEFAULT '[]'
);
