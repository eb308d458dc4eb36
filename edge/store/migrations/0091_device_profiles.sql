-- Device profiles (issue 12): the version a technician or central wants on each device, and what the device said.
-- `desired_profile` is the full effective profile (JSON) so the device gets exactly what was hashed.
CREATE TABLE device_profiles (
    device_id TEXT PRIMARY KEY,
    desired_version TEXT NOT NULL,
    desired_sha256 TEXT NOT NULL CHECK (length(desired_sha256) = 64),
    desired_profile TEXT NOT NULL,
    desired_by TEXT NOT NULL,
    desired_at TEXT NOT NULL,
    reported_version TEXT,              -- the version now in force on the device
    reported_outcome TEXT CHECK (reported_outcome IN ('applied','rolled_back','refused')),
    reported_for TEXT,                  -- the desired version the report answers
    reported_reasons TEXT,              -- JSON list of the device's reasons (its own words, ASCII)
    reported_at TEXT
);
