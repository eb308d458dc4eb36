-- Each station's queue day per service, rolled up from the newest telemetry.queue_day of the day (the daily row) for
-- the comparison of stations (central/queue_days.py): the counts, the waits within target and the waits themselves as
-- packed little-endian float64s (`{bytes}`: BLOB on SQLite, BYTEA on PostgreSQL), so a period of 500 stations is read
-- without parsing a million JSON numbers. queue_days says which daily row (by seq) each day was rolled up from, also
-- for a day without services; a day whose daily row has a newer seq is rolled up again when next read.
CREATE TABLE IF NOT EXISTS queue_days (
    station TEXT NOT NULL,
    business_day TEXT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (station, business_day)
);
CREATE INDEX IF NOT EXISTS queue_days_day ON queue_days (business_day);
CREATE TABLE IF NOT EXISTS queue_day_services (
    station TEXT NOT NULL,
    business_day TEXT NOT NULL,
    service TEXT NOT NULL,
    position INTEGER NOT NULL,
    target_wait_s DOUBLE PRECISION,
    served BIGINT NOT NULL,
    no_shows BIGINT NOT NULL,
    called BIGINT NOT NULL,
    within_target BIGINT NOT NULL,
    waits {bytes} NOT NULL,
    PRIMARY KEY (station, business_day, service)
);
CREATE INDEX IF NOT EXISTS queue_day_services_day ON queue_day_services (business_day, service);
