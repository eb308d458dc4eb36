"""Fixtures: a throw-away CA per session and a real Mosquitto per test that needs one."""

from __future__ import annotations

import pytest

from tests.telemetry.broker import Broker, Pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def broker(tmp_path, pki):
    b = Broker(tmp_path / "broker", pki).start()
    yield b
    b.kill()
