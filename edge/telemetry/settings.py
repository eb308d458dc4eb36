"""Settings of the MQTT telemetry link and the outbox (owned by edge/telemetry)."""

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field


class MqttSettings(BaseModel):
    url: str | None = Field(None, description="mqtt://host:port or mqtts://host:port; unset = keep the outbox only")
    link: Literal["process", "thread", "external"] = Field(
        "process",
        description="process: the node runs the MQTT link as a child process it supervises; thread: inside the "
        "node's process; external: another service runs `markaz edge link` (systemd)",
    )
    link_poll_s: float = Field(0.05, gt=0, le=5, description="how often an idle link looks for new outbox rows")
    link_restart_max_s: float = Field(30.0, gt=0, description="longest pause before a dead link process is restarted")
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    keepalive: int = Field(30, ge=1)
    protocol: Literal["5", "3.1.1"] = Field("5", description="5 falls back to 3.1.1 when the broker refuses it")
    inflight_window: int = Field(200, ge=1, le=65535, description="published but not yet acknowledged messages")
    backoff_base_s: float = Field(0.5, gt=0, description="first reconnect delay (doubled per failure, full jitter)")
    backoff_max_s: float = Field(60.0, gt=0)
    session_expiry_s: int = Field(7 * 24 * 3600, ge=0, description="broker keeps our commands this long while down")
    outbox_max_rows: int = Field(200_000, ge=100, description="bound past which old snapshots are dropped")
    outbox_max_bytes: int = Field(64 * 1024 * 1024, ge=64 * 1024)
    snapshot_interval_s: float = Field(30.0, gt=0, description="queue snapshot at least this often")
    snapshot_min_gap_s: float = Field(0.5, ge=0, description="changes closer than this share one snapshot")
    health_interval_s: float = Field(60.0, gt=0, description="node health, devices and verification counters")
    heartbeat_timeout_s: float = Field(90.0, gt=0, description="a device without heartbeat this long is offline")
    command_max_age_s: float = Field(
        600.0, gt=0, description="a command stamped longer ago than this is refused (and its id forgotten after)"
    )
    command_max_ahead_s: float = Field(60.0, ge=0, description="a command stamped further ahead than this is refused")
