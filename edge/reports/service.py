"""ReportService: filing, tracking, working, sharing and referring reports; every change and every read audited.

Each operation is one write transaction that checks the rule (the procedure table decides transitions), changes
the rows and appends the audit entry. Reads write their audit entry in a transaction of their own, also when the
read is refused. Personal data goes through the Sealer on the way in and out; audit entries and events carry
references, states and counts only."""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from edge.audit.log import AuditLog
from edge.auth.principal import SYSTEM, Principal
from edge.errors import Conflict, Forbidden, Invalid, NotFound, RateLimited, Unauthorized
from edge.events import EventBus
from edge.reports import procedure, reference
from edge.reports.catalogue import Catalogue, validate_details
from edge.reports.pins import PinHasher
from edge.reports.referral import FORMAT, ReferralSigner
from edge.reports.sealing import Sealer
from edge.reports.settings import ReportsSettings
from edge.reports.vocabulary import (
    Acknowledgement,
    Action,
    Channel,
    DocumentType,
    OfficerAction,
    PartyRole,
    ReadOutcome,
    ReferralStatus,
    ReportChange,
    ReportState,
    ShareScope,
)
from edge.store import Store
from edge.store.db import fetch_all, fetch_one
from edge.verify.documents import InvalidDocumentNumber
from markaz.clock import iso, parse_iso, utcnow

PIN_DIGITS = 6
SUMMARY_FIELDS = (
    "r.id, r.reference, r.type, r.channel, r.state, r.outcome, r.officer, r.filed_at, r.state_since, r.sla_due_at, "
    "r.sla_breached, r.case_number, r.closed_at, r.purged_at"
)
OPEN_STATES = (ReportState.RECEIVED, ReportState.UNDER_INVESTIGATION, ReportState.RETURNED)


@dataclass(frozen=True)
class PartyIn:
    role: PartyRole
    name: str
    document_type: DocumentType | None = None
    document_number: str | None = None
    nationality: str | None = None
    birth_date: str | None = None
    contact: str | None = None
    verified: bool = False


DOCUMENT_KEY = re.compile(r"[0-9a-f]{64}")  # the keyed hash of a document number (`EdgeKeys.hash_document`)


@dataclass(frozen=True)
class Filters:
    state: ReportState | None = None
    type: str | None = None
    officer: str | None = None
    sla_breached: bool | None = None
    limit: int = 50
    offset: int = 0
    document: str | None = None  # a party's document number: found by its keyed hash, never stored or logged
    before: str | None = None  # keyset paging: the reports listed after this one (older), whatever was filed since
    document_key: str | None = None  # instead of `document`: its keyed hash, as a page of results hands it on


@dataclass
class LiveView:
    """One open live page (a socket) and what of its reads the audit log already has. A push re-reads what the page
    shows; the read is audited when the page opens and again only when who reads or the outcome changes (a share
    revoked turns the page into a refusal), not on every push: the open page is one read of that report or that
    list, as long as it stays open, and N pushes would only bury the reads that matter."""

    source: str = "-"
    audited: tuple[str, ...] | None = field(default=None, init=False)

    def first(self, *key: str) -> bool:
        """Whether a read with this key (viewer, role, outcome) is new for this page, and note that it is."""
        if self.audited == key:
            return False
        self.audited = key
        return True


def _next_id(db: sqlite_utils.Database, table: str) -> int:
    """The id the next row of `table` gets; safe because every write holds the store's single writer."""
    row = fetch_one(db.conn, f"SELECT coalesce(max(id), 0) + 1 AS id FROM {table}")
    assert row is not None
    return int(row["id"])


