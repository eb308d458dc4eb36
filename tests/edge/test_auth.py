"""Staff sign-in, lock-out, tokens and the bootstrap commands."""

from __future__ import annotations

import shutil

from tests.conftest import PASSWORD, FakeClock, auth, run_markaz


def test_login_returns_a_token_that_identifies_the_user(client, tokens):
    r = client.post("/api/v1/auth/login", json={"username": "officer", "password": PASSWORD})
    assert r.status_code == 200
    me = client.get("/api/v1/auth/me", headers=auth(r.json()["token"])).json()
    assert me == {"kind": "staff", "subject": "officer", "role": "officer"}


def test_wrong_password_and_unknown_user_look_the_same(client, tokens):
    a = client.post("/api/v1/auth/login", json={"username": "officer", "password": "wrong-password"})
    b = client.post("/api/v1/auth/login", json={"username": "nobody", "password": "wrong-password"})
    assert a.status_code == b.status_code == 401
    assert a.json() == b.json()


def test_repeated_failures_are_slowed_then_locked(make_node):
    clock = FakeClock()
    node = make_node(clock=clock)
    node.auth.add_user("amal", PASSWORD, "officer")
    from edge.errors import RateLimited, Unauthorized

    outcomes = []
    for _ in range(node.settings.auth.slow_after_failures):
        try:
            node.auth.login("amal", "bad-password")
        except Unauthorized:
            outcomes.append("401")
    assert outcomes == ["401"] * node.settings.auth.slow_after_failures
    # Now each retry must wait: an immediate one is refused without checking the password, even the right one.
    try:
        node.auth.login("amal", PASSWORD)
        raise AssertionError("a retry inside the delay must be refused")
    except RateLimited as exc:
        assert exc.retry_after_s > 0
    # Keep failing, waiting out each delay, until the account locks.
    locked = False
    for _ in range(10):
        clock.advance(seconds=61)
        try:
            node.auth.login("amal", "bad-password")
        except Unauthorized:
            continue
        except RateLimited as exc:
            assert "locked" in exc.message
            locked = True
            break
    assert locked
    clock.advance(minutes=5)
    try:
        node.auth.login("amal", PASSWORD)
        raise AssertionError("still locked")
    except RateLimited:
        pass
    clock.advance(minutes=node.settings.auth.lock_minutes)
    _token, principal, _ = node.auth.login("amal", PASSWORD)
    assert principal.subject == "amal"


def test_throttled_login_answers_429_with_retry_after(make_node, station_template, tmp_path):
    # the station's clock stands still, so the slow-down cannot run out while Argon2 hashes on a busy machine
    from fastapi.testclient import TestClient

    from edge.api.app import create_app

    data = tmp_path / "node"
    shutil.copytree(station_template[0], data)
    node = make_node(clock=FakeClock(), data_dir=data)
    node.start()
    try:
        with TestClient(create_app(node)) as client:
            for _ in range(3):
                client.post("/api/v1/auth/login", json={"username": "supervisor", "password": "nope-nope-nope"})
            r = client.post("/api/v1/auth/login", json={"username": "supervisor", "password": PASSWORD})
    finally:
        node.stop()
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


def test_tokens_expire_and_logout_revokes(make_node):
    clock = FakeClock()
    node = make_node(clock=clock)
    node.auth.add_user("amal", PASSWORD, "officer")
    token, _, _ = node.auth.login("amal", PASSWORD)
    from edge.errors import Unauthorized

    assert node.auth.resolve(token).subject == "amal"
    clock.advance(hours=node.settings.auth.token_ttl_hours + 0.1)
    try:
        node.auth.resolve(token)
        raise AssertionError("expired token accepted")
    except Unauthorized as exc:
        assert "expired" in exc.message


def test_logout_revokes_the_token(client, tokens):
    r = client.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
    token = r.json()["token"]
    assert client.post("/api/v1/auth/logout", headers=auth(token)).status_code == 204
    assert client.get("/api/v1/auth/me", headers=auth(token)).status_code == 401


def test_disabling_a_user_revokes_their_sessions(client, tokens):
    assert client.get("/api/v1/auth/me", headers=auth(tokens["officer"])).status_code == 200
    client.patch("/api/v1/staff/officer", json={"active": False}, headers=auth(tokens["admin"]))
    assert client.get("/api/v1/auth/me", headers=auth(tokens["officer"])).status_code == 401


def test_passwords_are_stored_as_argon2_hashes(node, tokens):
    row = node.store.query_one("SELECT password_hash FROM staff WHERE username = 'officer'")
    assert row["password_hash"].startswith("$argon2id$") and PASSWORD not in row["password_hash"]
    stored = [r["token_hash"] for r in node.store.query("SELECT token_hash FROM tokens")]
    assert tokens["kiosk"] not in stored and all(len(h) == 64 for h in stored)


def test_cli_bootstraps_the_first_admin_from_stdin_and_registers_a_kiosk(tmp_path):
    data = tmp_path / "node"
    r = run_markaz(
        "edge", "user", "add", "first-admin", "--role", "admin", "--data", str(data), input="a-long-password\n"
    )
    assert r.returncode == 0, r.stderr
    r = run_markaz("edge", "user", "add", "weak", "--role", "officer", "--data", str(data), input="short\n")
    assert r.returncode != 0 and "too short" in r.stderr
    r = run_markaz("edge", "user", "add", "x", "--role", "emperor", "--data", str(data), input="a-long-password\n")
    assert r.returncode != 0 and "unknown role" in r.stderr
    r = run_markaz("edge", "device", "add", "kiosk-7", "--type", "kiosk", "--data", str(data))
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mkd_"), "the token must be alone on stdout"
    r2 = run_markaz("edge", "device", "add", "kiosk-7", "--type", "kiosk", "--data", str(data))
    assert r2.returncode != 0 and "already registered" in r2.stderr

    from edge.node import EdgeNode
    from edge.settings import EdgeSettings
    from markaz.config import load_settings

    node = EdgeNode(load_settings(EdgeSettings, data_dir=data))
    try:
        assert node.auth.login("first-admin", "a-long-password")[1].role == "admin"
        assert node.auth.resolve(lines[0]).subject == "kiosk-7"
    finally:
        node.store.close()
