"""The edge node's HTTP API (FastAPI), versioned under /api/v1; its OpenAPI document is the contract."""
