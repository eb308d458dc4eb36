"""Device profiles: layers with provenance, refusals naming key/value/expectation, diff, apply with rollback, roll-out."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from firmware_config.apply import ApplyOutcome, ProfileStore, apply_profile
from firmware_config.health import kiosk_health
from firmware_config.layers import ProfileRejected, for_device, profile_hash
from firmware_config.rollout import plan_waves, run_rollout, run_rollout_waves
from firmware_config.schema import DeviceKind
from markaz.cli import app

run = CliRunner().invoke


def _layers(tmp_path, station: str = "", device: str = ""):
    profiles = tmp_path / "profiles"
    (profiles / "station").mkdir(parents=True)
    (profiles / "devices").mkdir()
    (profiles / "station" / "kiosk.toml").write_text(station)
    (profiles / "devices" / "kiosk-3.toml").write_text(device)
    return profiles


def test_effective_profile_says_where_each_value_came_from(tmp_path):
    profiles = _layers(tmp_path, 'idle_timeout_s = 90\nlanguages = ["ar"]\n', '[camera]\nsource = "/dev/video2"\n')
    eff = for_device(profiles, DeviceKind.kiosk, "kiosk-3")
    assert eff.data["idle_timeout_s"] == 90 and eff.sources["idle_timeout_s"] == "station"
    assert eff.data["camera"]["source"] == "/dev/video2" and eff.sources["camera.source"] == "device"
    assert eff.sources["camera.width"] == "default"
    res = run(app, ["config", "show", "--device", "kiosk-3", "--type", "kiosk", "--profiles", str(profiles)])
    assert res.exit_code == 0, res.output
    assert 'camera.source = "/dev/video2"    # device' in res.output
    assert "idle_timeout_s = 90    # station" in res.output


@pytest.mark.parametrize(
    ("layer", "key", "value", "expected"),
    [
        ("idle_timeout_s = 5\n", "idle_timeout_s", 5, "greater than or equal to 10"),
        ('[camera]\nwidth = "wide"\n', "camera.width", "wide", "valid integer"),
        ("idel_timeout_s = 60\n", "idel_timeout_s", 60, "unknown key"),
        ('[printer]\nuri = "lpt1"\n', "printer.uri", "lpt1", "match pattern"),
    ],
)
def test_a_bad_layer_is_refused_naming_key_value_and_expectation(tmp_path, layer, key, value, expected):
    profiles = _layers(tmp_path, device=layer)
    with pytest.raises(ProfileRejected) as info:
        for_device(profiles, DeviceKind.kiosk, "kiosk-3")
    assert info.value.where == "device layer"
    [problem] = info.value.problems
    assert (problem.key, problem.value) == (key, value) and expected in problem.expected
    res = run(app, ["config", "validate", str(profiles / "devices" / "kiosk-3.toml"), "--type", "kiosk"])
    assert res.exit_code == 1 and key in res.output and expected in res.output


def test_diff_between_two_versions(tmp_path):
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text("volume = 70\nspeech = true\n")
    b.write_text("volume = 40\nspeech = true\n")
    res = run(app, ["config", "diff", str(a), str(b)])
    assert res.exit_code == 0 and res.output.strip() == "volume: 70 -> 40"


@pytest.fixture
def camera_video(tmp_path):
    path = tmp_path / "camera.avi"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 480))
    for i in range(5):
        out.write(np.full((480, 640, 3), i * 40, np.uint8))
    out.release()
    return path


def _kiosk(tmp_path, camera: str, width: int = 640):
    sink = tmp_path / "receipts"
    sink.mkdir(exist_ok=True)
    eff = for_device(
        _layers(
            tmp_path / f"l{width}{len(camera)}",
            device=f'[camera]\nsource = "{camera}"\nwidth = {width}\n[printer]\nuri = "file://{sink}"\n',
        ),
        DeviceKind.kiosk,
        "kiosk-3",
    )
    return eff


def test_a_profile_that_breaks_the_camera_is_rolled_back_with_the_reason(tmp_path, camera_video):
    store = ProfileStore(tmp_path / "device")
    health = kiosk_health(("camera", "printer"))
    good = _kiosk(tmp_path, str(camera_video))
    first = apply_profile(store, DeviceKind.kiosk, good.data, good.version, good.hash, health)
    assert first.outcome is ApplyOutcome.applied and store.version() == good.version
    broken = _kiosk(tmp_path, str(tmp_path / "no-such-camera.avi"))
    second = apply_profile(store, DeviceKind.kiosk, broken.data, broken.version, broken.hash, health)
    assert second.outcome is ApplyOutcome.rolled_back and second.reasons == ["health check failed: camera"]
    assert store.version() == good.version == second.version
    wrong_res = _kiosk(tmp_path, str(camera_video), width=1280)  # the camera does not deliver 1280 wide
    assert (
        apply_profile(store, DeviceKind.kiosk, wrong_res.data, wrong_res.version, wrong_res.hash, health).outcome
        is ApplyOutcome.rolled_back
    )


def test_a_profile_with_a_wrong_hash_or_schema_is_refused_before_anything_changes(tmp_path, camera_video):
    store = ProfileStore(tmp_path / "device")
    good = _kiosk(tmp_path, str(camera_video))
    res = apply_profile(store, DeviceKind.kiosk, good.data, good.version, "0" * 64, kiosk_health(("camera",)))
    assert res.outcome is ApplyOutcome.refused and store.version() is None
    bad = {**good.data, "idle_timeout_s": 1}
    res = apply_profile(store, DeviceKind.kiosk, bad, "v-bad", profile_hash(bad), kiosk_health(("camera",)))
    assert res.outcome is ApplyOutcome.refused and "idle_timeout_s = 1" in res.reasons[0]
    assert not (tmp_path / "device" / "active.json").exists()


def test_staged_rollout_stops_by_itself_at_its_failure_bound():
    targets = [f"st-{i:03d}" for i in range(500)]
    broken = {"st-060", "st-061", "st-062", "st-300"}
    report = run_rollout(targets, lambda t: (t not in broken, "camera"), failure_bound=3, first=0.1, wave_size=100)
    assert report.stopped and sorted(report.failed) == ["st-060", "st-061", "st-062"]
    assert len(report.applied) == 60 and "st-300" in report.not_attempted
    assert len(report.applied) + len(report.failed) + len(report.not_attempted) == 500
    fine = run_rollout(targets, lambda t: (True, ""), failure_bound=3, first=["st-007"], wave_size=100)
    assert not fine.stopped and len(fine.applied) == 500 and fine.applied[0] == "st-007"
    assert plan_waves(targets[:10], 0.2, 4) == [targets[:2], targets[2:6], targets[6:10]]
    with pytest.raises(ValueError):
        plan_waves(targets, ["st-999"], 10)
    assert json.dumps(report.failed)


def test_a_concurrent_rollout_finishes_its_wave_and_starts_no_other_past_the_bound():
    targets = [f"st-{i:03d}" for i in range(500)]
    broken = {"st-060", "st-061", "st-062", "st-300"}
    started: list[list[str]] = []
    report = run_rollout_waves(
        targets,
        started.append,
        lambda wave: {t: (t not in broken, "camera") for t in wave},
        failure_bound=3,
        first=0.1,
        wave_size=100,
    )
    assert report.stopped and sorted(report.failed) == ["st-060", "st-061", "st-062"]
    assert [len(w) for w in started] == [50, 100]  # the first wave (10 %), then the wave where the bound was reached
    assert len(report.applied) == 147 and "st-300" in report.not_attempted
    assert len(report.applied) + len(report.failed) + len(report.not_attempted) == 500
    fine = run_rollout_waves(targets, lambda w: None, lambda w: {t: (True, "") for t in w}, 3, ["st-007"], 100)
    assert not fine.stopped and len(fine.applied) == 500 and fine.waves == 6
