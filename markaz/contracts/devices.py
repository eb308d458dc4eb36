"""The kinds of device a station has: one vocabulary for the edge API, its roles table and the MQTT contract."""

from __future__ import annotations

from enum import StrEnum


class DeviceType(StrEnum):
    KIOSK = "kiosk"
    DISPLAY = "display"
    COUNTER_TERMINAL = "counter_terminal"
