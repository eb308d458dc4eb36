"""The audit log, read and verified by supervisors and admins.

Plain `def` routes: both read SQLite and verifying rehashes the whole chain, so they run on the thread pool and never
hold up the event loop (ticket issuing goes on meanwhile)."""

from dataclasses import asdict

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from edge.api.deps import get_node, require
from edge.auth.principal import Principal

router = APIRouter(prefix="/audit", tags=["audit"])


class AuditEntry(BaseModel):
    seq: int
    ts: str
    actor: str
    actor_kind: str
    action: str
    entity: str
    entity_id: str | None
    before: str | None
    after: str | None
    hash: str


class AuditPage(BaseModel):
    entries: list[AuditEntry]
    next_after_seq: int | None


class AuditVerification(BaseModel):
    ok: bool
    entries: int
    anchors: int
    head_seq: int
    first_broken_seq: int | None
    problems: list[str]


@router.get("", response_model=AuditPage, summary="Audit entries after a sequence number, oldest first")
def list_entries(
    request: Request,
    after_seq: int = Query(0, ge=0, le=2**63 - 1),
    limit: int = Query(100, ge=1, le=1000),
    action: str | None = Query(None, max_length=64),
    principal: Principal = Depends(require("audit.read")),
) -> AuditPage:
    node = get_node(request)
    # Reading the audit log is itself audited (CJIS 5.4): who read, from where, from which entry.
    source = request.client.host if request.client else "-"
    node.audit.append(
        principal,
        "audit.read",
        "audit_log",
        None,
        None,
        {"after_seq": after_seq, "action": action, "source": source, "outcome": "ok"},
    )
    page = node.audit.page(after_seq, limit, action)
    return AuditPage(entries=[AuditEntry(**asdict(e)) for e in page.entries], next_after_seq=page.next_after_seq)


@router.get("/verify", response_model=AuditVerification, summary="Recompute the chain and check the signed anchors")
def verify(request: Request, _: Principal = Depends(require("audit.read"))) -> AuditVerification:
    return AuditVerification(**asdict(get_node(request).audit.verify()))
