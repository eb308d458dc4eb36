-- The newest message per station, channel and business day of the channels that are cumulative over a day
-- (telemetry.queue_day, telemetry.verification; telemetry.reports by its UTC date): what the comparison of stations
-- reads, a few rows per station and day instead of every snapshot.
CREATE TABLE IF NOT EXISTS daily (
    station TEXT NOT NULL,
    channel TEXT NOT NULL,
    business_day TEXT NOT NULL,
    seq BIGINT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (station, channel, business_day)
);
CREATE INDEX IF NOT EXISTS daily_day ON daily (channel, business_day);