class ReportService:
    def __init__(
        self,
        store: Store,
        audit: AuditLog,
        settings: ReportsSettings,
        catalogue: Catalogue,
        sealer: Sealer,
        signer: ReferralSigner,
        hash_document: Callable[[str], str],
        identity_verified: Callable[[str, str, float], bool],
        staff_role: Callable[[str], str | None],
        events: EventBus,
        station: str,
        clock: Callable[[], datetime] = utcnow,
        pins: PinHasher | None = None,
    ) -> None:
        self.pins = pins or PinHasher(secrets.token_bytes(32))  # a throwaway key: PINs then last as long as this
        self.store = store
        self.audit = audit
        self.settings = settings
        self.catalogue = catalogue
        self.sealer = sealer
        self.signer = signer
        self.hash_document = hash_document
        self.identity_verified = identity_verified  # (document hash, kiosk id, window s) -> a recent face match?
        self.staff_role = staff_role  # user name -> active role, or None
        self.events = events
        self.station = station
        self.clock = clock

    # -- small helpers -----------------------------------------------------------------------------------------
    def _report(self, conn: sqlite3.Connection, ref: str) -> dict[str, Any]:
        row = fetch_one(
            conn, f"SELECT {SUMMARY_FIELDS}, r.details_ct, r.pin_hash FROM reports r WHERE r.reference = ?", [ref]
        )
        if row is None:
            raise NotFound(f"no report {ref}")
        return row

    def _sla_due(self, rtype: str, state: ReportState, now: datetime) -> str | None:
        if state == ReportState.CLOSED:
            return None
        hours = self.settings.sla_for(rtype, state)
        return None if hours is None else iso(now + timedelta(hours=hours))

    def document_key(self, number: str) -> str:
        """What stands for a party's document number past the form it was typed in: its keyed hash (a page of
        results hands it to the next page, so the number itself is never echoed into a page or a URL)."""
        return self._hash_document(number)

    def _hash_document(self, number: str) -> str:
        try:
            return self.hash_document(number)
        except InvalidDocumentNumber as exc:
            raise Invalid(str(exc)) from None

    def _record_read(
        self,
        actor: Principal,
        ref: str | None,
        view: str,
        source: str,
        outcome: ReadOutcome,
        live: LiveView | None = None,
        **extra: Any,
    ) -> None:
        """Who read what, when (the entry's ts), from where and with what outcome: CJIS 5.4's audit record. For a
        live page, once when it opens and again when the viewer or the outcome changes (`LiveView`)."""
        if live is not None:
            if not live.first(actor.subject, actor.role, view, outcome.value):
                return
            extra["live"] = True
        after = {"view": view, "source": source, "outcome": outcome.value, **extra}
        self.audit.append(actor, "report.read", "report", ref, None, after)

    def _changed(self, ref: str, what: ReportChange) -> None:
        """After the commit: live pages and the referral worker learn which report changed and how."""
        self.events.publish("reports.changed", {"reference": ref, "what": what.value})

    # -- catalogue ---------------------------------------------------------------------------------------------
    def types(self, channel: Channel | None = None) -> list[dict[str, Any]]:
        return [t.model_dump(mode="json") for t in self.catalogue.types if channel != Channel.KIOSK or t.kiosk]

    # -- filing ------------------------------------------------------------------------------------------------
    def _check_party(self, party: PartyIn) -> str | None:
        if not party.name or not party.name.strip() or len(party.name) > 200:
            raise Invalid("a party needs a name of 1-200 characters")
        if party.birth_date is not None:
            try:
                datetime.strptime(party.birth_date, "%Y-%m-%d")
            except ValueError:
                raise Invalid("birth_date must be YYYY-MM-DD") from None
        for name, value, limit in (("nationality", party.nationality, 64), ("contact", party.contact, 200)):
            if value is not None and len(value) > limit:
                raise Invalid(f"{name}: at most {limit} characters")
        if party.document_number is None:
            return None
        return self._hash_document(party.document_number)

    def _insert_party(
        self,
        db: sqlite_utils.Database,
        report_id: str,
        party: PartyIn,
        doc_hash: str | None,
        actor: Principal,
        now: str,
    ) -> int:
        pid = _next_id(db, "report_parties")
        values = {
            "name_ct": party.name.strip(),
            "document_number_ct": party.document_number,
            "nationality_ct": party.nationality,
            "birth_date_ct": party.birth_date,
            "contact_ct": party.contact,
        }
        db.execute(
            "INSERT INTO report_parties (id, report_id, role, verified, document_type, document_hmac, name_ct, "
            "document_number_ct, nationality_ct, birth_date_ct, contact_ct, added_by, added_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                pid,
                report_id,
                PartyRole(party.role).value,
                int(party.verified),
                None if party.document_type is None else DocumentType(party.document_type).value,
                doc_hash,
                *(self.sealer.seal(v, f"report_parties.{k}:{pid}") for k, v in values.items()),
                actor.label,
                now,
            ],
        )
        return pid

    def _next_reference(self, year: int) -> str:
        row = self.store.query_one(
            "SELECT last_seq FROM report_sequences WHERE station_code = ? AND year = ?",
            [self.settings.station_code, year],
        )
        return reference.make(self.settings.station_code, year, (row["last_seq"] if row else 0) + 1)

    def file(
        self, type_code: str, details: dict[str, Any], complainant: PartyIn, actor: Principal, source: str = "-"
    ) -> dict[str, Any]:
        """File a report; returns its reference and the tracking PIN (shown once, kept only as a keyed hash)."""
        rtype = self.catalogue.get(type_code)
        if complainant.role != PartyRole.COMPLAINANT:
            raise Invalid("the filing party is the complainant")
        doc_hash = self._check_party(complainant)
        if actor.kind == "device":
            if actor.role != "kiosk":
                raise Forbidden(f"a {actor.role} may not file reports")
            if not rtype.kiosk:
                raise Forbidden(f"a {rtype.name_en.lower()} report is filed at a desk, not at a kiosk")
            if doc_hash is None:
                raise Forbidden("a kiosk files only for a visitor whose chip and face were verified")
            if not self.identity_verified(doc_hash, actor.subject, self.settings.kiosk_verification_window_s):
                raise Forbidden("no recent face match for this document at this kiosk: verify the visitor first")
            complainant = replace(complainant, verified=True)  # the chip's identity, matched to the face here
            channel = Channel.KIOSK
        elif actor.role in procedure.WORKERS:
            complainant = replace(complainant, verified=False)  # identity as the officer recorded it
            channel = Channel.DESK
        else:
            raise Forbidden(f"role {actor.role!r} may not file reports")
        now = self.clock()
        clean = validate_details(rtype, details, now)
        pin = f"{secrets.randbelow(10**PIN_DIGITS):0{PIN_DIGITS}d}"
        stamp = iso(now)
        # The PIN's slow hash is bound to the reference, which the sequence gives out inside the write transaction.
        # Hashing there would hold the station's one writer (every ticket, every audit entry) for the hash's ~15 ms,
        # so it is made beforehand for the reference this filing will most likely get, and made again inside only
        # when another filing took that reference in between.
        guess = self._next_reference(now.year)
        guessed_hash = self.pins.hash(guess, pin)
        with self.store.write() as db:
            seq_row = fetch_one(
                db.conn,
                "INSERT INTO report_sequences (station_code, year, last_seq) VALUES (?, ?, 1) "
                "ON CONFLICT(station_code, year) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq",
                [self.settings.station_code, now.year],
            )
            assert seq_row is not None
            ref = reference.make(self.settings.station_code, now.year, seq_row["last_seq"])
            pin_hash = guessed_hash if ref == guess else self.pins.hash(ref, pin)
            report_id = str(uuid.uuid4())
            db.execute(
                "INSERT INTO reports (id, reference, type, channel, state, details_ct, pin_hash, filed_by, filed_at, "
                "state_since, sla_due_at) VALUES (?, ?, ?, ?, 'submitted', ?, ?, ?, ?, ?, ?)",
                [
                    report_id,
                    ref,
                    rtype.code,
                    channel.value,
                    self.sealer.seal(clean, f"reports.details_ct:{report_id}"),
                    pin_hash,
                    actor.label,
                    stamp,
                    stamp,
                    self._sla_due(rtype.code, ReportState.SUBMITTED, now),
                ],
            )
            self._insert_party(db, report_id, complainant, doc_hash, actor, stamp)
            db.execute(
                "INSERT INTO report_transitions (report_id, action, from_state, to_state, actor, at) "
                "VALUES (?, 'file', '', 'submitted', ?, ?)",
                [report_id, actor.label, stamp],
            )
            after = {
                "reference": ref,
                "type": rtype.code,
                "channel": channel.value,
                "state": "submitted",
                "source": source,
            }
            self.audit.append(actor, "report.file", "report", ref, None, after, db=db)
        self._changed(ref, ReportChange.FILED)
        return {
            "reference": ref,
            "pin": pin,
            "type": rtype.code,
            "state": ReportState.SUBMITTED.value,
            "filed_at": stamp,
            "next_step_ar": procedure.NEXT_STEP[ReportState.SUBMITTED][0],
            "next_step_en": procedure.NEXT_STEP[ReportState.SUBMITTED][1],
        }

    # -- the visitor following a report ------------------------------------------------------------------------
    def track(
        self,
        ref_text: str,
        actor: Principal,
        pin: str | None = None,
        document_number: str | None = None,
        source: str = "-",
    ) -> dict[str, Any]:
        """The visitor's view (state, dates, next step, referral and case number) for the reference and its PIN or the
        complainant's document. Wrong answers are counted per reference: slowed, then locked."""
        ref = str(reference.parse(ref_text))  # a mistyped reference never reaches the database
        if (pin is None) == (document_number is None):
            raise Invalid("give either the PIN or the document number")
        now = self.clock()
        fail = self.store.query_one("SELECT * FROM report_pin_failures WHERE reference = ?", [ref])
        if fail:
            if fail["locked_until"] and parse_iso(fail["locked_until"]) > now:
                wait = (parse_iso(fail["locked_until"]) - now).total_seconds()
                self._record_read(actor, ref, "visitor", source, ReadOutcome.LOCKED)
                raise RateLimited(f"too many wrong attempts for this reference; try again in {int(wait) + 1} s", wait)
            over = fail["failures"] - self.settings.pin_slow_after_failures
            if over >= 0 and not fail["locked_until"]:
                delay = min(2.0**over, 60.0)
                since = (now - parse_iso(fail["last_failure_at"])).total_seconds()
                if since < delay:
                    self._record_read(actor, ref, "visitor", source, ReadOutcome.LOCKED)
                    raise RateLimited(f"wrong attempts for this reference; wait {delay - since:.0f} s", delay - since)
        row = self.store.query_one(f"SELECT {SUMMARY_FIELDS}, r.pin_hash FROM reports r WHERE r.reference = ?", [ref])
        upgrade = None
        if pin is not None:
            check = self.pins.check(row["pin_hash"] if row else None, ref, pin)
            ok, upgrade = check.ok and row is not None, check.upgrade
        else:
            digest = self._hash_document(str(document_number))
            ok = (
                row is not None
                and self.store.query_one(
                    "SELECT 1 FROM report_parties WHERE report_id = ? AND role = 'complainant' AND document_hmac = ?",
                    [row["id"], digest],
                )
                is not None
            )
        if not ok or row is None:
            self._pin_failure(ref, now)
            self._record_read(actor, ref, "visitor", source, ReadOutcome.BAD_PIN)
            raise Unauthorized("wrong reference or PIN")
        with self.store.write() as db:
            db.execute("DELETE FROM report_pin_failures WHERE reference = ?", [ref])
            if upgrade is not None:  # a PIN stored as Argon2id by an older version: from now on the keyed hash
                db.execute("UPDATE reports SET pin_hash = ? WHERE id = ?", [upgrade, row["id"]])
            self.audit.append(
                actor,
                "report.read",
                "report",
                ref,
                None,
                {"view": "visitor", "source": source, "outcome": "ok", "by": "pin" if pin is not None else "document"},
                db=db,
            )
        return self._visitor_view(row)

    def _pin_failure(self, ref: str, now: datetime) -> None:
        with self.store.write() as db:
            row = fetch_one(
                db.conn, "SELECT failures, locked_until FROM report_pin_failures WHERE reference = ?", [ref]
            )
            failures = 1
            if row:
                expired = row["locked_until"] and parse_iso(row["locked_until"]) <= now
                failures = 1 if expired else row["failures"] + 1
            locked = None
            if failures >= self.settings.pin_lock_after_failures:
                locked = iso(now + timedelta(minutes=self.settings.pin_lock_minutes))
            db.execute(
                "INSERT INTO report_pin_failures (reference, failures, last_failure_at, locked_until) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(reference) DO UPDATE SET failures = excluded.failures, "
                "last_failure_at = excluded.last_failure_at, locked_until = excluded.locked_until",
                [ref, failures, iso(now), locked],
            )

    def _referral_status(self, conn: sqlite3.Connection, report_id: str) -> dict[str, Any] | None:
        row = fetch_one(
            conn,
            "SELECT id, status, attempts, created_at, next_attempt_at, last_error, case_number, acknowledged_at "
            "FROM report_referrals WHERE report_id = ? ORDER BY created_at DESC LIMIT 1",
            [report_id],
        )
        return row

    def _visitor_view(self, row: dict[str, Any]) -> dict[str, Any]:
        conn = self.store.read().conn
        rtype = self.catalogue.get(row["type"])
        steps = fetch_all(
            conn,
            "SELECT to_state, at FROM report_transitions WHERE report_id = ? AND to_state != from_state ORDER BY id",
            [row["id"]],
        )
        referral = self._referral_status(conn, row["id"])
        state = ReportState(row["state"])
        return {
            "reference": row["reference"],
            "type": row["type"],
            "type_name_ar": rtype.name_ar,
            "type_name_en": rtype.name_en,
            "state": state.value,
            "outcome": row["outcome"],
            "filed_at": row["filed_at"],
            "state_since": row["state_since"],
            "steps": [{"state": s["to_state"], "at": s["at"]} for s in steps],
            "next_step_ar": procedure.NEXT_STEP[state][0],
            "next_step_en": procedure.NEXT_STEP[state][1],
            "referral": None if referral is None else referral["status"],
            "case_number": row["case_number"],
        }

    # -- staff and agency reads --------------------------------------------------------------------------------
    def _active_share(
        self, conn: sqlite3.Connection, report_id: str, user: str, now: datetime
    ) -> dict[str, Any] | None:
        return fetch_one(
            conn,
            "SELECT id, agency, until FROM report_shares WHERE report_id = ? AND agency_user = ? AND revoked_at IS NULL "
            "AND until > ? ORDER BY until DESC LIMIT 1",
            [report_id, user, iso(now)],
        )

    def list_reports(self, actor: Principal, filters: Filters, source: str = "-") -> list[dict[str, Any]]:
        """Summaries (no personal data) for the workbench; an agency user sees only what is shared with them now."""
        return self.list_page(actor, filters, source)[0]

    def list_page(
        self, actor: Principal, filters: Filters, source: str = "-", live: LiveView | None = None
    ) -> tuple[list[dict[str, Any]], bool]:
        """One page of `list_reports` and whether older reports follow (then `Filters.before` = the last reference
        gives the next page: an index range, never an OFFSET that reads and drops the rows before it). Audited
        with its filters; a live list when it opens and when its viewer changes (`LiveView`)."""
        rows, more, filt = self._list_rows(actor, filters)
        after: dict[str, Any] = {"source": source, "outcome": "ok", "filters": filt, "count": len(rows)}
        if live is not None:
            if not live.first(actor.subject, actor.role, "list"):
                return rows, more
            after["live"] = True
        self.audit.append(actor, "report.list", "report", None, None, after)
        return rows, more

    def _list_rows(self, actor: Principal, filters: Filters) -> tuple[list[dict[str, Any]], bool, dict[str, Any]]:
        where: list[str] = []
        params: list[Any] = []
        if filters.state is not None:
            where.append("r.state = ?")
            params.append(ReportState(filters.state).value)
        if filters.type is not None:
            where.append("r.type = ?")
            params.append(filters.type)
        if filters.officer is not None:
            where.append("r.officer = ?")
            params.append(filters.officer)
        if filters.sla_breached is not None:  # a literal, so the planner may use the partial index of breaches
            where.append("r.sla_breached = 1" if filters.sla_breached else "r.sla_breached = 0")
        document_hash = None if filters.document is None else self._hash_document(filters.document)
        if filters.document_key is not None and document_hash is None:
            if not DOCUMENT_KEY.fullmatch(filters.document_key):
                raise Invalid("not a document key of this station's pages")
            document_hash = filters.document_key
        if document_hash is not None:  # every report where someone with that document is a party
            where.append("r.id IN (SELECT report_id FROM report_parties WHERE document_hmac = ?)")
            params.append(document_hash)
        if actor.role == "agency_viewer":  # driven by their few shares, not by a scan of every report
            where.append(
                "r.id IN (SELECT report_id FROM report_shares WHERE agency_user = ? AND revoked_at IS NULL AND until > ?)"
            )
            params.extend([actor.subject, iso(self.clock())])
        elif actor.role not in procedure.WORKERS:
            raise Forbidden(f"role {actor.role!r} may not list reports")
        if filters.before is not None:
            before = str(reference.parse(filters.before))
            mark = self.store.query_one("SELECT filed_at FROM reports WHERE reference = ?", [before])
            if mark is None:
                raise Invalid(f"no report {before} to list from")
            where.append("(r.filed_at, r.reference) < (?, ?)")  # a range of the same ordering index
            params.extend([mark["filed_at"], before])
        sql = f"SELECT {SUMMARY_FIELDS} FROM reports r"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY r.filed_at DESC, r.reference DESC LIMIT ? OFFSET ?"
        rows = self.store.query(sql, [*params, filters.limit + 1, filters.offset])
        more = len(rows) > filters.limit
        filt = {k: (v.value if hasattr(v, "value") else v) for k, v in filters.__dict__.items() if v is not None}
        filt.pop("document_key", None)
        if document_hash is not None:  # the audit keeps the keyed hash, as verification does, never the number
            filt["document"] = document_hash
        return [self._summary(r) for r in rows[: filters.limit]], more, filt

    def _summary(self, r: dict[str, Any]) -> dict[str, Any]:
        return {
            k: r[k]
            for k in (
                "reference",
                "type",
                "channel",
                "state",
                "outcome",
                "officer",
                "filed_at",
                "state_since",
                "sla_due_at",
                "case_number",
                "closed_at",
                "purged_at",
            )
        } | {"sla_breached": bool(r["sla_breached"])}

    def get(self, ref_text: str, actor: Principal, source: str = "-", live: LiveView | None = None) -> dict[str, Any]:
        """A report's page: everything for station staff; for an agency user only what the share and the
        data-sharing table allow (procedure, or statements too). Refusals are audited as well; a live page's
        pushes as `LiveView` says."""
        ref = str(reference.parse(ref_text))
        conn = self.store.read().conn
        row = fetch_one(conn, f"SELECT {SUMMARY_FIELDS}, r.details_ct FROM reports r WHERE r.reference = ?", [ref])
        if row is None:
            self._record_read(actor, ref, "report", source, ReadOutcome.NOT_FOUND, live)
            raise NotFound(f"no report {ref}")
        if actor.role in procedure.WORKERS:
            scope, view = ShareScope.STATEMENTS, "staff"
        elif actor.role == "agency_viewer":
            share = self._active_share(conn, row["id"], actor.subject, self.clock())
            agency = self.settings.agency_of(actor.subject)
            if share is None or agency is None:
                self._record_read(actor, ref, "agency", source, ReadOutcome.DENIED, live)
                raise Forbidden("this report is not shared with you (or the share has ended)")
            scope, view = agency[1].sees, "agency"
        else:
            self._record_read(actor, ref, "report", source, ReadOutcome.DENIED, live)
            raise Forbidden(f"role {actor.role!r} may not read reports")
        result = self._page(conn, row, scope, staff=view == "staff")
        self._record_read(actor, ref, view, source, ReadOutcome.OK, live, scope=scope.value)
        return result

    def _page(self, conn: sqlite3.Connection, row: dict[str, Any], scope: ShareScope, staff: bool) -> dict[str, Any]:
        rid = row["id"]
        timeline = []
        for t in fetch_all(conn, "SELECT * FROM report_transitions WHERE report_id = ? ORDER BY id", [rid]):
            entry = {k: t[k] for k in ("action", "from_state", "to_state", "outcome", "officer", "actor", "at")}
            entry["reason"] = (
                self.sealer.open(t["reason_ct"], f"report_transitions.reason_ct:{t['id']}") if staff else None
            )
            timeline.append(entry)
        parties_rows = fetch_all(conn, "SELECT * FROM report_parties WHERE report_id = ? ORDER BY id", [rid])
        page: dict[str, Any] = {
            **self._summary(row),
            "timeline": timeline,
            "referral": self._referral_status(conn, rid),
            "scope": scope.value,
            "details": None,
            "parties": [],
            "statements": [],
            "notes": [],
            "actions": [],
            "shares": [],
        }
        if scope == ShareScope.PROCEDURE:
            page["parties"] = [
                {"id": p["id"], "role": p["role"], "verified": bool(p["verified"])} for p in parties_rows
            ]
            return page
        page["details"] = self.sealer.open(row["details_ct"], f"reports.details_ct:{rid}")
        page["parties"] = [self._party(p) for p in parties_rows]
        stmts = fetch_all(conn, "SELECT * FROM report_statements WHERE report_id = ? ORDER BY id", [rid])
        corrected = {s["corrects"]: s["id"] for s in stmts if s["corrects"] is not None}
        page["statements"] = [
            {
                k: s[k]
                for k in (
                    "id",
                    "party_id",
                    "version",
                    "corrects",
                    "acknowledgement",
                    "recorded_by",
                    "recorded_at",
                    "purged_at",
                )
            }
            | {
                "text": self.sealer.open(s["text_ct"], f"report_statements.text_ct:{s['id']}"),
                "superseded_by": corrected.get(s["id"]),
            }
            for s in stmts
        ]
        for n in fetch_all(conn, "SELECT * FROM report_notes WHERE report_id = ? ORDER BY id", [rid]):
            item = {
                "id": n["id"],
                "author": n["author"],
                "at": n["at"],
                "text": self.sealer.open(n["text_ct"], f"report_notes.text_ct:{n['id']}"),
            }
            if n["kind"] == "action":
                page["actions"].append(item | {"action": n["action"]})
            elif staff:  # officers' notes stay inside the station
                page["notes"].append(item)
        if staff:
            page["shares"] = fetch_all(
                conn,
                "SELECT id, agency_user, agency, until, shared_by, shared_at, revoked_at FROM report_shares "
                "WHERE report_id = ? ORDER BY id",
                [rid],
            )
        return page

    def _party(self, p: dict[str, Any]) -> dict[str, Any]:
        pid = p["id"]
        opened = {
            k[:-3]: self.sealer.open(p[k], f"report_parties.{k}:{pid}")
            for k in ("name_ct", "document_number_ct", "nationality_ct", "birth_date_ct", "contact_ct")
        }
        return {
            "id": pid,
            "role": p["role"],
            "verified": bool(p["verified"]),
            "document_type": p["document_type"],
            "added_by": p["added_by"],
            "added_at": p["added_at"],
            "purged_at": p["purged_at"],
            **opened,
        }

    # -- working a report --------------------------------------------------------------------------------------
    def _worker(self, actor: Principal) -> None:
        if actor.kind != "staff" or actor.role not in procedure.WORKERS:
            raise Forbidden(f"role {actor.role!r} may not work reports")

    @staticmethod
    def _reason(reason: str) -> str:
        if not isinstance(reason, str) or len(reason.strip()) < 3 or len(reason) > 2000:
            raise Invalid("a reason of 3-2000 characters is required")
        return reason.strip()

    def _log_transition(
        self,
        db: sqlite_utils.Database,
        row: dict[str, Any],
        action: str,
        to_state: str,
        actor: Principal,
        reason: str,
        now: str,
        outcome: str | None = None,
        officer: str | None = None,
    ) -> None:
        tid = _next_id(db, "report_transitions")
        db.execute(
            "INSERT INTO report_transitions (id, report_id, action, from_state, to_state, outcome, officer, actor, "
            "reason_ct, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                tid,
                row["id"],
                action,
                row["state"],
                to_state,
                outcome,
                officer,
                actor.label,
                self.sealer.seal(reason, f"report_transitions.reason_ct:{tid}"),
                now,
            ],
        )

    def transition(
        self, ref_text: str, action: Action | str, reason: str, actor: Principal, outcome: str | None = None
    ) -> dict[str, Any]:
        """Move a report along the procedure (the table in procedure.py decides); a referral is queued in the same
        transaction as the move to `referred`."""
        ref = str(reference.parse(ref_text))
        self._worker(actor)
        reason = self._reason(reason)
        now = self.clock()
        stamp = iso(now)
        with self.store.write() as db:
            row = self._report(db.conn, ref)
            t = procedure.transition(action, row["state"], actor.role, actor.subject, row["officer"], outcome)
            closed_at = stamp if t.target == ReportState.CLOSED else None
            db.execute(
                "UPDATE reports SET state = ?, outcome = ?, state_since = ?, sla_due_at = ?, sla_breached = 0, "
                "closed_at = ? WHERE id = ?",
                [t.target.value, outcome, stamp, self._sla_due(row["type"], t.target, now), closed_at, row["id"]],
            )
            self._log_transition(db, row, t.action.value, t.target.value, actor, reason, stamp, outcome=outcome)
            after: dict[str, Any] = {"reference": ref, "action": t.action.value, "state": t.target.value}
            if outcome:
                after["outcome"] = outcome
            if t.action == Action.REFER:
                after["referral_id"] = self._queue_referral(db, row, stamp)
            self.audit.append(actor, "report.transition", "report", ref, {"state": row["state"]}, after, db=db)
        self._changed(ref, ReportChange.MOVED)
        return self._summary(self._report(self.store.read().conn, ref))

    def assign(self, ref_text: str, officer: str, reason: str, actor: Principal) -> dict[str, Any]:
        ref = str(reference.parse(ref_text))
        self._worker(actor)
        reason = self._reason(reason)
        if self.staff_role(officer) not in ("officer", "supervisor"):
            raise Invalid(f"{officer!r} is not an active officer or supervisor")
        stamp = iso(self.clock())
        with self.store.write() as db:
            row = self._report(db.conn, ref)
            procedure.check_assign(row["state"], actor.role, actor.subject, row["officer"], officer)
            db.execute("UPDATE reports SET officer = ? WHERE id = ?", [officer, row["id"]])
            self._log_transition(db, row, "assign", row["state"], actor, reason, stamp, officer=officer)
            self.audit.append(
                actor, "report.assign", "report", ref, {"officer": row["officer"]}, {"officer": officer}, db=db
            )
        self._changed(ref, ReportChange.ASSIGNED)
        return self._summary(self._report(self.store.read().conn, ref))

    def _workable(self, row: dict[str, Any], actor: Principal, what: str) -> None:
        procedure.check_work(row["state"], actor.role, actor.subject, row["officer"], what)

    def add_party(self, ref_text: str, party: PartyIn, actor: Principal) -> dict[str, Any]:
        ref = str(reference.parse(ref_text))
        self._worker(actor)
        doc_hash = self._check_party(party)
        stamp = iso(self.clock())
        with self.store.write() as db:
            row = self._report(db.conn, ref)
            self._workable(row, actor, "add a party")
            pid = self._insert_party(db, row["id"], party, doc_hash, actor, stamp)
            self.audit.append(
                actor, "report.party_add", "report", ref, None, {"party_id": pid, "role": party.role.value}, db=db
            )
        self._changed(ref, ReportChange.PARTY)
        return {"id": pid, "role": party.role.value}

    def record_statement(
        self,
        ref_text: str,
        party_id: int,
        text: str,
        acknowledgement: Acknowledgement | str,
        actor: Principal,
        corrects: int | None = None,
    ) -> dict[str, Any]:
        """Record a party's statement; a correction is a new version that names the one it corrects (never an edit)."""
        ref = str(reference.parse(ref_text))
        self._worker(actor)
        if not isinstance(text, str) or not text.strip() or len(text) > 50_000:
            raise Invalid("a statement is 1-50000 characters of text")
        ack = Acknowledgement(acknowledgement)
        stamp = iso(self.clock())
        with self.store.write() as db:
            row = self._report(db.conn, ref)
            if row["state"] not in OPEN_STATES:
                raise Conflict(
                    f"statements are recorded once a report is received and before it is referred or "
                    f"closed; it is {row['state']}",
                    state=row["state"],
                )
            self._workable(row, actor, "record a statement")
            party = fetch_one(
                db.conn, "SELECT id FROM report_parties WHERE id = ? AND report_id = ?", [party_id, row["id"]]
            )
            if party is None:
                raise NotFound(f"report {ref} has no party {party_id}")
            version = 1
            if corrects is not None:
                old = fetch_one(
                    db.conn,
                    "SELECT id, party_id, version FROM report_statements WHERE id = ? AND report_id = ?",
                    [corrects, row["id"]],
                )
                if old is None or old["party_id"] != party_id:
                    raise NotFound(f"no statement {corrects} of party {party_id} on report {ref}")
                if fetch_one(db.conn, "SELECT 1 FROM report_statements WHERE corrects = ?", [corrects]):
                    raise Conflict(f"statement {corrects} was already corrected: correct its latest version")
                version = old["version"] + 1
            sid = _next_id(db, "report_statements")  # the sealed text is bound to its row id, known before insert
            db.execute(
                "INSERT INTO report_statements (id, report_id, party_id, version, corrects, text_ct, acknowledgement, "
                "recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    sid,
                    row["id"],
                    party_id,
                    version,
                    corrects,
                    self.sealer.seal(text.strip(), f"report_statements.text_ct:{sid}"),
                    ack.value,
                    actor.label,
                    stamp,
                ],
            )
            self.audit.append(
                actor,
                "report.statement",
                "report",
                ref,
                None,
                {
                    "statement_id": sid,
                    "party_id": party_id,
                    "version": version,
                    "corrects": corrects,
                    "acknowledgement": ack.value,
                },
                db=db,
            )
        self._changed(ref, ReportChange.STATEMENT)
        return {"id": sid, "version": version, "corrects": corrects}

    def add_note(
        self, ref_text: str, text: str, actor: Principal, action: OfficerAction | str | None = None
    ) -> dict[str, Any]:
        """An officer's note (internal to the station), or with `action` an entry in the list of actions taken."""
        ref = str(reference.parse(ref_text))
        self._worker(actor)
        if not isinstance(text, str) or not text.strip() or len(text) > 10_000:
            raise Invalid("a note is 1-10000 characters of text")
        kind = "note" if action is None else "action"
        what = None if action is None else OfficerAction(action).value
        stamp = iso(self.clock())
        with self.store.write() as db:
            row = self._report(db.conn, ref)
            if row["state"] == ReportState.CLOSED:
                raise Conflict("the report is closed", state=row["state"])
            nid = _next_id(db, "report_notes")
            db.execute(
                "INSERT INTO report_notes (id, report_id, kind, action, text_ct, author, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    nid,
                    row["id"],
                    kind,
                    what,
                    self.sealer.seal(text.strip(), f"report_notes.text_ct:{nid}"),
                    actor.label,
                    stamp,
                ],
            )
            self.audit.append(actor, f"report.{kind}", "report", ref, None, {"id": nid, "action": what}, db=db)
        self._changed(ref, ReportChange.NOTE)
        return {"id": nid, "kind": kind, "action": what}

    # -- sharing with other agencies ---------------------------------------------------------------------------
    def share(self, ref_text: str, agency_user: str, purpose: str, until: datetime, actor: Principal) -> dict[str, Any]:
        """A supervisor shares one report with one agency user, for a stated purpose, until a date."""
        ref = str(reference.parse(ref_text))
        if actor.role not in procedure.SUPERVISORS:
            raise Forbidden("only a supervisor shares reports with other agencies")
        purpose = self._reason(purpose)
        now = self.clock()
        if until.tzinfo is None:
            raise Invalid("until needs a time zone offset")
        if until <= now or until > now + timedelta(days=self.settings.max_share_days):
            raise Invalid(f"until must be in the future and within {self.settings.max_share_days} days")
        if self.staff_role(agency_user) != "agency_viewer":
            raise Invalid(f"{agency_user!r} is not an active agency_viewer account")
        agency = self.settings.agency_of(agency_user)
        if agency is None:
            raise Invalid(f"{agency_user!r} belongs to no agency of the data-sharing table ([edge.reports.agencies])")
        with self.store.write() as db:
            row = self._report(db.conn, ref)
            sid = _next_id(db, "report_shares")
            db.execute(
                "INSERT INTO report_shares (id, report_id, agency_user, agency, purpose_ct, until, shared_by, shared_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    sid,
                    row["id"],
                    agency_user,
                    agency[0],
                    self.sealer.seal(purpose, f"report_shares.purpose_ct:{sid}"),
                    iso(until),
                    actor.label,
                    iso(now),
                ],
            )
            after = {
                "share_id": sid,
                "agency_user": agency_user,
                "agency": agency[0],
                "until": iso(until),
                "sees": agency[1].sees.value,
            }
            self.audit.append(actor, "report.share", "report", ref, None, after, db=db)
        self._changed(ref, ReportChange.SHARED)
        return {
            "id": sid,
            "agency_user": agency_user,
            "agency": agency[0],
            "until": iso(until),
            "sees": agency[1].sees.value,
        }

    def revoke_share(self, ref_text: str, share_id: int, actor: Principal) -> None:
        ref = str(reference.parse(ref_text))
        if actor.role not in procedure.SUPERVISORS:
            raise Forbidden("only a supervisor revokes shares")
        with self.store.write() as db:
            row = self._report(db.conn, ref)
            share = fetch_one(
                db.conn,
                "SELECT id, revoked_at FROM report_shares WHERE id = ? AND report_id = ?",
                [share_id, row["id"]],
            )
            if share is None:
                raise NotFound(f"report {ref} has no share {share_id}")
            if share["revoked_at"] is None:
                db.execute("UPDATE report_shares SET revoked_at = ? WHERE id = ?", [iso(self.clock()), share_id])
                self.audit.append(actor, "report.unshare", "report", ref, None, {"share_id": share_id}, db=db)
        self._changed(ref, ReportChange.UNSHARED)

    def reads_by(self, actor: Principal, source: str = "-", limit: int = 200) -> list[dict[str, Any]]:
        """What this user has read (their own audit trail of reads); reading it is itself audited."""
        rows = self.store.query(
            "SELECT seq, ts, action, entity_id, after FROM audit_log WHERE actor = ? AND actor_kind = ? "
            "AND action IN ('report.read', 'report.list') ORDER BY seq DESC LIMIT ?",
            [actor.subject, actor.kind, limit],
        )
        out = []
        for r in rows:
            after = json.loads(r["after"] or "{}")
            out.append(
                {
                    "seq": r["seq"],
                    "at": r["ts"],
                    "action": r["action"],
                    "reference": r["entity_id"],
                    "view": after.get("view"),
                    "outcome": after.get("outcome"),
                    "source": after.get("source"),
                }
            )
        self.audit.append(
            actor,
            "audit.read",
            "audit_log",
            None,
            None,
            {"scope": "own_reads", "source": source, "outcome": "ok", "count": len(out)},
        )
        return out

    # -- referral ----------------------------------------------------------------------------------------------
    def _queue_referral(self, db: sqlite_utils.Database, row: dict[str, Any], stamp: str) -> str:
        referral_id = str(uuid.uuid4())
        package = self._package(db.conn, row, referral_id, stamp)
        signed = self.signer.sign(package)
        db.execute(
            "INSERT INTO report_referrals (id, report_id, created_at, package_ct, status, next_attempt_at) "
            "VALUES (?, ?, ?, ?, 'pending', ?)",
            [
                referral_id,
                row["id"],
                stamp,
                self.sealer.seal(signed, f"report_referrals.package_ct:{referral_id}"),
                stamp,
            ],
        )
        return referral_id

    def _package(self, conn: sqlite3.Connection, row: dict[str, Any], referral_id: str, stamp: str) -> dict[str, Any]:
        page = self._page(conn, row, ShareScope.STATEMENTS, staff=True)
        rtype = self.catalogue.get(row["type"])
        return {
            "format": FORMAT,
            "referral_id": referral_id,
            "station": self.station,
            "reference": row["reference"],
            "created_at": stamp,
            "report": {
                "type": rtype.code,
                "type_name_ar": rtype.name_ar,
                "type_name_en": rtype.name_en,
                "channel": row["channel"],
                "filed_at": row["filed_at"],
                "officer": row["officer"],
                "details": page["details"],
            },
            "parties": page["parties"],
            "statements": page["statements"],
            "actions": page["actions"],
            "timeline": page["timeline"],
        }

    def referral_document(self, ref_text: str, actor: Principal, source: str = "-") -> dict[str, Any]:
        """The signed package of a report's latest referral (for export and offline checking); audited as a read."""
        ref = str(reference.parse(ref_text))
        if actor.role not in procedure.SUPERVISORS:
            raise Forbidden("only a supervisor exports a referral package")
        conn = self.store.read().conn
        row = fetch_one(conn, "SELECT id FROM reports WHERE reference = ?", [ref])
        referral = (
            None
            if row is None
            else fetch_one(
                conn,
                "SELECT id, package_ct FROM report_referrals WHERE report_id = ? ORDER BY created_at DESC LIMIT 1",
                [row["id"]],
            )
        )
        if referral is None:
            self._record_read(actor, ref, "referral", source, ReadOutcome.NOT_FOUND)
            raise NotFound(f"report {ref} has no referral")
        self._record_read(actor, ref, "referral", source, ReadOutcome.OK)
        document: dict[str, Any] = self.sealer.open(
            referral["package_ct"], f"report_referrals.package_ct:{referral['id']}"
        )
        return document

    # -- timers: SLA breaches and retention --------------------------------------------------------------------
    def check_sla(self) -> list[dict[str, Any]]:
        """Mark reports whose current state's SLA ran out; each breach is audited and announced (type, state and
        overdue time only) for telemetry to carry to central."""
        now = self.clock()
        due = self.store.query(
            "SELECT id, reference, type, state, sla_due_at FROM reports WHERE sla_breached = 0 "
            "AND sla_due_at IS NOT NULL AND sla_due_at <= ? AND state != 'closed'",
            [iso(now)],
        )
        breaches = []
        for r in due:
            with self.store.write() as db:
                cur = self._report(db.conn, r["reference"])
                if cur["sla_breached"] or cur["sla_due_at"] != r["sla_due_at"]:
                    continue  # moved on meanwhile
                db.execute("UPDATE reports SET sla_breached = 1 WHERE id = ?", [r["id"]])
                overdue = max(0.0, (now - parse_iso(r["sla_due_at"])).total_seconds())
                event = {"type": r["type"], "state": r["state"], "overdue_s": round(overdue, 1)}
                self.audit.append(SYSTEM, "report.sla_breach", "report", r["reference"], None, event, db=db)
            breaches.append(event)
            self.events.publish("reports.sla_breached", event)
            self._changed(r["reference"], ReportChange.SLA)
        return breaches

    def purge_expired(self) -> list[str]:
        """Remove the personal data of reports closed longer than the retention time; the procedure (states, dates,
        timeline) and the audit trail stay."""
        now = self.clock()
        cutoff = iso(now - timedelta(days=self.settings.retention_days))
        rows = self.store.query(
            "SELECT id, reference FROM reports WHERE closed_at IS NOT NULL AND closed_at <= ? AND purged_at IS NULL",
            [cutoff],
        )
        stamp = iso(now)
        for r in rows:
            with self.store.write() as db:
                db.execute("UPDATE reports SET details_ct = NULL, purged_at = ? WHERE id = ?", [stamp, r["id"]])
                db.execute(
                    "UPDATE report_parties SET name_ct = NULL, document_number_ct = NULL, nationality_ct = NULL, "
                    "birth_date_ct = NULL, contact_ct = NULL, document_hmac = NULL, purged_at = ? WHERE report_id = ?",
                    [stamp, r["id"]],
                )
                db.execute(
                    "UPDATE report_statements SET text_ct = NULL, purged_at = ? WHERE report_id = ? "
                    "AND purged_at IS NULL",
                    [stamp, r["id"]],
                )
                db.execute("UPDATE report_notes SET text_ct = NULL WHERE report_id = ?", [r["id"]])
                db.execute("UPDATE report_transitions SET reason_ct = NULL WHERE report_id = ?", [r["id"]])
                for ref_row in fetch_all(db.conn, "SELECT id FROM report_referrals WHERE report_id = ?", [r["id"]]):
                    db.execute(
                        "UPDATE report_referrals SET package_ct = ? WHERE id = ?",
                        [
                            self.sealer.seal({"purged": stamp}, f"report_referrals.package_ct:{ref_row['id']}"),
                            ref_row["id"],
                        ],
                    )
                self.audit.append(
                    SYSTEM,
                    "report.purge",
                    "report",
                    r["reference"],
                    None,
                    {"retention_days": self.settings.retention_days},
                    db=db,
                )
            self._changed(r["reference"], ReportChange.PURGED)
        return [r["reference"] for r in rows]

    # -- counts for telemetry ----------------------------------------------------------------------------------
    def counts(self) -> dict[str, Any]:
        """Counts only (by type and state, SLA breaches open, referrals pending): what telemetry may carry."""
        by = self.store.query(
            "SELECT type, state, count(*) AS n FROM reports GROUP BY type, state ORDER BY type, state"
        )
        breached = self.store.query_one(
            "SELECT count(*) AS n FROM reports WHERE sla_breached = 1 AND state != 'closed'"
        )
        pending = self.store.query_one(
            "SELECT count(*) AS n FROM report_referrals WHERE status = ?", [ReferralStatus.PENDING.value]
        )
        return {
            "by_type_state": [{"type": r["type"], "state": r["state"], "count": r["n"]} for r in by],
            "sla_breaches": breached["n"] if breached else 0,
            "referrals_pending": pending["n"] if pending else 0,
        }
