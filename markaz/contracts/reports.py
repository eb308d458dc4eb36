"""The report states, shared by the edge's procedure and the MQTT contract (central reads them without the edge)."""

from __future__ import annotations

from enum import StrEnum


class ReportState(StrEnum):
    SUBMITTED = "submitted"
    RECEIVED = "received"
    UNDER_INVESTIGATION = "under_investigation"
    RETURNED = "returned"
    REFERRED = "referred"
    CLOSED = "closed"
