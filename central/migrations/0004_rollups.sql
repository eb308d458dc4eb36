-- Time series rolled up per 5 minutes (bucket_s = 300) and per hour (3600), kept longer than the raw snapshots.
-- One row per station, series (e.g. queue.waiting), key (a service or a device) and bucket; additive, so a late
-- message adds to its bucket. rollup_state holds, per bucket size, up to which received_at the raw rows are counted.
CREATE TABLE IF NOT EXISTS rollups (
    station TEXT NOT NULL,
    series TEXT NOT NULL,
    key TEXT NOT NULL,
    bucket_s INTEGER NOT NULL,
    bucket_start TEXT NOT NULL,
    samples BIGINT NOT NULL,
    value_sum DOUBLE PRECISION NOT NULL,
    value_max DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (station, series, key, bucket_s, bucket_start)
);
CREATE INDEX IF NOT EXISTS rollups_age ON rollups (bucket_s, bucket_start);
CREATE TABLE IF NOT EXISTS rollup_state (
    bucket_s INTEGER PRIMARY KEY,
    counted_until TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_received ON messages (received_at);
CREATE INDEX IF NOT EXISTS messages_schema_ts ON messages (schema, ts);
