-- The foundation: catalogue, tickets, staff, devices, tokens, audit log.
CREATE TABLE services (
    code TEXT PRIMARY KEY CHECK (code GLOB '[a-z0-9_-]*' AND length(code) BETWEEN 1 AND 32),
    name_ar TEXT NOT NULL,
    name_en TEXT NOT NULL,
    prefix TEXT NOT NULL UNIQUE CHECK (prefix GLOB '[A-Z]' ),
    target_wait_s INTEGER NOT NULL CHECK (target_wait_s > 0),
    priority INTEGER NOT NULL DEFAULT 0,
    active INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE counters (
    code TEXT PRIMARY KEY CHECK (length(code) BETWEEN 1 AND 32),
    name TEXT NOT NULL,
    is_open INTEGER NOT NULL DEFAULT 0,
    current_ticket INTEGER REFERENCES tickets(id)
);

CREATE TABLE counter_services (
    counter TEXT NOT NULL REFERENCES counters(code) ON DELETE CASCADE,
    service TEXT NOT NULL REFERENCES services(code),
    PRIMARY KEY (counter, service)
);

-- One row per visit to one service queue. A transfer closes the row as 'transferred' and opens a new row in the
-- target service that keeps the visitor's number and original arrival time.
CREATE TABLE tickets (
    id INTEGER PRIMARY KEY,
    number TEXT NOT NULL,
    service TEXT NOT NULL REFERENCES services(code),
    business_day TEXT NOT NULL,
    seq INTEGER,                          -- number within (service, day); NULL on a transferred-in row
    status TEXT NOT NULL CHECK (status IN ('waiting','called','serving','done','no_show','transferred','cancelled')),
    priority INTEGER NOT NULL DEFAULT 0,
    arrived_at TEXT NOT NULL,             -- the visitor's arrival, kept across transfers
    queued_at TEXT NOT NULL,              -- entered this service's queue
    called_at TEXT,
    serving_at TEXT,
    ended_at TEXT,
    counter TEXT REFERENCES counters(code),
    recalls INTEGER NOT NULL DEFAULT 0,
    last_announced_at TEXT,
    transferred_from INTEGER REFERENCES tickets(id),
    transferred_to INTEGER REFERENCES tickets(id),
    issued_by TEXT NOT NULL,
    UNIQUE (service, business_day, seq)
);
CREATE INDEX tickets_day_status ON tickets (business_day, status);
CREATE INDEX tickets_waiting ON tickets (status, service, priority, arrived_at) WHERE status = 'waiting';

CREATE TABLE ticket_sequences (
    service TEXT NOT NULL REFERENCES services(code),
    business_day TEXT NOT NULL,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (service, business_day)
);

CREATE TABLE staff (
    username TEXT PRIMARY KEY CHECK (length(username) BETWEEN 1 AND 64),
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('officer','supervisor','technician','admin','agency_viewer')),
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);

-- Failed sign-ins by user name, known or not, so guessing names gains nothing.
CREATE TABLE login_failures (
    username TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_failure_at TEXT NOT NULL,
    locked_until TEXT
);

CREATE TABLE devices (
    id TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    type TEXT NOT NULL CHECK (type IN ('kiosk','display','counter_terminal')),
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    last_seen_at TEXT
);

-- Bearer tokens are random; only their SHA-256 is kept.
CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('staff','device')),
    subject TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tokens_subject ON tokens (kind, subject);

-- Append-only and hash-chained: hash = sha256(prev_hash || canonical JSON of the entry).
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    actor TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT,
    before TEXT,
    after TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;

-- Signed chain heads; the same records are appended to a file outside the database and sent to central.
CREATE TABLE audit_anchors (
    id INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    head_seq INTEGER NOT NULL,
    head_hash TEXT NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL
);
