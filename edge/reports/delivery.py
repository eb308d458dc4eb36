"""Delivering referrals to the prosecution: a persistent outbox (`report_referrals`) drained with retries and
exponential back-off until the endpoint acknowledges with its case number.

Guarantees: a referral row is written in the same transaction as the move to `referred`, so nothing is lost;
it is marked acknowledged only after a valid acknowledgement names the same referral id, and the receiver
deduplicates on that id, so a retry after a lost answer never makes a second case. Down, slow (timeout) or
garbage answers all count as a failed attempt: the referral stays pending and waits its back-off."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx

from edge.audit.log import AuditLog
from edge.auth.principal import SYSTEM
from edge.events import EventBus
from edge.reports.sealing import Sealer
from edge.reports.settings import ProsecutionSettings
from edge.reports.vocabulary import ReportChange
from edge.store import Store
from edge.store.db import fetch_one
from markaz.clock import iso, utcnow

log = logging.getLogger(__name__)
CASE_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_.-]{0,39}$")


class ReferralDelivery:
    def __init__(
        self,
        store: Store,
        audit: AuditLog,
        sealer: Sealer,
        settings: ProsecutionSettings,
        events: EventBus,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.audit = audit
        self.sealer = sealer
        self.settings = settings
        self.events = events
        self.clock = clock
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._client = httpx.Client(timeout=settings.timeout_s)
        events.subscribe("reports.changed", lambda kind, payload: self._wake.set())

    def backoff_s(self, attempts: int) -> float:
        """Seconds before the next attempt after `attempts` failures: base, 2x base, 4x base... up to the maximum."""
        return float(min(self.settings.backoff_base_s * 2 ** max(0, attempts - 1), self.settings.backoff_max_s))

    def deliver_due(self) -> int:
        """One pass: try every pending referral whose time has come; returns how many were acknowledged."""
        if not self.settings.url:
            return 0
        now = self.clock()
        due = self.store.query(
            "SELECT id FROM report_referrals WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at",
            [iso(now)],
        )
        done = 0
        for row in due:
            if self._stop.is_set():
                break
            done += self._attempt(row["id"])
        return done

    def _attempt(self, referral_id: str) -> int:
        row = self.store.query_one(
            "SELECT id, report_id, package_ct, attempts FROM report_referrals WHERE id = ?", [referral_id]
        )
        if row is None:
            return 0
        document = self.sealer.open(row["package_ct"], f"report_referrals.package_ct:{referral_id}")
        try:
            answer = self._client.post(str(self.settings.url), json=document, headers={"Idempotency-Key": referral_id})
            case_number = self._case_number(answer, referral_id)
        except (httpx.HTTPError, ValueError) as exc:
            self._failed(row, f"{type(exc).__name__}: {str(exc)[:200]}")
            return 0
        self._acknowledged(row, case_number)
        return 1

    @staticmethod
    def _case_number(answer: httpx.Response, referral_id: str) -> str:
        if answer.status_code != 200:
            raise ValueError(f"endpoint answered HTTP {answer.status_code}")
        try:
            body: Any = answer.json()
        except ValueError:
            raise ValueError("acknowledgement is not JSON") from None
        if not isinstance(body, dict) or body.get("referral_id") != referral_id:
            raise ValueError("acknowledgement does not name this referral")
        case = body.get("case_number")
        if not isinstance(case, str) or not CASE_NUMBER.match(case):
            raise ValueError("acknowledgement has no valid case number")
        return case

    def _failed(self, row: dict[str, Any], error: str) -> None:
        attempts = row["attempts"] + 1
        wait = self.backoff_s(attempts)
        with self.store.write() as db:
            db.execute(
                "UPDATE report_referrals SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ? AND status = 'pending'",
                [attempts, iso(self.clock() + timedelta(seconds=wait)), error, row["id"]],
            )
        log.warning("referral %s: attempt %d failed (%s); next in %.0f s", row["id"], attempts, error, wait)
        ref = self.store.query_one("SELECT reference FROM reports WHERE id = ?", [row["report_id"]])
        if ref is not None:  # the report's page shows the attempts; not `reports.changed`, which would wake us again
            self.events.publish(
                "reports.referral_attempted", {"reference": ref["reference"], "what": ReportChange.REFERRAL.value}
            )

    def _acknowledged(self, row: dict[str, Any], case_number: str) -> None:
        stamp = iso(self.clock())
        with self.store.write() as db:
            cur = fetch_one(db.conn, "SELECT status FROM report_referrals WHERE id = ?", [row["id"]])
            if cur is None or cur["status"] != "pending":
                return
            db.execute(
                "UPDATE report_referrals SET status = 'acknowledged', attempts = attempts + 1, case_number = ?, "
                "acknowledged_at = ?, last_error = NULL WHERE id = ?",
                [case_number, stamp, row["id"]],
            )
            db.execute("UPDATE reports SET case_number = ? WHERE id = ?", [case_number, row["report_id"]])
            ref = fetch_one(db.conn, "SELECT reference FROM reports WHERE id = ?", [row["report_id"]])
            self.audit.append(
                SYSTEM,
                "report.referral_ack",
                "report",
                ref["reference"] if ref else None,
                None,
                {"referral_id": row["id"], "case_number": case_number},
                db=db,
            )
        self.events.publish(
            "reports.referral_acknowledged",
            {"reference": ref["reference"] if ref else None, "what": ReportChange.REFERRAL.value},
        )

    # -- the worker ---------------------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="referral-delivery", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_due()
            except Exception:
                log.exception("referral delivery pass failed")
            self._wake.wait(self.settings.poll_interval_s)
            self._wake.clear()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(self.settings.timeout_s + 5)
        self._client.close()
