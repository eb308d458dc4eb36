-- The MQTT link runs as a process of its own beside the node; these tables are how the two talk, in the same file.
-- Commands the link received and the node has not executed yet: committed before the broker gets its PUBACK, then
-- executed at most once by the node's command worker, which deletes the row in the transaction of the ack.
CREATE TABLE telemetry_inbox (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    received_at TEXT NOT NULL
);
-- What the node asks of the link (e.g. kind `birth`: announce `online` again); the link deletes a request it served.
CREATE TABLE telemetry_link_requests (
    kind TEXT PRIMARY KEY,
    requested_at TEXT NOT NULL
);
