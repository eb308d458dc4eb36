"""Every file the node writes in its data folder (and every backup) is owner-only, even under umask 022, and the
database keeps what it acknowledged through a power cut (synchronous=FULL)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from edge.auth.principal import SYSTEM
from edge.store import Store
from tests.conftest import PASSWORD, run_markaz


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _modes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): stat.S_IMODE(p.stat().st_mode) for p in [folder, *folder.rglob("*")]}


def test_every_data_file_is_created_owner_only_under_umask_022(make_node, tmp_path, umask_022):
    node = make_node(data_dir=tmp_path / "fresh")
    node.start()
    try:
        node.auth.add_user("clerk", PASSWORD, "officer")
        node.audit.append(SYSTEM, "test", "test")
        node.audit.anchor()
        node.store.backup(tmp_path / "backups" / "edge-copy.sqlite")
        modes = _modes(node.settings.data_dir)
        for name in (
            "edge.sqlite",
            "edge.sqlite-wal",
            "edge.sqlite-shm",
            "audit-anchors.jsonl",
            "keys/audit-anchor.pem",
            "keys/audit-anchor.pub.pem",
            "keys/document-hmac.key",
            "keys/report-pin-hmac.key",
        ):
            assert name in modes, f"{name} was not written"
        wrong = {
            name: oct(mode)
            for name, mode in modes.items()
            if mode != (0o700 if (node.settings.data_dir / name).is_dir() else 0o600)
        }
        assert wrong == {}, "every file 0600 and every folder 0700"
        assert _modes(tmp_path / "backups") == {".": 0o700, "edge-copy.sqlite": 0o600}
    finally:
        node.stop()


def test_the_backup_command_writes_an_owner_only_copy_under_umask_022(node, tmp_path, umask_022):
    out = tmp_path / "elsewhere" / "copy.sqlite"
    r = run_markaz("edge", "backup", "--data", str(node.settings.data_dir), str(out))
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert not out.with_name("copy.sqlite.partial").exists()


def test_files_left_readable_by_an_older_version_are_tightened(tmp_path, umask_022):
    db = tmp_path / "d" / "edge.sqlite"
    Store(db).close()
    for path in (db, db.with_name("edge.sqlite-wal")):
        path.touch()
        os.chmod(path, 0o644)
    store = Store(db)
    try:
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
        assert stat.S_IMODE(db.with_name("edge.sqlite-wal").stat().st_mode) == 0o600
    finally:
        store.close()


def test_acknowledged_means_on_disk_synchronous_full(node):
    """WAL with synchronous=NORMAL survives kill -9 but a power cut can drop committed transactions; FULL cannot."""
    full = 2
    assert node.store.query_one("PRAGMA synchronous")["synchronous"] == full
    assert node.store._writer.execute("PRAGMA synchronous").fetchone()[0] == full
    assert node.settings.synchronous == "FULL"
