"""Central staff: accounts made with the CLI, Argon2id hashes, lock-out after repeated failures (also in parallel),
sessions kept only as hashes, and every sign-in written to central's hash-chained audit log."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from central.staff import audit
from central.staff.roles import CentralRole, Permission, allowed, parse_role
from central.staff.service import SignInRefused, StaffPolicy, StaffService, token_hash
from central.web import create_app
from markaz.cli import app as cli


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_cli_adds_users_with_hashed_passwords(central_db, open_store):
    run = CliRunner().invoke
    ok = run(cli, ["central", "user", "add", "amal", "--role", "operator", "--db", central_db, "--password-stdin"],
             input="a-long-password\n")  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "added amal (central_operator)" in ok.output
    again = run(cli, ["central", "user", "add", "amal", "--role", "viewer", "--db", central_db, "--password-stdin"],
                input="a-long-password\n")  # fmt: skip
    assert again.exit_code == 2 and "already exists" in again.output
    short = run(cli, ["central", "user", "add", "b", "--role", "viewer", "--db", central_db, "--password-stdin"],
                input="short\n")  # fmt: skip
    assert short.exit_code == 2 and "too short" in short.output
    role = run(cli, ["central", "user", "add", "c", "--role", "boss", "--db", central_db, "--password-stdin"],
               input="a-long-password\n")  # fmt: skip
    assert role.exit_code == 2 and "unknown role" in role.output
    listed = run(cli, ["central", "user", "list", "--db", central_db])
    assert listed.output.splitlines() == ["amal\tcentral_operator\tactive"]
    store = open_store()
    (row,) = store.query("SELECT password_hash FROM staff")
    assert row["password_hash"].startswith("$argon2id$") and "a-long-password" not in row["password_hash"]
    token, who, _ = StaffService(store.db).sign_in("amal", "a-long-password")
    assert who.role is CentralRole.OPERATOR
    assert store.query("SELECT token_hash FROM staff_sessions")[0]["token_hash"] == token_hash(token) != token


def test_roles_grant_only_their_permissions():
    assert parse_role("viewer") is CentralRole.VIEWER and parse_role("central_admin") is CentralRole.ADMIN
    assert allowed("central_viewer", Permission.VIEW) and not allowed("central_viewer", Permission.COMMAND)
    assert allowed("central_operator", Permission.COMMAND) and not allowed("central_operator", Permission.MANAGE_STAFF)
    assert allowed("central_admin", Permission.MANAGE_STAFF)
    assert not allowed("admin", Permission.VIEW)  # an edge role is no central role


def test_lock_out_after_repeated_failures_then_the_lock_runs_out(open_store):
    store, clock = open_store(), Clock()
    staff = StaffService(store.db, StaffPolicy(lock_after_failures=3, lock_minutes=10), clock=clock)
    staff.add_user("omar", "right-password", "viewer")
    for _ in range(2):
        with pytest.raises(SignInRefused) as wrong:
            staff.sign_in("omar", "wrong-password")
        assert wrong.value.retry_after_s is None
    with pytest.raises(SignInRefused) as third:
        staff.sign_in("omar", "wrong-password")
    assert third.value.retry_after_s == 600  # the third failure locks
    with pytest.raises(SignInRefused) as locked:
        staff.sign_in("omar", "right-password")  # even the right password, while locked
    assert locked.value.retry_after_s is not None and "locked" in str(locked.value)
    clock.now += timedelta(minutes=10, seconds=1)
    token, who, _ = staff.sign_in("omar", "right-password")
    assert who.username == "omar" and staff.resolve(token) == who
    # the success started a fresh count: two failures do not lock again
    for _ in range(2):
        with pytest.raises(SignInRefused):
            staff.sign_in("omar", "wrong-password")
    assert staff.sign_in("omar", "right-password")[1] == who
    # unknown names are refused the same way and lock nothing (no row is made for them)
    with pytest.raises(SignInRefused, match="wrong user name or password"):
        staff.sign_in("nobody", "whatever-password")
    assert [u["username"] for u in staff.users()] == ["omar"]
    actions = [(e["action"], e["actor"]) for e in store.query("SELECT * FROM central_audit ORDER BY seq")]
    assert actions[:5] == [("staff.create", "cli"), ("auth.login_failed", "omar"), ("auth.login_failed", "omar"),
                           ("auth.login_failed", "omar"), ("auth.login_refused", "omar")]  # fmt: skip
    assert ("auth.login", "omar") in actions and ("auth.login_failed", "(unknown name)") in actions
    assert audit.verify(store.query("SELECT * FROM central_audit ORDER BY seq")) == []


def test_parallel_guesses_cannot_slip_past_the_lock(open_store):
    store = open_store()
    staff = StaffService(store.db, StaffPolicy(lock_after_failures=3, max_concurrent_hashes=4))
    staff.add_user("huda", "right-password", "viewer")

    def guess(i: int) -> float | None:
        try:
            staff.sign_in("huda", f"guess-{i}")
        except SignInRefused as exc:
            return exc.retry_after_s
        return -1.0

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(guess, range(12)))
    assert -1.0 not in results
    # exactly three attempts had their password checked (the third locked); all later ones met the lock
    assert sum(1 for r in results if r is None) == 2 and sum(1 for r in results if r) == 10
    failed = store.query("SELECT count(*) AS n FROM central_audit WHERE action = 'auth.login_failed'")[0]["n"]
    assert failed == 3


def test_edited_audit_entries_are_found(open_store):
    store = open_store()
    staff = StaffService(store.db)
    staff.add_user("zaid", "right-password", "admin")
    staff.sign_in("zaid", "right-password")
    with store.db.transaction() as tx:
        tx.execute("UPDATE central_audit SET actor = 'someone-else' WHERE seq = 2")
    assert audit.verify(store.query("SELECT * FROM central_audit ORDER BY seq")) == [2]


def test_sign_in_page_locks_out_and_says_so(open_store):
    store = open_store()
    app = create_app(store, policy=StaffPolicy(lock_after_failures=2))
    StaffService(store.db).add_user("sara", "right-password", "viewer")
    client = TestClient(app)

    def attempt(password: str):
        return client.post("/signin", data={"username": "sara", "password": password, "lang": "en"},
                           follow_redirects=False)  # fmt: skip

    first = attempt("wrong-password")
    assert first.status_code == 401 and "Wrong user name or password." in first.text
    second = attempt("wrong-password")
    assert second.status_code == 401 and "locked after repeated failed sign-ins" in second.text
    third = attempt("right-password")
    assert third.status_code == 401 and "locked" in third.text and "markaz_central" not in client.cookies
    arabic = client.post("/signin", data={"username": "sara", "password": "x"}, follow_redirects=False)
    assert "هذا الحساب مقفل" in arabic.text
