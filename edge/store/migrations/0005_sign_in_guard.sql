-- Sign-in accounting that never keeps a typed name: failures by a keyed hash of the name (the key lives with the
-- station keys, outside the database), failures by client address, and supervisor-approved resets.
DROP TABLE login_failures;

CREATE TABLE sign_in_failures (
    name_hash TEXT PRIMARY KEY,
    failures INTEGER NOT NULL CHECK (failures >= 0),
    last_failure_at TEXT NOT NULL,
    locked_until TEXT
);

CREATE TABLE sign_in_client_failures (
    address TEXT PRIMARY KEY,
    failures INTEGER NOT NULL CHECK (failures >= 0),
    window_start TEXT NOT NULL
);

-- A reset lets one account sign in through its lock-out; only the code's SHA-256 is kept.
CREATE TABLE sign_in_resets (
    username TEXT PRIMARY KEY REFERENCES staff (username) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    approved_by TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    attempts_left INTEGER NOT NULL CHECK (attempts_left >= 0)
);
