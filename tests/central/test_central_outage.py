"""Central's own outage, with a real edge node, a real Mosquitto and central's ingest as a real process killed with
SIGKILL and started again: the station never appears offline, nothing it sent is lost, it holds its outbox while
central is down (central's Last Will on `markaz/v1/_central/status/{worker}`), and when central comes back with a
new `since` it announces its birth and a full snapshot again without being asked."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from central.alarms import AlarmEvaluator, AlarmSettings, list_alarms
from central.store import CentralStore
from edge.auth.principal import SYSTEM
from edge.node import EdgeNode
from edge.settings import EdgeSettings
from markaz.config import load_settings
from markaz.contracts import mqtt as contract
from tests.conftest import wait_until
from tests.telemetry.broker import Recorder


def _central(broker, db: str) -> subprocess.Popen:
    cert = broker.pki.client("central.markaz")
    argv = [sys.executable, "-m", "markaz.cli", "central", "ingest", "--mqtt", broker.url, "--db", db]
    argv += ["--mqtt-ca", str(broker.pki.ca.cert), "--mqtt-cert", str(cert.cert), "--mqtt-key", str(cert.key)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _count(store: CentralStore, schema: str) -> int:
    return store.query("SELECT count(*) AS n FROM messages WHERE schema = ?", (schema,))[0]["n"]


def test_central_restarted_stations_stay_online_hold_their_outbox_and_reannounce(tmp_path, broker, central_db):
    central = _central(broker, central_db)
    store = CentralStore(central_db)  # the test reads central's store beside the ingest process
    cert = broker.pki.client("st-1")
    node = EdgeNode(
        load_settings(
            EdgeSettings,
            data_dir=tmp_path / "node",
            sample_data=True,
            station_id="st-1",
            mqtt={"url": broker.url, "ca": broker.pki.ca.cert, "cert": cert.cert, "key": cert.key},
        )
    )
    watcher = Recorder(broker, [contract.CENTRAL_STATUS_FILTER, "markaz/v1/st-1/status"])
    try:
        # central's session must exist before the station's first message (its very first start: nothing to resume)
        assert wait_until(lambda: any(w["connected_at"] for w in store.ingest_workers()))
        node.start()
        link = node.telemetry.link
        assert wait_until(lambda: link.central == "online"), "the station never heard central's birth"
        code = node.queue.services()[0].code
        node.queue.issue(code, SYSTEM)
        assert wait_until(lambda: bool(store.stations()) and store.stations()[0]["state"] == "online")
        assert wait_until(lambda: node.telemetry.outbox.health().backlog == 0)
        (before,) = store.stations()
        nodes_before = _count(store, "markaz.telemetry.node/1")

        central.send_signal(signal.SIGKILL)  # central crashes: the broker publishes its Will
        central.wait(10)
        assert wait_until(lambda: link.central == "offline"), "the station did not hear central's Will"
        for _ in range(3):
            node.queue.issue(code, SYSTEM)
        node.telemetry.publish_snapshot(["verification"], "periodic")
        # the station holds its outbox while central is down (nothing piles up in the broker for central)
        assert wait_until(lambda: node.telemetry.outbox.health().backlog >= 2)
        held = node.telemetry.outbox.health().backlog
        time.sleep(0.5)  # a window in which a link that did not hold would have drained it
        assert node.telemetry.outbox.health().backlog >= held

        central = _central(broker, central_db)  # central comes back: a new life, a new `since`
        assert wait_until(lambda: node.telemetry.outbox.health().backlog == 0), "the outbox was not drained"
        # ...and, unasked, the station re-announced its birth and sent every snapshot again (node health only goes
        # out every minute otherwise)
        assert wait_until(lambda: _count(store, "markaz.telemetry.node/1") > nodes_before)
        births = [m for m in watcher.messages if m[0] == "markaz/v1/st-1/status" and m[1]["state"] == "online"]
        assert len(births) >= 2
        assert all(m[1]["since"] == births[0][1]["since"] for m in births)  # the same connection, announced again
        centrals = [m[1] for m in watcher.messages if m[0].startswith("markaz/v1/_central/status/")]
        assert [c["state"] for c in centrals][-3:] == ["online", "offline", "online"]
        assert centrals[-1]["since"] != centrals[-2]["since"]

        (after,) = store.stations()
        assert after["state"] == "online" and after["state_changed_at"] == before["state_changed_at"]
        assert store.gaps("st-1") == [] and after["max_seq"] > before["max_seq"]
        seqs = [r["seq"] for r in store.query("SELECT seq FROM messages WHERE station = 'st-1' ORDER BY seq")]
        assert seqs == list(range(1, seqs[-1] + 1)), "a message the station sent was lost"
        run = AlarmEvaluator(store, AlarmSettings(settle_s=0)).run()
        assert run.connectivity_judged and [a for a in list_alarms(store) if a.rule == "station_offline"] == []
    finally:
        watcher.close()
        if node.started:
            node.stop()
        central.send_signal(signal.SIGTERM)
        central.wait(15)
        store.close()


def test_the_central_status_topic_is_in_the_contract_and_outside_every_station_id():
    channel = contract.BY_KEY["central.status"]
    assert channel.topic(worker="central-ingest-1") == "markaz/v1/_central/status/central-ingest-1"
    assert contract.parse_topic("markaz/v1/_central/status/w1").key == "central.status"
    assert contract.parse_topic("markaz/v1/_central/telemetry/queue") is None
    info, status = contract.validate(
        "markaz/v1/_central/status/w1", json.dumps({"state": "offline", "since": "2026-03-01T08:00:00+00:00"})
    )
    assert status.state == "offline" and info.params == {"worker": "w1"}
    from markaz.contracts.ids import InvalidId, check_station_id

    try:
        check_station_id(contract.CENTRAL)
    except InvalidId:
        pass
    else:
        raise AssertionError("a station could be called _central")
