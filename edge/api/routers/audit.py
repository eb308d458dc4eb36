"""The audit log, read and verified by supervisors and admins."""

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from edge.api.deps import get_node, require
from edge.audit.verify import read_anchors_file, verify_chain
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
async def list_entries(
    request: Request,
    after_seq: int = Query(0, ge=0),
    limit: int = Query(100, ge=1, le=1000),
    action: str | None = Query(None, max_length=64),
    _: Principal = Depends(require("audit.read")),
) -> AuditPage:
    node = get_node(request)
    sql = "SELECT seq, ts, actor, actor_kind, action, entity, entity_id, before, after, hash FROM audit_log WHERE seq > ?"
    params: list = [after_seq]
    if action:
        sql += " AND action = ?"
        params.append(action)
    rows = node.store.query(sql + " ORDER BY seq LIMIT ?", [*params, limit])
    return AuditPage(entries=[AuditEntry(**r) for r in rows], next_after_seq=rows[-1]["seq"] if len(rows) == limit else None)


@router.get("/verify", response_model=AuditVerification, summary="Recompute the chain and check the signed anchors")
async def verify(request: Request, _: Principal = Depends(require("audit.read"))) -> AuditVerification:
    node = get_node(request)
    rows = node.store.query("SELECT * FROM audit_log ORDER BY seq")
    report = verify_chain(rows, read_anchors_file(node.anchors_path(node.settings.data_dir)), node.keys.anchor_public_key)
    return AuditVerification(**report.__dict__)
