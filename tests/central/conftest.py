"""Central tests share the telemetry fixtures (throw-away CA, real Mosquitto)."""

from tests.telemetry.conftest import broker, pki  # noqa: F401
