-- Each station's audit anchor public keys (Ed25519, PEM), registered out of band (at provisioning, or with
-- `markaz central audit key add`): central checks every anchor's signature with the key it names, and refuses
-- (dead letter + alarm) an anchor that is unsigned, signed by an unknown key or badly signed. Several keys per
-- station allow a rotation.
CREATE TABLE IF NOT EXISTS station_keys (
    station TEXT NOT NULL,
    key_id TEXT NOT NULL,
    public_key TEXT NOT NULL,
    added_at TEXT NOT NULL,
    added_by TEXT NOT NULL,
    PRIMARY KEY (station, key_id)
);
-- The station's last refused anchor (cleared by its next good one): what the audit_anchor_refused alarm reads.
ALTER TABLE stations ADD COLUMN IF NOT EXISTS anchor_refused_at TEXT;
ALTER TABLE stations ADD COLUMN IF NOT EXISTS anchor_refused_reason TEXT;
