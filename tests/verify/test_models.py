"""The model manifest: every shipped file matches its sha256; a missing or altered file is refused with a clear message."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from models.cli import app
from models.registry import MODELS_DIR, ModelError, check, load_manifest, session


def test_every_shipped_model_matches_the_manifest():
    entries = load_manifest()
    assert set(entries) >= {"yunet", "dlib_resnet", "minifasnet_v2", "minifasnet_v1se"}
    for entry in entries.values():
        assert check(entry) == MODELS_DIR / entry.file
        assert entry.licence and entry.source and entry.input and entry.output


def test_altered_model_is_refused(tmp_path):
    for f in MODELS_DIR.glob("*.onnx"):
        shutil.copy(f, tmp_path / f.name)
    target = tmp_path / "yunet_s_dynamic.onnx"
    data = bytearray(target.read_bytes())
    data[1000] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256"):
        session("yunet", root=tmp_path)
    target.unlink()
    with pytest.raises(ModelError, match="missing"):
        session("yunet", root=tmp_path)
    # an intact neighbour still loads, with the thread settings asked for
    sess = session("minifasnet_v2", intra_threads=1, root=tmp_path)
    assert sess.get_inputs()[0].shape == [1, 3, 80, 80]


def test_models_cli_list_and_verify():
    runner = CliRunner()
    listed = runner.invoke(app, ["list"])
    assert listed.exit_code == 0 and "dlib_resnet" in listed.output
    verified = runner.invoke(app, ["verify"])
    assert verified.exit_code == 0, verified.output
    assert verified.output.count("ok") == len(load_manifest())


def test_manifest_params_are_what_the_pipeline_uses_and_thresholds_live_in_settings(verifier):
    """One source of truth: the manifest holds what the models require (read by the pipeline), the settings every
    decision threshold; no threshold sits unread in the manifest."""
    entries = load_manifest()
    assert [scale for _, scale in verifier.liveness.models] == [
        entries["minifasnet_v2"].params["crop_scale"],
        entries["minifasnet_v1se"].params["crop_scale"],
    ]
    assert (
        verifier.detector.nms_threshold
        == verifier.live_detector.nms_threshold
        == entries["yunet"].params["nms_threshold"]
    )
    assert verifier.detector.score_threshold == verifier.settings.detector_score
    assert verifier.model_versions == {
        n: entries[n].version for n in ("yunet", "dlib_resnet", "minifasnet_v2", "minifasnet_v1se")
    }
    for entry in entries.values():
        assert not [key for key in entry.params if key.endswith("threshold") and key != "nms_threshold"], entry.name
