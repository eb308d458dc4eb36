"""The edge node's settings: one tree, validated at start (`[edge]` table of the TOML file, `MARKAZ_*` variables)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator

from edge.hall.settings import HallSettings
from edge.reports.settings import ReportsSettings
from edge.telemetry.settings import MqttSettings
from edge.verify.settings import VerifySettings
from markaz.config import MarkazSettings
from markaz.contracts.ids import STATION_ID_PATTERN
from provisioning.settings import ProvisioningSettings


class AuthSettings(BaseModel):
    token_ttl_hours: float = Field(12.0, gt=0, description="a staff sign-in lasts one shift")
    slow_after_failures: int = Field(3, ge=1, description="failed sign-ins before each retry must wait")
    lock_after_failures: int = Field(6, ge=2, description="failed sign-ins before the account is locked")
    lock_minutes: float = Field(15.0, gt=0)
    client_failures_limit: int = Field(
        10, ge=1, description="failed sign-ins from one client address, any user name, before it is refused"
    )
    client_window_minutes: float = Field(15.0, gt=0, description="the window of client_failures_limit")
    reset_minutes: float = Field(30.0, gt=0, description="how long a supervisor-approved sign-in reset is valid")
    reset_attempts: int = Field(3, ge=1, description="passwords a reset code may be tried with before it is spent")
    max_concurrent_hashes: int = Field(4, ge=1, description="Argon2 hashes at once (64 MiB each); beyond: 503")
    hash_wait_s: float = Field(3.0, ge=0, description="how long a sign-in waits for a hashing slot before 503")
    token_cache_s: float = Field(5.0, ge=0, description="a resolved token is trusted this long without the database")


class QueueSettings(BaseModel):
    recall_min_interval_s: float = Field(10.0, ge=0, description="re-announcing a ticket is rate-limited")
    default_service_time_s: float = Field(300.0, gt=0, description="used for estimates before any service is seen")
    service_time_window: int = Field(20, ge=1, description="recent services averaged for estimates")
    identity_window_s: float = Field(
        600.0, gt=0, description="a kiosk's ticket for a service that needs identity stands on a face match this recent"
    )


class AuditSettings(BaseModel):
    anchor_interval_s: float = Field(300.0, gt=0, description="how often the chain head is signed when it moved")
    anchor_every_entries: int = Field(
        50,
        ge=1,
        description="the head is also signed as soon as this many entries are unsigned (bounds what a crash leaves)",
    )


class EdgeSettings(MarkazSettings):
    data_dir: Path = Field(Path("data"), description="database, keys and anchors of this node")
    station_id: str = Field("station-0", pattern=STATION_ID_PATTERN)
    timezone: str = Field("Asia/Riyadh", description="IANA zone: business days and what people see")
    day_rollover_hour: int = Field(3, ge=0, le=23, description="local hour at which a new business day starts")
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    catalogue: Path | None = Field(None, description="TOML file of services and counters loaded at start")
    sample_data: bool = False
    log_level: str = "INFO"
    log_json: bool = False
    synchronous: Literal["NORMAL", "FULL"] = Field(
        "FULL", description="SQLite fsync policy in WAL mode: FULL keeps every acknowledged write through a power cut"
    )
    auth: AuthSettings = AuthSettings()
    queue: QueueSettings = QueueSettings()
    audit: AuditSettings = AuditSettings()
    verify: VerifySettings = VerifySettings()
    mqtt: MqttSettings = MqttSettings()
    provisioning: ProvisioningSettings = ProvisioningSettings()
    reports: ReportsSettings = ReportsSettings()
    hall: HallSettings = HallSettings()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r} (e.g. 'Asia/Riyadh', 'UTC')") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "edge.sqlite"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def crl_path(self) -> Path:
        """The station CA's revocation list (public): the device listener and Mosquitto's `crlfile` read it."""
        return self.data_dir / "station-ca.crl"
