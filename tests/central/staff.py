"""Test support: central staff accounts and a signed-in HTTP client of the dashboard."""

from __future__ import annotations

from fastapi.testclient import TestClient

from central.staff.service import StaffService
from central.store import CentralStore

PASSWORDS = {"central_viewer": "viewer-pass-123", "central_operator": "operator-pass-123",
             "central_admin": "admin-pass-1234"}  # fmt: skip


def add_staff(store: CentralStore, username: str, role: str) -> str:
    """Create the account; its password."""
    StaffService(store.db).add_user(username, PASSWORDS[role], role)
    return PASSWORDS[role]


def sign_in(client: TestClient, username: str, password: str) -> None:
    answer = client.post("/signin", data={"username": username, "password": password}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert "markaz_central" in client.cookies


def signed_in_client(app, store: CentralStore, role: str = "central_viewer", username: str | None = None) -> TestClient:
    name = username or role.removeprefix("central_")
    client = TestClient(app)
    sign_in(client, name, add_staff(store, name, role))
    return client
