"""Fixtures of the verification tests: the real models loaded once per session, the test photos, image builders."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from edge.api.app import create_app
from edge.verify.opencv import cv2
from edge.verify.settings import VerifySettings
from tests.conftest import auth

FACES = Path(__file__).resolve().parent.parent / "data" / "faces"


def photo(name: str) -> bytes:
    return (FACES / name).read_bytes()


def encode(img: np.ndarray, ext: str = ".jpg", params: list[int] | None = None) -> bytes:
    ok, buf = cv2.imencode(ext, img, params or [])
    assert ok
    return buf.tobytes()


def load(name: str) -> np.ndarray:
    return cv2.imread(str(FACES / name))


def no_face_image() -> bytes:
    """A real-looking photo without a face: a smooth gradient with some texture (no people)."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:480, 0:640]
    img = np.stack([(x / 640 * 200) + 20, (y / 480 * 150) + 40, np.full_like(x, 120.0)], -1)
    img += rng.normal(0, 8, img.shape)
    return encode(np.clip(img, 0, 255).astype(np.uint8))


@pytest.fixture(scope="session")
def verifier():
    from edge.verify.service import shared_verifier
    from edge.verify.settings import VerifySettings

    return shared_verifier(VerifySettings())


@pytest.fixture
def kiosk(make_node, station_template, tmp_path):
    """A started node (copy of the session template) with its API; yields (client, node, kiosk headers)."""

    def build(clock=None, **verify):
        template, tokens = station_template
        data = tmp_path / f"node{len(made)}"
        shutil.copytree(template, data)
        node = make_node(clock=clock, data_dir=data, verify=VerifySettings(**verify))
        client = TestClient(create_app(node))
        client.__enter__()
        made.append(client)
        return client, node, auth(tokens["kiosk"])

    made: list[TestClient] = []
    yield build
    for c in made:
        c.__exit__(None, None, None)
