"""Identifiers of machines, one definition each: used by the edge API, the CLI, the settings and the MQTT contract.

A device id becomes an MQTT topic level (`telemetry/devices/{device}`) and a station id a broker user name and topic
level, so both start with a letter or digit (never `-`, `.` or `_` alone), carry no `/`, `+`, `#` or spaces, and fit
64 characters. Anything that lets an id in checks it here, so what the API accepts the contract can always carry.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field

STATION_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
DEVICE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"

StationId = Annotated[str, Field(pattern=STATION_ID_PATTERN, description="lower case letters, digits, - and _")]
DeviceId = Annotated[
    str, Field(pattern=DEVICE_ID_PATTERN, description="a letter or digit, then letters, digits, _ . : - (64 at most)")
]

_STATION = re.compile(STATION_ID_PATTERN)
_DEVICE = re.compile(DEVICE_ID_PATTERN)


class InvalidId(ValueError):
    """An identifier that does not follow its definition (the message says which rule)."""


def check_station_id(value: str) -> str:
    if not isinstance(value, str) or not _STATION.fullmatch(value):
        raise InvalidId(f"station id {value!r}: lower case letters, digits, - and _, starting with a letter or digit")
    return value


def check_device_id(value: str) -> str:
    if not isinstance(value, str) or not _DEVICE.fullmatch(value):
        raise InvalidId(
            f"device id {value!r}: a letter or digit first, then letters, digits, _ . : - (64 characters at most)"
        )
    return value
