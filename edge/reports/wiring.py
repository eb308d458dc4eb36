"""Builds the reports part from the node's parts: each collaborator is passed on its own, never the node."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from edge.audit.log import AuditLog
from edge.auth.passwords import Passwords
from edge.events import EventBus
from edge.keys import StationKeys
from edge.reports.catalogue import Catalogue, load_catalogue, sample_catalogue
from edge.reports.delivery import ReferralDelivery
from edge.reports.pins import PinHasher
from edge.reports.referral import ReferralSigner
from edge.reports.sealing import Sealer
from edge.reports.service import ReportService
from edge.store import Store
from markaz.clock import iso

if TYPE_CHECKING:
    from edge.settings import EdgeSettings


def choose_catalogue(types_file: Path | None, sample_data: bool) -> Catalogue:
    if types_file is not None:
        return load_catalogue(types_file)
    return sample_catalogue() if sample_data else Catalogue()


def build_reports(
    settings: EdgeSettings,
    store: Store,
    audit: AuditLog,
    keys: StationKeys,
    events: EventBus,
    clock: Callable[[], datetime],
    passwords: Passwords | None = None,
) -> tuple[ReportService, ReferralDelivery]:
    rs = settings.reports
    sealer = Sealer(keys.dir)

    def identity_verified(document_hash: str, kiosk: str, window_s: float) -> bool:
        # A face match for this document at this kiosk, recently (the verification part's own record of attempts).
        since = iso(clock() - timedelta(seconds=window_s))
        return (
            store.query_one(
                "SELECT 1 FROM verification_attempts WHERE document_hash = ? AND kiosk = ? AND decision = 'match' AND at >= ?",
                [document_hash, kiosk, since],
            )
            is not None
        )

    def staff_role(username: str) -> str | None:
        row = store.query_one("SELECT role FROM staff WHERE username = ? AND active = 1", [username])
        return None if row is None else row["role"]

    service = ReportService(
        store,
        audit,
        rs,
        choose_catalogue(rs.types_file, settings.sample_data),
        sealer,
        ReferralSigner(keys.dir),
        keys.hash_document,
        identity_verified,
        staff_role,
        events,
        settings.station_id,
        clock,
        PinHasher(keys.report_pin_key, passwords),
    )
    delivery = ReferralDelivery(store, audit, sealer, rs.prosecution, events, clock)
    return service, delivery
