"""The kiosk agent as a technician installs it: enrolled by claim code, then speaking mutual TLS to the edge's device
listener with its own certificate and no token; revoked, it is refused at once and closes its screen."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from kiosk.hardware.escpos_sink import EscposSink
from kiosk.hardware.videos import still_video
from markaz.cli import app
from tests.conftest import PASSWORD, free_port
from tests.kiosk.agentproc import FACES, KioskProcess, device_status
from tests.provisioning.edgeproc import EdgeServe, install_station_ca

pytestmark = pytest.mark.slow


def _cli(*args: str) -> str:
    res = CliRunner().invoke(app, list(args))
    assert res.exit_code == 0, res.output
    return res.output


def test_an_enrolled_kiosk_works_over_mtls_without_a_token_and_a_revoked_one_closes(
    tmp_path: Path, pcscd, pki_dir, pki
) -> None:
    from edge.node import EdgeNode
    from edge.settings import EdgeSettings
    from markaz.config import load_settings

    data = tmp_path / "edge"
    install_station_ca(tmp_path, data)
    node = EdgeNode(load_settings(EdgeSettings, data_dir=data, station_id="st-1", sample_data=True))
    try:
        node.auth.add_user("admin", PASSWORD, "admin")
    finally:
        node.close()
    device_port = free_port()
    edge = EdgeServe(data, args=["--device-port", str(device_port), "--sample-data"], env=EdgeServe.PRELOAD).start()
    identity = tmp_path / "kiosk-identity"
    try:
        code = _cli("provision", "claim", "--device", "kiosk-3", "--type", "kiosk", "--data", str(data))
        _cli(
            "provision", "enrol", "--edge", edge.base, "--claim", code.strip().splitlines()[-1], "--out", str(identity)
        )
        video = still_video(tmp_path / "holder.avi", [FACES / "obama_2.jpg"], 1.0, 10)
        with EscposSink() as sink:
            settings = {
                "edge": f"https://127.0.0.1:{device_port}",
                "identity": str(identity),
                "device_token_file": str(tmp_path / "no-such-token"),  # never read: the certificate is the identity
                "camera": str(video),
                "printer": sink.uri,
                "csca": str(pki_dir / "csca.pem"),
                "heartbeat_s": 0.5,
                "offline_after_failures": 2,
            }
            agent = KioskProcess(tmp_path / "agent", settings, pcscd.env).start()
            try:
                health = agent.wait_health("availability", "open")
                assert health["availability"] == "open", agent.log.read_text()[-3000:]
                deadline = time.monotonic() + 20
                while not device_status(edge, "kiosk-3").get("last_heartbeat") and time.monotonic() < deadline:
                    time.sleep(0.3)
                status = device_status(edge, "kiosk-3")
                assert status["online"] and status["printer_paper"] == "ok", status
                # without its certificate nobody gets in as this kiosk
                with pytest.raises(httpx.HTTPError):
                    httpx.get(f"https://127.0.0.1:{device_port}/api/v1/services", verify=False, timeout=5)
                _cli("provision", "revoke", "--device", "kiosk-3", "--data", str(data))
                deadline = time.monotonic() + 30
                while agent.health()["availability"] == "open" and time.monotonic() < deadline:
                    time.sleep(0.3)
                assert agent.health()["availability"] != "open", "a revoked kiosk must not keep serving visitors"
            finally:
                agent.stop()
    finally:
        edge.stop()
