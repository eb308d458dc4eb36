"""The MQTT link as a process of its own: supervised by the node (restarted when it dies, stopped with the node,
gone with a killed node), and runnable alone as `markaz edge link` beside a node that leaves it to another service."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import psutil
import pytest

from edge.node import EdgeNode
from edge.settings import EdgeSettings
from markaz.clock import utcnow
from markaz.config import load_settings
from tests.conftest import wait_until
from tests.telemetry.broker import Recorder, tls_client
from tests.telemetry.nodeproc import NodeProcess


def _settings(tmp_path, broker, station="st-1", **mqtt):
    cert = broker.pki.client(station)
    return load_settings(
        EdgeSettings,
        data_dir=tmp_path / f"node-{station}",
        sample_data=True,
        station_id=station,
        mqtt={
            "url": broker.url,
            "ca": broker.pki.ca.cert,
            "cert": cert.cert,
            "key": cert.key,
            "backoff_base_s": 0.1,
            "backoff_max_s": 0.5,
            **mqtt,
        },
    )


def _command(broker, station, name, body) -> None:
    central = tls_client(broker.pki, "central.markaz")
    central.connect("127.0.0.1", broker.port)
    central.loop_start()
    central.publish(f"markaz/v1/{station}/cmd/{name}", json.dumps(body), qos=1).wait_for_publish(5)
    central.disconnect()
    central.loop_stop()


def test_the_link_is_a_supervised_child_restarted_when_it_dies_and_stopped_with_the_node(tmp_path, broker):
    recorder = Recorder(broker, ["markaz/v1/st-1/#"])
    node = EdgeNode(_settings(tmp_path, broker))
    node.start()
    link = node.telemetry.link
    try:
        assert link.commands_ready.wait(20)
        first = link.pid
        assert first is not None and first != os.getpid()
        assert psutil.Process(first).ppid() == os.getpid()
        os.kill(first, signal.SIGKILL)  # the link dies; the node serves on and starts another
        assert wait_until(lambda: link.restarts == 1 and link.pid != first and link.commands_ready.is_set())
        node.auth.add_device("kiosk-1", "kiosk")
        node.telemetry.record_heartbeat("kiosk-1", {"camera_fps": 12.5})
        assert recorder.wait_for(
            lambda m: any(t.endswith("/telemetry/devices/kiosk-1") and b["data"]["camera_fps"] == 12.5 for t, b, _ in m)
        )
        node.auth.add_device("kiosk-2", "kiosk")
        _command(
            broker,
            "st-1",
            "kiosk.disable",
            {"id": "after-restart", "ts": utcnow().isoformat(), "params": {"device": "kiosk-2"}},
        )
        assert recorder.wait_for(lambda m: any(t.endswith("/cmd/kiosk.disable/ack") for t, _, _ in m))
        assert not next(d for d in node.auth.list_devices() if d["id"] == "kiosk-2")["enabled"]
        second = link.proc
    finally:
        node.stop()
    assert second.poll() is not None, "the link outlived the node"
    assert recorder.wait_for(lambda m: [b for t, b, _ in m if t.endswith("/status")][-1]["state"] == "offline")
    recorder.close()


@pytest.mark.slow
def test_a_killed_node_takes_its_link_with_it(tmp_path, broker):
    recorder = Recorder(broker, ["markaz/v1/st-6/status"])
    (tmp_path / "node").mkdir()
    node = NodeProcess(tmp_path / "node", "st-6", broker).start()
    try:
        assert recorder.wait_for(lambda m: any(b["state"] == "online" for _, b, _ in m))
        children = psutil.Process(node.proc.pid).children()
        assert [c.cmdline()[2:4] for c in children] == [["edge.telemetry.link_process", "--supervised"]]
        node.kill()
        _, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, "an orphaned link would keep the station online"
        assert recorder.wait_for(lambda m: m[-1][1]["state"] == "offline")
    finally:
        node.kill()
        recorder.close()


def test_markaz_edge_link_runs_alone_beside_a_node(tmp_path, broker):
    """The systemd layout: the node leaves the link to another service, which shares its database."""
    recorder = Recorder(broker, ["markaz/v1/st-2/#"])
    settings = _settings(tmp_path, broker, station="st-2", link="external")
    node = EdgeNode(settings)
    node.start()
    assert node.telemetry.link is None
    node.auth.add_device("kiosk-1", "kiosk")
    cert = broker.pki.client("st-2")
    env = dict(os.environ, MARKAZ_MQTT__BACKOFF_BASE_S="0.1", MARKAZ_MQTT__BACKOFF_MAX_S="0.5")
    link = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "markaz.cli",
            "edge",
            "link",
            "--data",
            str(settings.data_dir),
            "--station",
            "st-2",
            "--mqtt",
            broker.url,
            "--mqtt-ca",
            str(broker.pki.ca.cert),
            "--mqtt-cert",
            str(cert.cert),
            "--mqtt-key",
            str(cert.key),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        assert recorder.wait_for(lambda m: any(t.endswith("/status") and b["state"] == "online" for t, b, _ in m))
        assert recorder.wait_for(lambda m: any(t.endswith("/telemetry/node") for t, _, _ in m))
        _command(
            broker,
            "st-2",
            "kiosk.disable",
            {"id": "alone-1", "ts": utcnow().isoformat(), "params": {"device": "kiosk-1"}},
        )
        assert recorder.wait_for(
            lambda m: any(t.endswith("/cmd/kiosk.disable/ack") and b["data"]["ok"] for t, b, _ in m)
        )
        assert not node.auth.list_devices()[0]["enabled"]
        _command(broker, "st-2", "node.rebirth", {"id": "alone-2", "ts": utcnow().isoformat(), "params": {}})
        assert recorder.wait_for(
            lambda m: sum(1 for t, b, _ in m if t.endswith("/status") and b["state"] == "online") >= 2
        ), "the link served the birth request"
        link.send_signal(signal.SIGTERM)
        assert link.wait(15) == 0, link.stdout.read().decode()
    finally:
        if link.poll() is None:
            link.kill()
        node.stop()
    statuses = [b for t, b, _ in recorder.messages if t.endswith("/status")]
    assert statuses[-1]["state"] == "offline" and statuses[-1]["since"] == statuses[-2]["since"]
    recorder.close()


def test_markaz_edge_link_refuses_a_folder_without_a_node(tmp_path, broker):
    cert = broker.pki.client("st-3")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "markaz.cli",
            "edge",
            "link",
            "--data",
            str(tmp_path / "nothing"),
            "--station",
            "st-3",
            "--mqtt",
            broker.url,
            "--mqtt-ca",
            str(broker.pki.ca.cert),
            "--mqtt-cert",
            str(cert.cert),
            "--mqtt-key",
            str(cert.key),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "start the node first" in result.stderr


def test_the_link_can_still_run_as_a_thread_of_the_node(tmp_path, broker):
    recorder = Recorder(broker, ["markaz/v1/st-4/#"])
    node = EdgeNode(_settings(tmp_path, broker, station="st-4", link="thread"))
    node.start()
    try:
        assert node.telemetry.link.commands_ready.wait(30)
        assert node.telemetry.link.__class__.__name__ == "MqttLink"
        node.auth.add_device("kiosk-1", "kiosk")
        _command(
            broker, "st-4", "kiosk.disable", {"id": "t-1", "ts": utcnow().isoformat(), "params": {"device": "kiosk-1"}}
        )
        assert recorder.wait_for(
            lambda m: any(t.endswith("/cmd/kiosk.disable/ack") and b["data"]["ok"] for t, b, _ in m)
        )
        _command(broker, "st-4", "node.rebirth", {"id": "t-2", "ts": utcnow().isoformat(), "params": {}})
        assert recorder.wait_for(
            lambda m: sum(1 for t, b, _ in m if t.endswith("/status") and b["state"] == "online") >= 2
        )
    finally:
        node.stop()
        recorder.close()


def test_a_link_run_alone_takes_a_frozen_node_offline_and_back(tmp_path, broker):
    """systemd layout, the node frozen (SIGSTOP): its beats in the database go stale, the link drops its connection
    so the broker's Will says offline; once the node runs again (SIGCONT), the station is online again."""
    recorder = Recorder(broker, ["markaz/v1/st-7/status"])
    node = NodeProcess(tmp_path / "node", "st-7", broker, keepalive=2)
    node.env["MARKAZ_MQTT__LINK"] = "external"
    node.start()
    cert = broker.pki.client("st-7")
    link = subprocess.Popen(
        [
            *(sys.executable, "-m", "markaz.cli", "edge", "link", "--data", str(node.data), "--station", "st-7"),
            *("--mqtt", broker.url, "--mqtt-ca", str(broker.pki.ca.cert), "--mqtt-keepalive", "2"),
            *("--mqtt-cert", str(cert.cert), "--mqtt-key", str(cert.key)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(os.environ, MARKAZ_MQTT__BACKOFF_BASE_S="0.1", MARKAZ_MQTT__BACKOFF_MAX_S="0.5"),
    )

    def states() -> list[str]:
        return [b["state"] for _, b, _ in recorder.messages]

    try:
        assert recorder.wait_for(lambda m: states()[-1:] == ["online"]), "the link announced the station"
        children = [" ".join(c.cmdline()) for c in psutil.Process(node.proc.pid).children()]
        assert not [c for c in children if "link_process" in c], "the node started no link of its own"
        node.signal(signal.SIGSTOP)
        assert recorder.wait_for(lambda m: states()[-1:] == ["offline"], timeout=30), "a frozen node is offline"
        assert link.poll() is None, "the link waits for the node; it does not exit"
        node.signal(signal.SIGCONT)
        assert recorder.wait_for(lambda m: states()[-1:] == ["online"], timeout=30), "back online once it beats"
    finally:
        node.signal(signal.SIGCONT)
        if link.poll() is None:
            link.send_signal(signal.SIGTERM)
            link.wait(15)
        node.stop()
        recorder.close()
