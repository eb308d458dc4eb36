-- A node whose link runs as another service (`mqtt.link = "external"`) beats here; the link takes a stale beat for a
-- frozen node and drops its broker connection, so the broker's Will says `offline` (a supervised link has stdin).
CREATE TABLE telemetry_node_beat (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    beat_at REAL NOT NULL
);
