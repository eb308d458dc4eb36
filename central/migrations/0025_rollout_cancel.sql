-- Roll-outs can be cancelled by an operator (state 'cancelled', who and when) and an interrupted one resumed: the
-- state's CHECK gains 'cancelled'. Neither backend alters a CHECK in place in the same SQL, so both tables are
-- copied into new ones and renamed (the targets reference the roll-outs).
CREATE TABLE rollouts_v2 (
    id TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    profile TEXT NOT NULL,
    device TEXT,
    first_wave TEXT NOT NULL,
    wave_size INTEGER NOT NULL,
    failure_bound INTEGER NOT NULL,
    timeout_s REAL NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('running', 'stopped', 'finished', 'interrupted', 'cancelled')),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    waves_started INTEGER NOT NULL DEFAULT 0,
    cancelled_by TEXT,
    cancelled_at TEXT
);
INSERT INTO rollouts_v2 (id, version, sha256, profile, device, first_wave, wave_size, failure_bound, timeout_s, state,
                         created_by, created_at, finished_at, waves_started)
SELECT id, version, sha256, profile, device, first_wave, wave_size, failure_bound, timeout_s, state, created_by,
       created_at, finished_at, waves_started FROM rollouts;
CREATE TABLE rollout_targets_v2 (
    rollout_id TEXT NOT NULL REFERENCES rollouts_v2 (id),
    station TEXT NOT NULL,
    position INTEGER NOT NULL,
    wave INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('waiting', 'asked', 'applied', 'failed', 'not_attempted')),
    command_id TEXT,
    reason TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (rollout_id, station)
);
INSERT INTO rollout_targets_v2 SELECT rollout_id, station, position, wave, state, command_id, reason, updated_at
FROM rollout_targets;
DROP TABLE rollout_targets;
DROP TABLE rollouts;
ALTER TABLE rollouts_v2 RENAME TO rollouts;
ALTER TABLE rollout_targets_v2 RENAME TO rollout_targets;
