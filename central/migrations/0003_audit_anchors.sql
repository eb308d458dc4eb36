-- Every audit anchor each station sent (events/audit_anchor): central's own copy, which the station cannot rewrite.
CREATE TABLE IF NOT EXISTS audit_anchors (
    station TEXT NOT NULL,
    head_seq BIGINT NOT NULL,
    head_hash TEXT NOT NULL,
    anchor_ts TEXT NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (station, anchor_ts, head_seq)
);
