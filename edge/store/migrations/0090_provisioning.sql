-- Device identity (issue 12): one-time claim codes, the certificates issued to devices, and inventory columns.
-- Only a claim code's SHA-256 is kept: the code itself is shown once to the technician.
CREATE TABLE claims (
    code_hash TEXT PRIMARY KEY,
    device_id TEXT NOT NULL CHECK (length(device_id) BETWEEN 1 AND 64),
    device_type TEXT NOT NULL CHECK (device_type IN ('kiosk','display','counter_terminal')),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    -- with approval required: the CSR waiting for a technician, and who approved it
    pending_csr TEXT,
    approved_by TEXT,
    approved_at TEXT
);
CREATE INDEX claims_device ON claims (device_id);

CREATE TABLE device_certs (
    serial TEXT PRIMARY KEY,            -- hex, as printed by openssl
    device_id TEXT NOT NULL,
    not_before TEXT NOT NULL,
    not_after TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    revoked_at TEXT,
    revoke_reason TEXT
);
CREATE INDEX device_certs_device ON device_certs (device_id);

ALTER TABLE devices ADD COLUMN model TEXT;
ALTER TABLE devices ADD COLUMN serial_number TEXT;
ALTER TABLE devices ADD COLUMN profile_version TEXT;
