"""Wire contracts shared by the edge and central (one source of truth per protocol)."""
