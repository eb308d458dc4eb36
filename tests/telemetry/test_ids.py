"""One definition of a device and station id, used wherever an id enters; periodic work backs off when it fails."""

from __future__ import annotations

import itertools
import random

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from typer.testing import CliRunner

from edge.api.app import create_app
from edge.errors import Invalid
from edge.node import EdgeNode
from edge.settings import EdgeSettings
from edge.telemetry.service import TelemetryService
from markaz.cli import app
from markaz.config import ConfigError, load_settings
from markaz.contracts import mqtt as contract
from markaz.contracts.ids import InvalidId, check_device_id, check_station_id
from markaz.periodic import Periodic

BAD_DEVICE_IDS = ["-", ".", "_k", "", "kiosk/1", "kiosk+", "k#", "kiosk 1", "k" * 65, "كشك"]
GOOD_DEVICE_IDS = ["kiosk-1", "K1", "counter_3", "display.hall", "kiosk:2", "k" * 64]


def _node(tmp_path) -> EdgeNode:
    return EdgeNode(load_settings(EdgeSettings, data_dir=tmp_path, station_id="st-1"))


def test_a_bad_device_id_is_refused_by_the_api_the_cli_the_service_and_the_contract(tmp_path):
    node = _node(tmp_path / "node")
    node.auth.add_user("boss", "a long enough password", "admin")
    token, _, _ = node.auth.login("boss", "a long enough password")
    with TestClient(create_app(node)) as http:
        for device_id in BAD_DEVICE_IDS:
            with pytest.raises(InvalidId):
                check_device_id(device_id)
            with pytest.raises(ValidationError):
                contract.DeviceFault(device=device_id, fault="camera_down", state="raised")
            with pytest.raises(Invalid):
                node.auth.add_device(device_id, "kiosk")
            r = http.post(
                "/api/v1/devices", headers={"Authorization": f"Bearer {token}"}, json={"id": device_id, "type": "kiosk"}
            )
            assert r.status_code == 422, (device_id, r.text)
        assert node.auth.list_devices() == []
    for device_id in BAD_DEVICE_IDS:
        result = CliRunner().invoke(app, ["edge", "device", "add", "--data", str(tmp_path / "cli"), "--", device_id])
        assert result.exit_code != 0 and "device id" in result.output, (device_id, result.output)


@pytest.mark.parametrize("device_id", GOOD_DEVICE_IDS)
def test_every_id_the_station_accepts_the_contract_can_carry(tmp_path, device_id):
    node = _node(tmp_path)
    try:
        node.auth.add_device(device_id, "kiosk")
        assert contract.BY_KEY["telemetry.devices"].topic("st-1", device=device_id).endswith(f"/devices/{device_id}")
        contract.DeviceFault(device=device_id, fault="camera_down", state="raised")
    finally:
        node.close()


def test_station_id_has_one_definition():
    for bad in ("-", "St-1", "st/1", "st 1", ""):
        with pytest.raises(InvalidId):
            check_station_id(bad)
        with pytest.raises(ConfigError):
            load_settings(EdgeSettings, station_id=bad)
        assert CliRunner().invoke(app, ["provision", "station-cert", "--station", bad]).exit_code == 2
    assert check_station_id("riyadh-olaya_2") == "riyadh-olaya_2"


def _drive(steps: Periodic, clock: list[float], until: float) -> int:
    """Run the steps as the service loop does, on a simulated clock; returns the loop's iterations."""
    iterations = 0
    while clock[0] < until and iterations < 100_000:
        clock[0] += max(steps.run_due(), 1e-3)  # a loop told to wait 0 would spin: it still moves only 1 ms
        iterations += 1
    return iterations


def test_a_failing_sampler_step_backs_off_instead_of_spinning(tmp_path):
    """A real sampler fails on every try (its table is gone); over ten simulated minutes it is tried a few dozen
    times, not hundreds of thousands, and the other steps keep their cadence."""
    node = EdgeNode(
        load_settings(
            EdgeSettings,
            data_dir=tmp_path,
            sample_data=True,
            station_id="st-1",
            mqtt={"health_interval_s": 60, "snapshot_interval_s": 30},
        )
    )
    clock = [0.0]
    # the node's own telemetry, on a simulated monotonic clock (not started: the test drives its loop)
    service = TelemetryService(
        node.store, node.settings.mqtt, "st-1", node.telemetry.sources, monotonic=lambda: clock[0]
    )
    service.steps.rng = random.Random(3)
    with node.store.write() as db:
        db.execute("DROP TABLE device_status")  # the device sampler's query now fails every time
    try:
        iterations = _drive(service.steps, clock, until=600.0)
        attempts = {name: step.attempts for name, step in service.steps.steps.items()}
        assert iterations < 1_000, f"the loop spun: {iterations} iterations, {attempts}"
        assert 5 <= attempts["telemetry.devices"] <= 30
        assert service.steps.steps["telemetry.devices"].failures == attempts["telemetry.devices"]
        assert attempts["telemetry.node"] == attempts["telemetry.verification"] == 10  # 0, 60, ..., 540
        assert attempts["telemetry.queue"] == 20
    finally:
        node.store.close()


def test_backoff_grows_and_is_capped_by_the_steps_interval():
    clock = [0.0]
    steps = Periodic(monotonic=lambda: clock[0], rng=random.Random(1))
    tries: list[float] = []

    def broken(reason: str) -> None:
        tries.append(clock[0])
        raise RuntimeError("broken")

    steps.every("broken", 30.0, broken)
    _drive(steps, clock, until=300.0)
    gaps = [b - a for a, b in itertools.pairwise(tries)]
    assert all(0.25 <= g <= 30.0 + 1e-3 for g in gaps)
    assert gaps[:5] == sorted(gaps[:5])  # doubling at first
    assert max(gaps) > 15  # then near the interval
    # a poke (a queue change) does not cut a failure's backoff short
    steps.poke("broken", "change")
    assert steps.run_due() > 0
