"""The visitor session: an explicit state machine in plain Python (no HTTP, no hardware), driven by events."""
