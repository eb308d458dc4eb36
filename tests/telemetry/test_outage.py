"""Zero loss: broker down, 1,000 messages produced, the edge node kill -9'd in the middle and restarted, broker back
(and the node kill -9'd again while it drains): central receives every seq once (wire duplicates are recognised by
seq), in order, without a gap."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from tests.telemetry.broker import Broker, Recorder
from tests.telemetry.nodeproc import NodeProcess, register_kiosk

pytestmark = pytest.mark.slow


def _outbox(data_dir) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "markaz.cli", "edge", "outbox", "--data", str(data_dir), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)["stations"][0]


def test_outage_with_kill_9_loses_nothing(tmp_path, pki):
    broker = Broker(tmp_path / "broker", pki).start()
    recorder = Recorder(broker, ["markaz/v1/st-9/#"], client_id="central-outage", persistent=True)
    broker.stop()  # the WAN is out from here on
    data = tmp_path / "node"
    token = register_kiosk(data, "st-9")
    node = NodeProcess(data, "st-9", broker).start()
    try:
        with httpx.Client(base_url=node.base, headers={"Authorization": f"Bearer {token}"}) as http:
            for i in range(1, 1001):
                if i == 501:  # kill -9 in the middle, then the node comes back
                    node.kill()
                    node.start()
                    http.base_url = node.base
                r = http.post("/api/v1/devices/heartbeat", json={"camera_fps": float(i), "reader_present": True})
                assert r.status_code == 200, r.text
        backlog = _outbox(data)
        assert backlog["backlog"] >= 1000 and backlog["dropped_total"] == 0
        last = backlog["last_seq_given"]

        broker.start()
        # and once more while it drains: rows are deleted only on PUBACK, so the restart resends, never skips
        assert recorder.wait_for(lambda m: len(recorder.seqs("st-9")) >= 1, timeout=30)
        node.kill()
        node.start()
        assert recorder.wait_for(lambda m: set(range(1, last + 1)) <= set(recorder.seqs("st-9")), timeout=60), (
            f"missing seqs: {sorted(set(range(1, last + 1)) - set(recorder.seqs('st-9')))[:20]}"
        )
    finally:
        node.stop()
        recorder.close()
        broker.kill()

    first_seen: list[int] = []
    by_seq: dict[int, dict] = {}
    for _, body, _ in recorder.messages:
        if "seq" not in (body or {}):
            continue
        if body["seq"] in by_seq:
            assert by_seq[body["seq"]] == body, "a seq was reused for a different message"
            continue
        by_seq[body["seq"]] = body
        first_seen.append(body["seq"])
    assert first_seen == sorted(first_seen), "messages arrived out of order"
    assert sorted(s for s in by_seq if s <= last) == list(range(1, last + 1))  # later seqs: the restart's own
    fps = [
        m["data"]["camera_fps"]
        for s, m in sorted(by_seq.items())
        if m["schema"] == "markaz.telemetry.devices/1" and m["data"]["reason"] == "heartbeat"
    ]
    assert fps == [float(i) for i in range(1, 1001)], "every heartbeat once, in the order produced"
