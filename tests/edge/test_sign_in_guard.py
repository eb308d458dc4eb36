"""Sign-in under attack, over real HTTP: parallel guesses, parallel hashing, one address spraying names, the typed
name kept out of the log, supervisor-approved resets, and the last admin."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD, FakeClock, auth, run_markaz

LOGIN = "/api/v1/auth/login"
MIB = 1024 * 1024


@pytest.fixture
def station(station_template, tmp_path) -> tuple[Path, dict[str, str]]:
    template, tokens = station_template
    data = tmp_path / "node"
    shutil.copytree(template, data)
    return data, dict(tokens)


def _parallel_logins(base: str, bodies: list[dict], local_address: str | None = None) -> list[httpx.Response]:
    """All at once: every thread has its own connection and waits at a barrier, then sends; results in order."""
    barrier = threading.Barrier(len(bodies))

    def one(body: dict) -> httpx.Response:
        transport = httpx.HTTPTransport(local_address=local_address) if local_address else None
        with httpx.Client(base_url=base, timeout=120, transport=transport) as c:
            c.get("/healthz")  # connected before the barrier, so the requests really overlap
            barrier.wait()
            return c.post(LOGIN, json=body)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(one, bodies))


def _audit(data: Path, action: str) -> list[sqlite3.Row]:
    conn = sqlite3.connect(data / "edge.sqlite")
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute("SELECT * FROM audit_log WHERE action = ? ORDER BY seq", [action]).fetchall()
    finally:
        conn.close()


@pytest.mark.slow
def test_thirty_parallel_guesses_with_the_right_one_last_end_locked(station, server_factory):
    data, _ = station
    srv = server_factory(data)
    guesses = [{"username": "officer", "password": f"wrong-guess-{i:02d}"} for i in range(29)]
    barrier = threading.Barrier(len(guesses))

    def send(body: dict, together: bool) -> httpx.Response:
        with httpx.Client(base_url=srv.base, timeout=120) as c:
            c.get("/healthz")
            if together:
                barrier.wait()
            return c.post(LOGIN, json=body)

    with ThreadPoolExecutor(30) as pool:
        wrong = [pool.submit(send, body, True) for body in guesses]
        # The right one goes last: once a guess has been refused (so at least 3 were counted before it), or at the
        # latest while the guesses are still being hashed (29 share the cores, each a good fraction of a second),
        # which is when the old check read a failure count none of them had written yet.
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline and not any(f.done() and f.result().status_code == 429 for f in wrong):
            time.sleep(0.02)
        right = pool.submit(send, {"username": "officer", "password": PASSWORD}, False)
        answers = [f.result() for f in wrong] + [right.result()]

    codes = [r.status_code for r in answers]
    assert 200 not in codes, f"a guess got in while the others were being counted: {codes}"
    assert set(codes) <= {401, 429}, codes
    assert all(int(r.headers["Retry-After"]) >= 1 for r in answers if r.status_code == 429)
    # The account itself is locked, not just this address: the right password from another address is refused.
    with httpx.Client(base_url=srv.base, timeout=30, transport=httpx.HTTPTransport(local_address="127.0.0.2")) as c:
        r = c.post(LOGIN, json={"username": "officer", "password": PASSWORD})
    assert r.status_code == 429 and "locked" in r.json()["detail"], r.text
    locked = [row for row in _audit(data, "auth.login_failed") if '"locked":true' in (row["after"] or "")]
    assert locked and locked[0]["entity_id"] == "officer"


@pytest.mark.slow
def test_forty_parallel_sign_ins_hash_within_the_bound_and_the_rest_get_503(station, server_factory, monkeypatch):
    data, _ = station
    monkeypatch.setenv("MARKAZ_AUTH__MAX_CONCURRENT_HASHES", "2")
    monkeypatch.setenv("MARKAZ_AUTH__HASH_WAIT_S", "0")
    monkeypatch.setenv("MARKAZ_AUTH__CLIENT_FAILURES_LIMIT", "1000")  # this test is about hashing, not addresses
    srv = server_factory(data)
    with httpx.Client(base_url=srv.base, timeout=30) as c:  # one hash first, so the baseline holds one hash's peak
        assert c.post(LOGIN, json={"username": "officer", "password": PASSWORD}).status_code == 200
    status = Path(f"/proc/{srv.proc.pid}/status")

    def peak_rss() -> int:
        line = next(li for li in status.read_text().splitlines() if li.startswith("VmHWM:"))
        return int(line.split()[1]) * 1024

    before = peak_rss()
    answers = _parallel_logins(srv.base, [{"username": f"nobody-{i}", "password": "wrong-password"} for i in range(40)])
    grown = peak_rss() - before

    codes = [r.status_code for r in answers]
    assert set(codes) <= {401, 503}, codes
    busy = [r for r in answers if r.status_code == 503]
    assert busy, f"40 sign-ins at once with room for 2 must refuse some: {codes}"
    assert all(int(r.headers["Retry-After"]) >= 1 and r.json()["error"] == "busy" for r in busy)
    # Argon2 takes 64 MiB a hash: 2 at a time may add 2 x 64 MiB beyond the one already counted, plus slack.
    assert grown < 3 * 64 * MIB, f"peak memory grew by {grown / MIB:.0f} MiB"


def test_one_address_spraying_user_names_is_throttled_and_counts_against_no_account(client, tokens, node):
    limit = node.settings.auth.client_failures_limit
    for i in range(limit):
        assert client.post(LOGIN, json={"username": f"guess-{i}", "password": "wrong-password"}).status_code == 401
    r = client.post(LOGIN, json={"username": "officer", "password": "wrong-password"})
    assert r.status_code == 429 and "address" in r.json()["detail"] and int(r.headers["Retry-After"]) >= 60
    # Refused at the address: nothing was counted against the account, which still signs in from elsewhere.
    assert node.auth.login("officer", PASSWORD, client="10.0.0.9")[1].subject == "officer"


def test_a_failed_sign_in_keeps_only_a_keyed_hash_of_the_typed_name(client, tokens, node):
    typed = "Tr0ub4dor&3-typed-in-the-name-field"
    for _ in range(2):
        assert client.post(LOGIN, json={"username": typed, "password": "wrong-password"}).status_code == 401
    assert client.post(LOGIN, json={"username": "officer", "password": "wrong-password"}).status_code == 401
    rows = node.store.query(
        "SELECT actor, actor_kind, entity_id, after FROM audit_log WHERE action = 'auth.login_failed'"
    )
    assert len(rows) == 3
    unknown = [r for r in rows if r["entity_id"] != "officer"]
    assert len(unknown) == 2 and unknown[0]["entity_id"] == unknown[1]["entity_id"], "one pseudonym per typed name"
    assert unknown[0]["entity_id"].startswith("h:") and unknown[0]["actor_kind"] == "anonymous"
    assert (node.settings.keys_dir / "login-name-hmac.key").stat().st_mode & 0o077 == 0
    node.store.close()
    for path in node.settings.data_dir.glob("edge.sqlite*"):
        assert typed.encode() not in path.read_bytes(), f"the typed name is in {path.name}"


def test_a_supervisor_approved_reset_signs_a_locked_account_in_once(client, tokens, node):
    for i in range(12):
        client.post(LOGIN, json={"username": "officer", "password": f"wrong-{i}"})
    assert client.post(LOGIN, json={"username": "officer", "password": PASSWORD}).status_code == 429
    assert client.post("/api/v1/staff/officer/sign-in-reset", headers=auth(tokens["officer"])).status_code == 403
    r = client.post("/api/v1/staff/officer/sign-in-reset", headers=auth(tokens["supervisor"]))
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    # The code passes the lock, not the password check, and it is tied to its account.
    assert client.post(LOGIN, json={"username": "admin", "password": PASSWORD, "reset_code": code}).status_code == 429
    wrong = client.post(LOGIN, json={"username": "officer", "password": "still-wrong", "reset_code": code})
    assert wrong.status_code == 401
    ok = client.post(LOGIN, json={"username": "officer", "password": PASSWORD, "reset_code": code.lower()})
    assert ok.status_code == 200, ok.text
    # Spent: the account is not locked any more (the success reset it) and the code does not work twice.
    assert node.store.query_one("SELECT count(*) AS n FROM sign_in_resets")["n"] == 0
    approved = node.store.query("SELECT actor, entity_id, after FROM audit_log WHERE action = 'auth.reset_approved'")
    assert [(a["actor"], a["entity_id"]) for a in approved] == [("supervisor", "officer")]
    logins = node.store.query("SELECT after FROM audit_log WHERE action = 'auth.login' AND entity_id = 'officer'")
    assert '"via":"reset"' in logins[-1]["after"]


def test_a_reset_code_expires_and_is_spent_by_wrong_passwords(make_node):
    from edge.auth.principal import SYSTEM
    from edge.errors import RateLimited, Unauthorized

    clock = FakeClock()
    node = make_node(clock=clock, auth={"lock_minutes": 120})  # still locked when the second code has expired
    node.auth.add_user("amal", PASSWORD, "officer")
    for _ in range(node.settings.auth.lock_after_failures):
        clock.advance(seconds=61)
        with pytest.raises(Unauthorized):
            node.auth.login("amal", "bad-password")
    code, _ = node.auth.approve_reset("amal", SYSTEM)
    for _ in range(node.settings.auth.reset_attempts):
        with pytest.raises(Unauthorized):
            node.auth.login("amal", "bad-password", reset_code=code)
    with pytest.raises(RateLimited, match="locked"):
        node.auth.login("amal", PASSWORD, reset_code=code)
    code, _ = node.auth.approve_reset("amal", SYSTEM)
    clock.advance(minutes=node.settings.auth.reset_minutes + 1)
    with pytest.raises(RateLimited, match="locked"):
        node.auth.login("amal", PASSWORD, reset_code=code)


def test_the_cli_approves_a_reset_for_a_named_supervisor_and_audits_it(station):
    data, _ = station
    r = run_markaz("edge", "user", "reset-sign-in", "officer", "--by", "officer", "--data", str(data))
    assert r.returncode == 1 and "supervisor or admin" in r.stderr
    r = run_markaz("edge", "user", "reset-sign-in", "officer", "--by", "supervisor", "--data", str(data))
    assert r.returncode == 0, r.stderr
    code = r.stdout.strip()
    assert len(code) == 14 and code.count("-") == 2, "the code alone on stdout"
    approved = _audit(data, "auth.reset_approved")
    assert len(approved) == 1 and approved[0]["actor"] == "cli" and '"approved_by":"supervisor"' in approved[0]["after"]


def test_the_last_active_admin_cannot_disable_or_demote_themself(client, tokens):
    admin = auth(tokens["admin"])
    for change in ({"active": False}, {"role": "officer"}):
        r = client.patch("/api/v1/staff/admin", json=change, headers=admin)
        assert r.status_code == 409 and r.json()["reason"] == "last_admin", r.text
    assert client.get("/api/v1/auth/me", headers=admin).json()["role"] == "admin"
    # With a second admin, either may step down; the second then cannot.
    r = client.post("/api/v1/staff", json={"username": "admin2", "password": PASSWORD, "role": "admin"}, headers=admin)
    assert r.status_code == 201
    r = client.patch("/api/v1/staff/admin", json={"role": "supervisor"}, headers=admin)
    assert r.status_code == 200 and r.json()["role"] == "supervisor"
    token2 = client.post(LOGIN, json={"username": "admin2", "password": PASSWORD}).json()["token"]
    r = client.patch("/api/v1/staff/admin2", json={"active": False}, headers=auth(token2))
    assert r.status_code == 409


def test_a_revocation_or_role_change_here_clears_cached_resolutions_at_once(client, tokens):
    kiosk, supervisor = auth(tokens["kiosk"]), auth(tokens["supervisor"])
    assert client.get("/api/v1/auth/me", headers=kiosk).status_code == 200  # now cached
    assert client.get("/api/v1/kpis", headers=supervisor).status_code == 200
    assert client.delete("/api/v1/devices/kiosk-1/token", headers=auth(tokens["technician"])).status_code == 204
    assert client.get("/api/v1/auth/me", headers=kiosk).status_code == 401
    r = client.patch("/api/v1/staff/supervisor", json={"role": "officer"}, headers=auth(tokens["admin"]))
    assert r.status_code == 200
    assert client.get("/api/v1/kpis", headers=supervisor).status_code == 403


def test_without_a_token_cache_another_process_revocation_is_seen_at_once(make_node):
    from edge.errors import Unauthorized

    node = make_node(auth={"token_cache_s": 0})
    token = node.auth.add_device("kiosk-9", "kiosk")
    assert node.auth.resolve(token).subject == "kiosk-9"
    other = sqlite3.connect(node.settings.db_path)  # as the CLI would, from another process
    other.execute("UPDATE tokens SET revoked = 1")
    other.commit()
    other.close()
    with pytest.raises(Unauthorized):
        node.auth.resolve(token)


def test_an_address_window_runs_out_and_is_forgotten(make_node):
    from edge.errors import RateLimited, Unauthorized

    clock = FakeClock()
    node = make_node(clock=clock, auth={"client_failures_limit": 2})
    for name in ("a-name", "b-name"):
        with pytest.raises(Unauthorized):
            node.auth.login(name, "bad-password", client="10.1.1.1")
    with pytest.raises(RateLimited, match="address"):
        node.auth.login("c-name", "bad-password", client="10.1.1.1")
    clock.advance(minutes=node.settings.auth.client_window_minutes)
    with pytest.raises(Unauthorized):
        node.auth.login("c-name", "bad-password", client="10.1.1.2")  # another address's attempt prunes the old window
    rows = node.store.query("SELECT address, failures FROM sign_in_client_failures")
    assert rows == [{"address": "10.1.1.2", "failures": 1}]
    with pytest.raises(Unauthorized):
        node.auth.login("d-name", "bad-password", client="10.1.1.1")
