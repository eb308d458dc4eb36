"""The tamper-evident audit log: append-only, hash-chained, its head signed at intervals."""
