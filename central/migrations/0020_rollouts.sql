-- Staged roll-outs of a profile version across stations (central -> `config.apply` -> `events/config_outcome`):
-- one row per roll-out and one per target station, so the progress survives a restart and is shown as it moves.
CREATE TABLE IF NOT EXISTS rollouts (
    id TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    profile TEXT NOT NULL,
    device TEXT,
    first_wave TEXT NOT NULL,
    wave_size INTEGER NOT NULL,
    failure_bound INTEGER NOT NULL,
    timeout_s REAL NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('running', 'stopped', 'finished', 'interrupted')),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    waves_started INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS rollout_targets (
    rollout_id TEXT NOT NULL REFERENCES rollouts (id),
    station TEXT NOT NULL,
    position INTEGER NOT NULL,
    wave INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('waiting', 'asked', 'applied', 'failed', 'not_attempted')),
    command_id TEXT,
    reason TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (rollout_id, station)
);
