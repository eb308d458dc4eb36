-- Numbered 0011 to leave room for the dashboard's migration (0010), which adds `state_changed_at` too.
-- Alarms: one row per episode (a rule's condition at a station, on a subject such as a service or a device) from
-- raised to cleared. The partial unique index is what "fires once per episode" rests on: at most one open alarm per
-- (station, rule, subject), whichever evaluator (or restart of central) raises it.
CREATE TABLE IF NOT EXISTS alarms (
    id {id},
    station TEXT NOT NULL,
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,         -- '' for the station as a whole, else a service code or a device id
    severity TEXT NOT NULL,
    state TEXT NOT NULL,           -- active, acknowledged, cleared
    since TEXT NOT NULL,           -- when the condition began (central's clock)
    raised_at TEXT NOT NULL,
    detail TEXT NOT NULL,          -- JSON: the figures that made the condition true
    acknowledged_by TEXT,
    acknowledged_at TEXT,
    ack_comment TEXT,
    escalation_level INTEGER NOT NULL DEFAULT 0,
    escalated_at TEXT,
    cleared_at TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS alarms_one_open ON alarms (station, rule, subject) WHERE cleared_at IS NULL;
CREATE INDEX IF NOT EXISTS alarms_station ON alarms (station, raised_at);
-- Conditions seen true but not yet for their rule's hold time (e.g. wait over target for 10 min): kept in the store
-- so a restart of central neither forgets nor restarts the count.
CREATE TABLE IF NOT EXISTS alarm_pending (
    station TEXT NOT NULL,
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,
    since TEXT NOT NULL,
    PRIMARY KEY (station, rule, subject)
);
-- What happened to each alarm, in order (raised, escalated, acknowledged, cleared): the history the charts show.
CREATE TABLE IF NOT EXISTS alarm_events (
    id {id},
    alarm_id BIGINT NOT NULL,
    station TEXT NOT NULL,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    actor TEXT,
    comment TEXT
);
CREATE INDEX IF NOT EXISTS alarm_events_station ON alarm_events (station, at);
-- When central learned of a station's last change of state (its own clock: an offline carries its birth's `since`,
-- not when the connection ended), and when it first heard of the station.
ALTER TABLE stations ADD COLUMN IF NOT EXISTS state_changed_at TEXT;
ALTER TABLE stations ADD COLUMN IF NOT EXISTS first_seen_at TEXT;
-- Each ingest worker's connection: the alarm evaluator judges connectivity only once an ingest has been subscribed
-- long enough to have heard every retained birth (after central's own outage, stations are not offline).
CREATE TABLE IF NOT EXISTS ingest_workers (
    client_id TEXT PRIMARY KEY,
    connected_at TEXT,
    seen_at TEXT NOT NULL
);
