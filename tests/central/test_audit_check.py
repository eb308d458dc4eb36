"""A station cannot rewrite its history without central noticing: a real edge node sends its audit anchors through
Mosquitto, central keeps them, and `markaz central audit check` holds the station's export against them, even when
the station's own anchors (table and file) were re-signed with the station's key so its own verify passes."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from edge.audit.chain import GENESIS, anchor_message, entry_hash
from edge.node import EdgeNode
from edge.settings import EdgeSettings
from markaz.cli import app
from markaz.config import load_settings
from tests.central.test_ingest import _ingest
from tests.conftest import wait_until

run = CliRunner().invoke


def _node(tmp_path: Path, broker) -> EdgeNode:
    cert = broker.pki.client("st-1")
    return EdgeNode(
        load_settings(
            EdgeSettings,
            data_dir=tmp_path / "node",
            sample_data=True,
            station_id="st-1",
            mqtt={"url": broker.url, "ca": broker.pki.ca.cert, "cert": cert.cert, "key": cert.key},
        )
    )


def _rewrite_station(node: EdgeNode, keep: int | None = None, edit_seq: int | None = None) -> None:
    """What a station holding its own key can do: edit an entry (or cut the log after `keep`), recompute the chain
    and re-sign every anchor, in the table and in the file, so the station's own verify still passes."""
    conn = sqlite3.connect(node.settings.db_path)
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    if keep is not None:
        conn.execute("DELETE FROM audit_log WHERE seq > ?", (keep,))
    if edit_seq is not None:
        conn.execute("UPDATE audit_log SET actor = 'nobody' WHERE seq = ?", (edit_seq,))
    cols = ["seq", "ts", "actor", "actor_kind", "action", "entity", "entity_id", "before", "after"]
    prev = GENESIS
    hashes = {}
    for row in conn.execute(f"SELECT {', '.join(cols)} FROM audit_log ORDER BY seq").fetchall():
        entry = dict(zip(cols, row, strict=True))
        digest = entry_hash(prev, entry)
        conn.execute("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, digest, entry["seq"]))
        hashes[entry["seq"]] = digest
        prev = digest
    head = max(hashes)
    lines = []
    for anchor_id, ts, head_seq in conn.execute("SELECT id, ts, head_seq FROM audit_anchors ORDER BY id").fetchall():
        seq = min(head_seq, head)
        digest = hashes.get(seq, GENESIS)
        signature = base64.b64encode(node.keys.anchor_key.sign(anchor_message(seq, digest, ts, "st-1"))).decode()
        conn.execute(
            "UPDATE audit_anchors SET head_seq = ?, head_hash = ?, signature = ? WHERE id = ?",
            (seq, digest, signature, anchor_id),
        )
        record = {"station": "st-1", "ts": ts, "head_seq": seq, "head_hash": digest}
        lines.append(json.dumps({**record, "key_id": node.keys.anchor_key_id, "signature": signature}))
    conn.commit()
    conn.close()
    node.anchors_path(node.settings.data_dir).write_text("".join(line + "\n" for line in lines))


def test_central_catches_a_rewritten_or_trimmed_history(tmp_path, open_store, broker):
    ingest = _ingest(open_store(), broker)
    store = ingest.store
    node = _node(tmp_path, broker)
    db = store.db.url if hasattr(store.db, "url") else str(store.db.path)
    # central checks every anchor with the key it holds for the station: registered as provisioning would
    pem = run(app, ["edge", "audit", "key", "--data", str(tmp_path / "node")])
    assert pem.exit_code == 0 and pem.output.startswith("-----BEGIN PUBLIC KEY-----"), pem.output
    (tmp_path / "st-1.pub.pem").write_text(pem.output)
    added = run(app, ["central", "audit", "key", "add", "--station", "st-1", "--public-key",
                      str(tmp_path / "st-1.pub.pem"), "--db", db])  # fmt: skip
    assert added.exit_code == 0 and node.keys.anchor_key_id in added.output, added.output
    node.start()
    try:
        assert node.telemetry.link.commands_ready.wait(30)
        for n in range(3):
            node.auth.add_device(f"kiosk-{n}", "kiosk")
        node.audit.anchor(force=True)
        anchored = node.audit.head()[0]  # an anchor of this head, then newer entries and an anchor of those
        for n in range(3, 6):
            node.auth.add_device(f"kiosk-{n}", "kiosk")
        node.audit.anchor(force=True)
        head = node.audit.head()[0]
        assert 2 < anchored < head
        sent = lambda: {a["head_seq"] for a in store.audit_anchors("st-1")}  # noqa: E731
        assert wait_until(lambda: {anchored, head} <= sent(), timeout=60)
    finally:
        node.stop()
    ingest.stop()
    data = str(tmp_path / "node")

    config = tmp_path / "edge.toml"
    config.write_text('[edge]\nstation_id = "st-1"\n')
    data = [data, "--config", str(config)]
    export = tmp_path / "st-1.audit.jsonl"
    out = run(app, ["edge", "audit", "export", "--data", *data, str(export)])
    assert out.exit_code == 0, out.output
    check = ["central", "audit", "check", "--station", "st-1", "--export", str(export), "--db", db]
    ok = run(app, check)
    assert ok.exit_code == 0, ok.output
    assert "matches central" in ok.output

    # another station's export, or a file that is no export, is refused as such
    assert run(app, [*check[:3], "st-2", *check[4:]]).exit_code == 2
    (tmp_path / "junk").write_text("hello\n")
    assert run(app, [*check[:5], str(tmp_path / "junk"), *check[6:]]).exit_code == 2

    # the station cuts its newest entries off and re-signs its anchors with its own key: its own verify is fooled...
    _rewrite_station(node, keep=anchored)
    assert run(app, ["edge", "audit", "verify", "--data", *data]).exit_code == 0
    assert run(app, ["edge", "audit", "export", "--data", *data, str(export)]).exit_code == 0
    trimmed = run(app, check)
    assert trimmed.exit_code == 1  # ...central is not: it holds the anchor of the old head
    assert "cut off" in trimmed.output

    # the station rewrites entry 2 and re-signs again: the anchor central holds of an older head no longer matches
    _rewrite_station(node, edit_seq=2)
    assert run(app, ["edge", "audit", "verify", "--data", *data]).exit_code == 0
    assert run(app, ["edge", "audit", "export", "--data", *data, str(export)]).exit_code == 0
    rewritten = run(app, check)
    assert rewritten.exit_code == 1
    assert "rewritten" in rewritten.output
