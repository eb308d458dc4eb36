"""Reports (بلاغات): kiosks file and track, officers and supervisors work them, agency users read what was shared.

Routers only translate HTTP: parse, call ReportService, shape the answer. Plain `def`: every call hashes or writes
SQLite. The caller's address goes to the service as the "from where" of the audit record."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from edge.api.deps import get_node, require
from edge.api.schemas import error
from edge.auth.principal import Principal
from edge.errors import Invalid
from edge.reports.catalogue import ReportType
from edge.reports.service import Filters, PartyIn
from edge.reports.vocabulary import (
    Acknowledgement,
    Action,
    Channel,
    DocumentType,
    OfficerAction,
    Outcome,
    PartyRole,
    ReferralStatus,
    ReportState,
    ShareScope,
)

router = APIRouter(prefix="/reports", tags=["reports"])
Ref = Annotated[
    str, Path(min_length=10, max_length=40, description="e.g. OLY-2026-000123-42", examples=["OLY-2026-000001-86"])
]


def _source(request: Request) -> str:
    return request.client.host if request.client else "-"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PartyBody(_Body):
    role: PartyRole = PartyRole.COMPLAINANT
    name: str = Field(min_length=1, max_length=200)
    document_type: DocumentType | None = None
    document_number: str | None = Field(None, max_length=64)
    nationality: str | None = Field(None, max_length=64)
    birth_date: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    contact: str | None = Field(None, max_length=200)

    def to_party(self) -> PartyIn:
        return PartyIn(
            self.role,
            self.name,
            self.document_type,
            self.document_number,
            self.nationality,
            self.birth_date,
            self.contact,
        )


class FileRequest(_Body):
    type: str = Field(min_length=1, max_length=32, examples=["theft"])
    details: dict[str, Any] = Field(description="the type's fields (see /reports/types)")
    complainant: PartyBody = Field(description="at a kiosk: the identity read from the verified chip")


class Filed(BaseModel):
    reference: str
    pin: str = Field(description="the tracking PIN: shown this once, printed on the receipt, kept only as a hash")
    type: str
    state: ReportState
    filed_at: datetime
    next_step_ar: str
    next_step_en: str


class TrackRequest(_Body):
    reference: str = Field(min_length=10, max_length=40)
    pin: str | None = Field(None, pattern=r"^\d{4,10}$")
    document_number: str | None = Field(None, max_length=64, description="instead of the PIN: the complainant's card")


class SearchRequest(_Body):
    """The reports where a party holds a document: in a body, so the number stays out of URLs and their logs."""

    document_number: str = Field(min_length=1, max_length=64, description="a party's document (its keyed hash is used)")
    state: ReportState | None = None
    type: str | None = Field(None, max_length=32)
    limit: int = Field(50, ge=1, le=500)
    before: str | None = Field(None, min_length=10, max_length=40, description="the next page: the `older` answer")


class Step(BaseModel):
    state: ReportState
    at: datetime


class VisitorView(BaseModel):
    reference: str
    type: str
    type_name_ar: str
    type_name_en: str
    state: ReportState
    outcome: Outcome | None
    filed_at: datetime
    state_since: datetime
    steps: list[Step]
    next_step_ar: str
    next_step_en: str
    referral: ReferralStatus | None
    case_number: str | None


class Summary(BaseModel):
    reference: str
    type: str
    channel: Channel
    state: ReportState
    outcome: Outcome | None
    officer: str | None
    filed_at: datetime
    state_since: datetime
    sla_due_at: datetime | None
    sla_breached: bool
    case_number: str | None
    closed_at: datetime | None
    purged_at: datetime | None


class SummaryList(BaseModel):
    reports: list[Summary]
    older: str | None = Field(None, description="more reports follow: pass this as `before` for the next page")


class TimelineEntry(BaseModel):
    action: str
    from_state: str
    to_state: str
    outcome: Outcome | None
    officer: str | None
    actor: str
    at: datetime
    reason: str | None = Field(description="station staff only")


class Party(BaseModel):
    id: int
    role: PartyRole
    verified: bool
    document_type: DocumentType | None = None
    name: str | None = None
    document_number: str | None = None
    nationality: str | None = None
    birth_date: str | None = None
    contact: str | None = None
    added_by: str | None = None
    added_at: datetime | None = None
    purged_at: datetime | None = None


class Statement(BaseModel):
    id: int
    party_id: int
    version: int
    corrects: int | None
    superseded_by: int | None
    text: str | None
    acknowledgement: Acknowledgement
    recorded_by: str
    recorded_at: datetime
    purged_at: datetime | None


class NoteOut(BaseModel):
    id: int
    author: str
    at: datetime
    text: str | None
    action: OfficerAction | None = None


class ShareOut(BaseModel):
    id: int
    agency_user: str
    agency: str
    until: datetime
    shared_by: str
    shared_at: datetime
    revoked_at: datetime | None


class ReferralOut(BaseModel):
    id: str
    status: ReferralStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None
    case_number: str | None
    acknowledged_at: datetime | None


class ReportPage(Summary):
    scope: ShareScope = Field(description="what this reader may see: procedure only, or statements too")
    details: dict[str, Any] | None
    timeline: list[TimelineEntry]
    parties: list[Party]
    statements: list[Statement]
    notes: list[NoteOut] = Field(description="officers' notes: station staff only")
    actions: list[NoteOut]
    shares: list[ShareOut]
    referral: ReferralOut | None


class TransitionRequest(_Body):
    action: Action
    reason: str = Field(min_length=3, max_length=2000)
    outcome: Outcome | None = Field(None, description="closing only")


class AssignRequest(_Body):
    officer: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=3, max_length=2000)


class StatementRequest(_Body):
    party_id: int
    text: str = Field(min_length=1, max_length=50_000)
    acknowledgement: Acknowledgement
    corrects: int | None = Field(None, description="the statement this one corrects (a new version; never an edit)")


class NoteRequest(_Body):
    text: str = Field(min_length=1, max_length=10_000)
    action: OfficerAction | None = Field(None, description="set: an action taken; unset: an internal note")


class ShareRequest(_Body):
    agency_user: str = Field(min_length=1, max_length=64)
    purpose: str = Field(min_length=3, max_length=2000)
    until: datetime


class Created(BaseModel):
    id: int


class StatementCreated(Created):
    version: int
    corrects: int | None


class ShareCreated(Created):
    agency_user: str
    agency: str
    until: datetime
    sees: ShareScope


class TypeList(BaseModel):
    types: list[ReportType]


class ReadEntry(BaseModel):
    seq: int
    at: datetime
    action: str
    reference: str | None
    view: str | None
    outcome: str | None
    source: str | None


class ReadList(BaseModel):
    reads: list[ReadEntry]


@router.get("/types", response_model=TypeList, summary="Report types and their fields (a kiosk sees kiosk types)")
def list_types(request: Request, principal: Principal = Depends(require("reports.file"))) -> dict:
    channel = Channel.KIOSK if principal.kind == "device" else None
    return {"types": get_node(request).reports.types(channel)}


@router.post("", status_code=201, response_model=Filed, summary="File a report (kiosk: for the verified visitor)")
def file_report(body: FileRequest, request: Request, principal: Principal = Depends(require("reports.file"))) -> dict:
    return get_node(request).reports.file(
        body.type, body.details, body.complainant.to_party(), principal, _source(request)
    )


@router.post(
    "/track", response_model=VisitorView, summary="The visitor follows a report with its reference and PIN or card"
)
def track(body: TrackRequest, request: Request, principal: Principal = Depends(require("reports.track"))) -> dict:
    return get_node(request).reports.track(body.reference, principal, body.pin, body.document_number, _source(request))


@router.get(
    "", response_model=SummaryList, summary="Reports with filters (an agency user: only those shared with them)"
)
def list_reports(
    request: Request,
    state: ReportState | None = Query(None),
    type: str | None = Query(None, max_length=32),
    officer: str | None = Query(None, max_length=64),
    sla_breached: bool | None = Query(None),
    document: str | None = Query(None, include_in_schema=False, max_length=64),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
    before: str | None = Query(
        None,
        min_length=10,
        max_length=40,
        description="the next page: the reports filed before this reference (the last one of the page before)",
    ),
    principal: Principal = Depends(require("reports.read")),
) -> dict:
    if document is not None:  # the earlier form of the search: refused by name rather than silently ignored
        raise Invalid("a document number is not taken in a URL, where logs keep it: POST /api/v1/reports/search")
    filters = Filters(state, type, officer, sla_breached, limit, offset, before=before)
    reports, more = get_node(request).reports.list_page(principal, filters, _source(request))
    return {"reports": reports, "older": reports[-1]["reference"] if more else None}


@router.post(
    "/search", response_model=SummaryList, summary="Reports where a party holds this document (newest first, paged)"
)
def search(body: SearchRequest, request: Request, principal: Principal = Depends(require("reports.read"))) -> dict:
    filters = Filters(body.state, body.type, limit=body.limit, document=body.document_number, before=body.before)
    reports, more = get_node(request).reports.list_page(principal, filters, _source(request))
    return {"reports": reports, "older": reports[-1]["reference"] if more else None}


@router.get("/reads/mine", response_model=ReadList, summary="What the caller has read (their audit trail of reads)")
def my_reads(request: Request, principal: Principal = Depends(require("reports.read"))) -> dict:
    return {"reads": get_node(request).reports.reads_by(principal, _source(request))}


@router.get(
    "/{reference}", response_model=ReportPage, summary="A report's page (what the caller's role and share allow)"
)
def get_report(reference: Ref, request: Request, principal: Principal = Depends(require("reports.read"))) -> dict:
    return get_node(request).reports.get(reference, principal, _source(request))


@router.post("/{reference}/transitions", response_model=Summary, summary="Move the report along the procedure")
def move(
    reference: Ref, body: TransitionRequest, request: Request, principal: Principal = Depends(require("reports.work"))
) -> dict:
    return get_node(request).reports.transition(reference, body.action, body.reason, principal, body.outcome)


@router.post("/{reference}/assign", response_model=Summary, summary="Assign the report to an officer")
def assign(
    reference: Ref, body: AssignRequest, request: Request, principal: Principal = Depends(require("reports.work"))
) -> dict:
    return get_node(request).reports.assign(reference, body.officer, body.reason, principal)


@router.post("/{reference}/parties", status_code=201, response_model=Created, summary="Add a party (accused, witness)")
def add_party(
    reference: Ref, body: PartyBody, request: Request, principal: Principal = Depends(require("reports.work"))
) -> dict:
    return get_node(request).reports.add_party(reference, body.to_party(), principal)


@router.post(
    "/{reference}/statements",
    status_code=201,
    response_model=StatementCreated,
    summary="Record a party's statement, or a correction of one as a new version",
    responses={413: error("the body is over the API's 64 KiB limit for JSON: record a long statement in parts")},
)
def record_statement(
    reference: Ref, body: StatementRequest, request: Request, principal: Principal = Depends(require("reports.work"))
) -> dict:
    return get_node(request).reports.record_statement(
        reference, body.party_id, body.text, body.acknowledgement, principal, body.corrects
    )


@router.post("/{reference}/notes", status_code=201, response_model=Created, summary="Add a note or an action taken")
def add_note(
    reference: Ref, body: NoteRequest, request: Request, principal: Principal = Depends(require("reports.work"))
) -> dict:
    return get_node(request).reports.add_note(reference, body.text, principal, body.action)


@router.post(
    "/{reference}/shares",
    status_code=201,
    response_model=ShareCreated,
    summary="Share the report with an agency user, for a purpose, until a date",
)
def share(
    reference: Ref, body: ShareRequest, request: Request, principal: Principal = Depends(require("reports.share"))
) -> dict:
    return get_node(request).reports.share(reference, body.agency_user, body.purpose, body.until, principal)


@router.delete("/{reference}/shares/{share_id}", status_code=204, summary="End a share")
def unshare(
    reference: Ref, share_id: int, request: Request, principal: Principal = Depends(require("reports.share"))
) -> Response:
    get_node(request).reports.revoke_share(reference, share_id, principal)
    return Response(status_code=204)


@router.get("/{reference}/referral", summary="The signed referral package (JSON) as sent to the prosecution")
def referral_package(
    reference: Ref, request: Request, principal: Principal = Depends(require("reports.share"))
) -> dict:
    return get_node(request).reports.referral_document(reference, principal, _source(request))
