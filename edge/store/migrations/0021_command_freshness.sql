-- Commands: a remembered id keeps a digest of what it asked (name and params), so a new command reusing an old id
-- is refused instead of getting the old ack; ids are pruned by received_at once past the freshness window.
ALTER TABLE telemetry_commands ADD COLUMN digest TEXT;
CREATE INDEX telemetry_commands_received ON telemetry_commands (received_at);
