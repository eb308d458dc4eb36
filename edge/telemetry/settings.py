"""Settings of the MQTT telemetry link (owned by edge/telemetry)."""

from pathlib import Path

from pydantic import BaseModel, Field


class MqttSettings(BaseModel):
    url: str | None = Field(None, description="mqtt://host:port or mqtts://host:port; unset = keep the outbox only")
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    keepalive: int = Field(30, ge=1)
