"""The edge store: one SQLite file in WAL mode, numbered migrations, one writer at a time."""

from edge.store.db import Store

__all__ = ["Store"]
