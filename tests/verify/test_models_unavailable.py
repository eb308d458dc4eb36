"""When the models cannot be loaded (missing or altered files), verification answers 503 and the station goes on."""

from __future__ import annotations

import shutil

from fastapi.testclient import TestClient

from edge.api.app import create_app
from models.registry import MODELS_DIR
from tests.conftest import auth
from tests.verify.test_api import URL, form


def test_missing_or_altered_models_give_503_and_the_queue_keeps_serving(make_node, station_template, tmp_path):
    template, tokens = station_template
    altered = tmp_path / "models"
    shutil.copytree(MODELS_DIR, altered, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    victim = next(altered.glob("**/*dlib*.onnx"))
    victim.write_bytes(victim.read_bytes()[:-1] + b"\x00")  # one byte changed: not the shipped model
    data = tmp_path / "node"
    shutil.copytree(template, data)
    node = make_node(data_dir=data, verify={"models_dir": altered, "preload": False})
    with TestClient(create_app(node)) as client:
        kiosk = auth(tokens["kiosk"])
        r = client.post(URL, headers=kiosk, **form())
        assert r.status_code == 503 and int(r.headers["Retry-After"]) >= 1
        assert "sha256" in r.json()["detail"] and "dlib" in r.json()["detail"]
        assert client.post("/api/v1/tickets", json={"service": "general"}, headers=kiosk).status_code == 201
