-- Messages that failed validation against the contract: kept with the reason (and the start of the payload) so
-- staff can see what a station sent, instead of losing it silently.
CREATE TABLE IF NOT EXISTS dead_letters (
    id {id},
    topic TEXT NOT NULL,
    reason TEXT NOT NULL,
    payload TEXT NOT NULL,
    received_at TEXT NOT NULL
);
