"""The kiosk agent's settings: the `[kiosk]` table of a TOML file, `MARKAZ_*` variables, command-line options."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from kiosk.card.trust_store import StaleCrlPolicy
from kiosk.session.timeouts import MIN_WARNING_S
from kiosk.session.vocabulary import Screen
from markaz.config import MarkazSettings


class KioskSettings(MarkazSettings):
    edge: str = Field("http://127.0.0.1:8080", description="the edge node's base URL (https:// in production)")
    identity: Path | None = Field(
        None,
        description="folder written by `markaz provision enrol`: the kiosk's key and certificate and the station's "
        "root; the kiosk then speaks mutual TLS to the edge's device listener and needs no token",
    )
    device_token_file: Path = Field(
        Path("device-token"), description="the fallback: a device token (ignored with `identity`)"
    )
    edge_ca: Path | None = Field(None, description="CA certificate that signed the edge's TLS certificate")
    edge_cert: Path | None = Field(None, description="this kiosk's device certificate (mutual TLS)")
    edge_key: Path | None = Field(None, description="its private key")
    reader: str | None = Field(None, description="card reader name pattern (regex or substring); None: the first")
    camera: str = Field("0", description="camera: a device index, an rtsp:// or http:// URL, or a video file (looped)")
    document_camera: str | None = Field(
        None, description="document camera (index, URL or video file) reading the MRZ; None: details are typed"
    )
    printer: str = Field("file:/dev/usb/lp0", description="tcp://host:9100, usb:VID:PID or file:/path")
    csca: Path | None = Field(None, description="CSCA certificate file or folder for passive authentication")
    require_passive_auth: bool = Field(True, description="send the visitor to reception unless the chip verifies")
    stale_crl: StaleCrlPolicy = Field(
        StaleCrlPolicy.REFUSE, description="a CSCA CRL past its nextUpdate: refuse (passive auth invalid) or flag"
    )
    host: str = Field("127.0.0.1", description="the UI is for this machine's browser only")
    port: int = Field(8700, ge=0, le=65535)
    station_name_ar: str = "مركز الشرطة"
    station_name_en: str = "Police station"
    timezone: str = Field("Asia/Riyadh", description="the station's time zone: a date and time keyed into a report")
    timeouts: dict[Screen, float] = Field(default_factory=dict, description="seconds per screen, e.g. mrz_entry = 120")
    warning_s: float = Field(30.0, ge=MIN_WARNING_S, description="the 'more time?' warning (WCAG 2.2.1: >= 20 s)")
    max_details_attempts: int = Field(3, ge=1)
    max_face_attempts: int = Field(3, ge=1)
    assisted_service: str = Field("reception", description="staff-assisted service when self-service cannot verify")
    live_frames: int = Field(3, ge=1, le=5, description="camera frames sent to the edge per attempt")
    heartbeat_s: float = Field(5.0, gt=0)
    catalogue_refresh_s: float = Field(60.0, gt=0)
    offline_after_failures: int = Field(3, ge=1, description="failed heartbeats before the closed screen")
    profile_dir: Path | None = Field(None, description="device profiles in force and last good (None: not managed)")
    profile_poll_s: float = Field(10.0, gt=0, description="how often the edge is asked for this kiosk's profile")
    log_level: str = "INFO"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Asia/Riyadh)") from None
        return value

    @field_validator("timeouts")
    @classmethod
    def _positive(cls, value: dict[Screen, float]) -> dict[Screen, float]:
        for screen, seconds in value.items():
            if seconds <= 0:
                raise ValueError(f"time-out for {screen} must be positive")
        return value
