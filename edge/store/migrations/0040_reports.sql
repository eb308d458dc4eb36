-- Police reports (edge/reports). Personal data lives only in *_ct columns: AES-GCM ciphertext (edge/reports/sealing.py)
-- with a key kept in the station's keys folder, never in this file. Everything else is procedure: states, times, ids.
CREATE TABLE report_sequences (
    station_code TEXT NOT NULL,
    year INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (station_code, year)
);

CREATE TABLE reports (
    id TEXT PRIMARY KEY,                    -- random uuid: the key the ciphertexts are bound to
    reference TEXT NOT NULL UNIQUE,         -- OLY-2026-000123-42
    type TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('kiosk','desk')),
    state TEXT NOT NULL CHECK (state IN ('submitted','received','under_investigation','returned','referred','closed')),
    outcome TEXT CHECK (outcome IN ('resolved','withdrawn','rejected','transferred')),
    officer TEXT,                           -- assigned officer (a staff user name)
    details_ct TEXT,                        -- the type's field values (JSON), sealed
    pin_hash TEXT NOT NULL,                 -- Argon2id of the tracking PIN
    filed_by TEXT NOT NULL,                 -- principal label (kiosk:kiosk-1, staff:officer1)
    filed_at TEXT NOT NULL,
    state_since TEXT NOT NULL,
    sla_due_at TEXT,                        -- when the current state's SLA runs out (NULL: no SLA)
    sla_breached INTEGER NOT NULL DEFAULT 0,
    case_number TEXT,                       -- the prosecution's, from the referral acknowledgement
    closed_at TEXT,
    purged_at TEXT                          -- personal data removed by retention
);
CREATE INDEX reports_state ON reports (state, type);
CREATE INDEX reports_officer ON reports (officer, state);
CREATE INDEX reports_filed ON reports (filed_at);
CREATE INDEX reports_sla ON reports (sla_due_at) WHERE sla_breached = 0 AND sla_due_at IS NOT NULL;
CREATE INDEX reports_purge ON reports (closed_at) WHERE purged_at IS NULL AND closed_at IS NOT NULL;

CREATE TABLE report_parties (
    id INTEGER PRIMARY KEY,
    report_id TEXT NOT NULL REFERENCES reports(id),
    role TEXT NOT NULL CHECK (role IN ('complainant','accused','witness')),
    verified INTEGER NOT NULL DEFAULT 0,    -- identity read from a chip and face-verified at the kiosk
    document_type TEXT,                     -- passport, id_card, residence_permit, other
    document_hmac TEXT,                     -- HMAC-SHA256 of the canonical document number (finds a person again)
    name_ct TEXT,
    document_number_ct TEXT,
    nationality_ct TEXT,
    birth_date_ct TEXT,
    contact_ct TEXT,
    added_by TEXT NOT NULL,
    added_at TEXT NOT NULL,
    purged_at TEXT
);
CREATE INDEX report_parties_report ON report_parties (report_id);
CREATE INDEX report_parties_document ON report_parties (document_hmac);

-- A statement is never edited: a correction is a new row whose `corrects` names the one it replaces.
CREATE TABLE report_statements (
    id INTEGER PRIMARY KEY,
    report_id TEXT NOT NULL REFERENCES reports(id),
    party_id INTEGER NOT NULL REFERENCES report_parties(id),
    version INTEGER NOT NULL,
    corrects INTEGER REFERENCES report_statements(id),
    text_ct TEXT,
    acknowledgement TEXT NOT NULL CHECK (acknowledgement IN ('signed','read_back','refused')),
    recorded_by TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    purged_at TEXT
);
CREATE INDEX report_statements_report ON report_statements (report_id);
-- The only change a statement may see is retention removing its text (and nothing else) once.
CREATE TRIGGER report_statements_no_edit BEFORE UPDATE ON report_statements
WHEN NOT (NEW.text_ct IS NULL AND OLD.purged_at IS NULL AND NEW.purged_at IS NOT NULL
          AND NEW.id = OLD.id AND NEW.report_id = OLD.report_id AND NEW.party_id = OLD.party_id
          AND NEW.version = OLD.version AND NEW.corrects IS OLD.corrects AND NEW.acknowledgement = OLD.acknowledgement
          AND NEW.recorded_by = OLD.recorded_by AND NEW.recorded_at = OLD.recorded_at)
BEGIN SELECT RAISE(ABORT, 'a statement is never edited: record a correction'); END;
CREATE TRIGGER report_statements_no_delete BEFORE DELETE ON report_statements
BEGIN SELECT RAISE(ABORT, 'a statement is never deleted'); END;

CREATE TABLE report_notes (
    id INTEGER PRIMARY KEY,
    report_id TEXT NOT NULL REFERENCES reports(id),
    kind TEXT NOT NULL CHECK (kind IN ('note','action')),
    action TEXT,                            -- for actions: what was done (a vocabulary word)
    text_ct TEXT,
    author TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX report_notes_report ON report_notes (report_id);

-- The timeline: one row per transition of the procedure (and per assignment).
CREATE TABLE report_transitions (
    id INTEGER PRIMARY KEY,
    report_id TEXT NOT NULL REFERENCES reports(id),
    action TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    outcome TEXT,
    officer TEXT,
    actor TEXT NOT NULL,
    reason_ct TEXT,
    at TEXT NOT NULL
);
CREATE INDEX report_transitions_report ON report_transitions (report_id);

-- Wrong tracking PINs per reference: slowed, then locked.
CREATE TABLE report_pin_failures (
    reference TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_failure_at TEXT NOT NULL,
    locked_until TEXT
);

-- A supervisor shares one report with one agency user, for a purpose, until a date.
CREATE TABLE report_shares (
    id INTEGER PRIMARY KEY,
    report_id TEXT NOT NULL REFERENCES reports(id),
    agency_user TEXT NOT NULL,
    agency TEXT NOT NULL,
    purpose_ct TEXT NOT NULL,
    until TEXT NOT NULL,
    shared_by TEXT NOT NULL,
    shared_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX report_shares_user ON report_shares (agency_user, report_id);

-- Referral outbox: a row is written with the referral in one transaction and deleted never; delivery retries with
-- back-off until the prosecution acknowledges with its case number.
CREATE TABLE report_referrals (
    id TEXT PRIMARY KEY,                    -- referral id (uuid): the prosecution deduplicates on it
    report_id TEXT NOT NULL REFERENCES reports(id),
    created_at TEXT NOT NULL,
    package_ct TEXT NOT NULL,               -- the signed package, sealed (it holds personal data)
    status TEXT NOT NULL CHECK (status IN ('pending','acknowledged')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    case_number TEXT,
    acknowledged_at TEXT
);
CREATE INDEX report_referrals_due ON report_referrals (status, next_attempt_at);
