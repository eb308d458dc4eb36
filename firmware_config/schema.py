"""The profile schema of each device type: every key typed and bounded, unknown keys refused (a typo fails fast)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from models.calibration import CALIBRATED_DISTANCE_THRESHOLD, MEASURED_LIVENESS_THRESHOLD


class DeviceKind(StrEnum):
    kiosk = "kiosk"
    display = "display"
    counter_terminal = "counter_terminal"
    edge_node = "edge_node"


T = TypeVar("T")


def _no_repeats(values: list[T]) -> list[T]:
    if len(set(values)) != len(values):
        raise ValueError("each value once")
    return values


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Reader(_Strict):
    pattern: str = Field("", max_length=128, description="substring of the PC/SC reader name to use ('' = first)")


class Camera(_Strict):
    source: str = Field("0", min_length=1, max_length=256, description="device index or a video file/URL")
    width: int = Field(640, ge=160, le=3840)
    height: int = Field(480, ge=120, le=2160)


class Printer(_Strict):
    uri: str = Field("file:///var/lib/markaz/receipts", pattern=r"^(file|tcp)://.+", description="ESC/POS sink")


class KioskService(StrEnum):
    """What a kiosk may offer its visitors: queue tickets, and filing and following up reports."""

    tickets = "tickets"
    reports = "reports"


Languages = Annotated[
    list[Literal["ar", "en"]],
    Field(min_length=1, description="the languages offered, the first one shown first"),
    AfterValidator(_no_repeats),
]


class KioskProfile(_Strict):
    reader: Reader = Reader.model_validate({})  # frozen: one shared default is safe
    camera: Camera = Camera.model_validate({})  # frozen: one shared default is safe
    printer: Printer = Printer.model_validate({})  # frozen: one shared default is safe
    idle_timeout_s: int = Field(60, ge=10, le=600, description="back to the welcome screen after this idle time")
    warn_before_s: int = Field(
        30, ge=20, le=120, description="time-out warning offering more time: at least 20 s to extend (WCAG 2.2.1)"
    )
    languages: Languages = ["ar", "en"]
    services: Annotated[list[KioskService], Field(min_length=1), AfterValidator(_no_repeats)] = [
        KioskService.tickets,
        KioskService.reports,
    ]


class DisplayProfile(_Strict):
    layout: Literal["calls", "calls_and_queue"] = "calls"
    speech: bool = True
    chime: bool = True
    volume: int = Field(70, ge=0, le=100)
    recent_calls: int = Field(6, ge=1, le=20)
    languages: Languages = ["ar", "en"]


class CounterTerminalProfile(_Strict):
    counter: str = Field("", max_length=32, description="counter id this terminal serves ('' = chosen at sign-in)")
    beep_on_call: bool = True
    idle_sign_out_min: int = Field(30, ge=1, le=480)
    languages: Languages = ["ar", "en"]


class EdgeQueue(_Strict):
    recall_min_interval_s: float = Field(10.0, ge=0, le=300)
    default_service_time_s: float = Field(300.0, gt=0, le=7200)


class EdgeVerify(_Strict):
    """On the node's own scale (models/calibration.py, edge/verify/settings.py, docs/calibration.md): the Euclidean distance of the face
    model's unit-length embeddings (0..2; cosine = 1 - d^2/2) and the fused liveness p_real. The defaults are the
    node's calibrated values. A fleet profile may move them only near the calibration: a value outside needs a new
    calibration and belongs in the station's settings file. Liveness cannot be switched off by a profile."""

    distance_threshold: float = Field(
        CALIBRATED_DISTANCE_THRESHOLD,
        ge=0.25,
        le=0.5,
        description="match when the distance of the unit embeddings is at or below this (calibrated: 0.3748 at FMR 0.1%)",
    )
    liveness_threshold: float = Field(
        MEASURED_LIVENESS_THRESHOLD,
        ge=0.3,
        le=0.9,
        description="a live frame whose fused p_real is below this is a presentation attack (measured: 0.4)",
    )


class EdgeTelemetry(_Strict):
    interval_s: float = Field(30.0, ge=1, le=3600)


class EdgeNodeProfile(_Strict):
    queue: EdgeQueue = EdgeQueue.model_validate({})  # frozen: one shared default is safe
    verify: EdgeVerify = EdgeVerify.model_validate({})  # frozen: one shared default is safe
    telemetry: EdgeTelemetry = EdgeTelemetry.model_validate({})  # frozen: one shared default is safe


SCHEMAS: dict[DeviceKind, type[_Strict]] = {
    DeviceKind.kiosk: KioskProfile,
    DeviceKind.display: DisplayProfile,
    DeviceKind.counter_terminal: CounterTerminalProfile,
    DeviceKind.edge_node: EdgeNodeProfile,
}
