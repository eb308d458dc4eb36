"""The station profile's `verify` table moves the node's real decisions on real photos, live, on the node's own scale;
a profile on another scale (dlib's 0.6) is refused before anything changes, and without a profile the settings rule."""

from __future__ import annotations

import json

import pytest

from edge.verify.settings import CALIBRATED_DISTANCE_THRESHOLD, MEASURED_LIVENESS_THRESHOLD
from firmware_config.layers import ProfileRejected, default_layer, profile_hash, validate
from firmware_config.schema import DeviceKind, EdgeNodeProfile
from provisioning.profiles import ProfileRefused
from tests.verify.test_api import URL, form

# measured on these photos with the shipped models: harington_1 vs harington_2 at distance 0.3068 and p_real 0.55;
# obama_1 vs obama_2 at 0.2646. 0.28 separates the two pairs, 0.6 is above harington_2's p_real.
STRICT = 0.28
WARY = 0.6


def node_profile(**verify: float) -> dict:
    profile = EdgeNodeProfile.model_validate({}).model_dump(mode="json")
    profile["verify"].update(verify)
    return profile


def apply(node, version: str, profile: dict) -> None:
    node.node_profile.desire(version, profile_hash(profile), profile)
    assert node.node_profile.applied.wait(30)
    assert node.node_profile.last is not None and str(node.node_profile.last.outcome) == "applied", (
        node.node_profile.last
    )


def decide(client, headers, card: str, live: str, number: str) -> dict:
    r = client.post(URL, headers=headers, **form(card=card, live=(live,), number=number))
    assert r.status_code == 200, r.text
    return r.json()


def test_the_profile_default_is_the_nodes_calibrated_threshold_and_dlibs_scale_is_refused():
    defaults = EdgeNodeProfile.model_validate({}).verify
    assert defaults.distance_threshold == CALIBRATED_DISTANCE_THRESHOLD == 0.3748
    assert defaults.liveness_threshold == MEASURED_LIVENESS_THRESHOLD
    # the shipped default layer says the same as the schema (the TOML is a copy for technicians to read)
    assert default_layer(DeviceKind.edge_node)["verify"] == defaults.model_dump()
    with pytest.raises(ProfileRejected) as wrong_scale:
        validate(DeviceKind.edge_node, node_profile(distance_threshold=0.6), "profile")
    assert "verify.distance_threshold = 0.6: Input should be less than or equal to 0.5" in str(wrong_scale.value)
    old = node_profile()
    old["verify"] = {"threshold": 0.6, "liveness": True}  # the old schema's keys
    with pytest.raises(ProfileRejected) as old_keys:
        validate(DeviceKind.edge_node, old, "profile")
    assert "verify.threshold = 0.6: unknown key" in str(old_keys.value)
    assert "verify.liveness = true: unknown key" in str(old_keys.value)
    with pytest.raises(ProfileRejected, match=r"verify\.liveness_threshold = 0\.1"):
        validate(DeviceKind.edge_node, node_profile(liveness_threshold=0.1), "profile")


def test_a_profiles_thresholds_change_the_nodes_decisions_on_real_photos_live(kiosk):
    client, node, headers = kiosk()
    # on the calibrated threshold both genuine pairs match
    assert decide(client, headers, "harington_1.jpg", "harington_2.jpg", "H1")["decision"] == "match"
    assert decide(client, headers, "obama_1.jpg", "obama_2.jpg", "O1")["decision"] == "match"

    apply(node, "strict", node_profile(distance_threshold=STRICT))
    far = decide(client, headers, "harington_1.jpg", "harington_2.jpg", "H2")
    assert far["decision"] == "no_match" and far["reason"] == "face_mismatch"
    assert far["distance"] > STRICT and far["distance_threshold"] == STRICT
    near = decide(client, headers, "obama_1.jpg", "obama_2.jpg", "O2")
    assert near["decision"] == "match" and near["distance"] <= STRICT
    # the audit entry records the threshold the decision was made on
    after = json.loads(
        node.store.query("SELECT after FROM audit_log WHERE action = 'verification.decide' ORDER BY seq DESC LIMIT 1")[
            0
        ]["after"]
    )
    assert after["distance_threshold"] == STRICT

    apply(node, "wary", node_profile(liveness_threshold=WARY))
    spoof = decide(client, headers, "harington_1.jpg", "harington_2.jpg", "H3")
    assert spoof["decision"] == "spoof" and spoof["liveness"] < WARY and spoof["liveness_threshold"] == WARY
    assert node.verifier.thresholds == (CALIBRATED_DISTANCE_THRESHOLD, WARY)


def test_a_refused_profile_changes_nothing_and_without_a_profile_the_settings_file_rules(kiosk):
    client, node, headers = kiosk(distance_threshold=0.29)  # the station's settings file
    assert decide(client, headers, "harington_1.jpg", "harington_2.jpg", "H1")["decision"] == "no_match"
    with pytest.raises(ProfileRefused):
        bad = node_profile(distance_threshold=0.6)
        node.node_profile.desire("dlib-scale", profile_hash(bad), bad)
    assert node.verifier.thresholds == (0.29, MEASURED_LIVENESS_THRESHOLD)
    apply(node, "calibrated", node_profile())
    assert decide(client, headers, "harington_1.jpg", "harington_2.jpg", "H2")["decision"] == "match"
    node.node_profile.store.active.unlink()
    node.node_profile.start()  # no profile in force (as after a roll-back with none good): the settings file's values
    assert node.verifier.thresholds == (0.29, MEASURED_LIVENESS_THRESHOLD)
    assert decide(client, headers, "harington_1.jpg", "harington_2.jpg", "H3")["decision"] == "no_match"
