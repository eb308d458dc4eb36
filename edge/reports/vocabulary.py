"""The words of the reports domain, spelled once (the API, the store's CHECKs and the telemetry use these)."""

from __future__ import annotations

from enum import StrEnum

# Defined with the contracts (central needs it without the edge); re-exported here with the rest of the words.
from markaz.contracts.reports import ReportState as ReportState


class Outcome(StrEnum):
    RESOLVED = "resolved"
    WITHDRAWN = "withdrawn"
    REJECTED = "rejected"
    TRANSFERRED = "transferred"


class Action(StrEnum):
    RECEIVE = "receive"
    INVESTIGATE = "investigate"
    RETURN = "return"
    RESUME = "resume"
    REFER = "refer"
    CLOSE = "close"


class Channel(StrEnum):
    KIOSK = "kiosk"
    DESK = "desk"


class PartyRole(StrEnum):
    COMPLAINANT = "complainant"
    ACCUSED = "accused"
    WITNESS = "witness"


class DocumentType(StrEnum):
    PASSPORT = "passport"
    ID_CARD = "id_card"
    RESIDENCE_PERMIT = "residence_permit"
    OTHER = "other"


class Acknowledgement(StrEnum):
    """How the party acknowledged the statement as recorded."""

    SIGNED = "signed"
    READ_BACK = "read_back"
    REFUSED = "refused"


class OfficerAction(StrEnum):
    """Actions taken on a report, as the list on its page shows them."""

    SCENE_VISIT = "scene_visit"
    EVIDENCE_COLLECTED = "evidence_collected"
    SUMMONS_ISSUED = "summons_issued"
    CCTV_REQUESTED = "cctv_requested"
    BANK_CONTACTED = "bank_contacted"
    ITEM_RETURNED = "item_returned"
    OTHER = "other"


class ShareScope(StrEnum):
    """What an agency may see of a shared report (the data-sharing table in settings)."""

    PROCEDURE = "procedure"  # state, dates, timeline, type, parties' roles; no statements, no personal data
    STATEMENTS = "statements"  # the procedure plus parties and statements


class ReadOutcome(StrEnum):
    OK = "ok"
    DENIED = "denied"
    NOT_FOUND = "not_found"
    BAD_PIN = "bad_pin"
    LOCKED = "locked"


class ReferralStatus(StrEnum):
    PENDING = "pending"
    ACKNOWLEDGED = "acknowledged"


class ReportChange(StrEnum):
    """What changed on a report, as `reports.changed` announces it (with the reference): live pages redraw on it,
    a report's page for its own reference only, the list only for what its rows show."""

    FILED = "filed"
    MOVED = "moved"
    ASSIGNED = "assigned"
    PARTY = "party"
    STATEMENT = "statement"
    NOTE = "note"
    SHARED = "shared"
    UNSHARED = "unshared"
    REFERRAL = "referral"  # a delivery attempt or the prosecution's acknowledgement
    SLA = "sla"
    PURGED = "purged"


LIST_CHANGES = frozenset(set(ReportChange) - {ReportChange.PARTY, ReportChange.STATEMENT, ReportChange.NOTE})
# the event kinds that carry a `ReportChange` for one reference
CHANGE_EVENTS = ("reports.changed", "reports.referral_attempted", "reports.referral_acknowledged")
