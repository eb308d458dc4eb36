"""The station's catalogue of services and counters: a schema-validated TOML file, or the built-in sample."""

from __future__ import annotations

import json
from pathlib import Path

import sqlite_utils
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edge.audit.log import AuditLog
from edge.auth.principal import SYSTEM, Principal
from edge.errors import Conflict
from edge.store import Store
from edge.store.db import fetch_all
from markaz.config import ConfigError, read_toml

# Bounds that SQLite's 64-bit integers and the screens can hold; beyond them a value is a typing error.
MAX_TARGET_WAIT_S = 24 * 3600
MAX_PRIORITY = 1000


class ServiceDef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=r"^[a-z0-9_-]{1,32}$")
    name_ar: str = Field(min_length=1, max_length=200)
    name_en: str = Field(min_length=1, max_length=200)
    prefix: str = Field(pattern=r"^[A-Z]$", description="ticket letter, e.g. A for A001")
    target_wait_s: int = Field(gt=0, le=MAX_TARGET_WAIT_S)
    priority: int = Field(0, ge=-MAX_PRIORITY, le=MAX_PRIORITY, description="higher is called first")
    active: bool = True
    needs_identity: bool = Field(False, description="the kiosk asks for a verified identity (card + face) first")


class CounterDef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    name: str = Field("", max_length=200)
    services: list[str] = Field(min_length=1, max_length=64)
    open: bool = False


class Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    services: list[ServiceDef]
    counters: list[CounterDef] = []

    @model_validator(mode="after")
    def _consistent(self) -> Catalogue:
        codes = [s.code for s in self.services]
        prefixes = [s.prefix for s in self.services]
        if len(set(codes)) != len(codes):
            raise ValueError("service codes must be unique")
        if len(set(prefixes)) != len(prefixes):
            raise ValueError("service prefixes must be unique")
        counter_codes = [c.code for c in self.counters]
        if len(set(counter_codes)) != len(counter_codes):
            raise ValueError("counter codes must be unique")
        for counter in self.counters:
            if len(set(counter.services)) != len(counter.services):
                raise ValueError(f"counter {counter.code} lists a service twice")
            unknown = set(counter.services) - set(codes)
            if unknown:
                raise ValueError(f"counter {counter.code} serves unknown services {sorted(unknown)}")
        return self


SAMPLE_CATALOGUE = Catalogue(
    services=[
        ServiceDef(code="general", name_ar="خدمات عامة", name_en="General services", prefix="A", target_wait_s=900),
        ServiceDef(
            code="report",
            name_ar="تقديم بلاغ",
            name_en="File a report",
            prefix="R",
            target_wait_s=1200,
            needs_identity=True,
        ),
        ServiceDef(
            code="follow-up", name_ar="متابعة بلاغ", name_en="Follow up a report", prefix="F", target_wait_s=600
        ),
        ServiceDef(
            code="priority",
            name_ar="كبار السن وذوو الإعاقة",
            name_en="Elderly and people with disabilities",
            prefix="P",
            target_wait_s=300,
            priority=10,
        ),
        # staff-assisted: where the kiosk sends a visitor it could not verify (chip unreadable, face not matched)
        ServiceDef(code="reception", name_ar="الاستقبال", name_en="Reception", prefix="S", target_wait_s=600),
    ],
    counters=[
        CounterDef(
            code="1", name="Counter 1", services=["general", "report", "follow-up", "priority", "reception"], open=True
        ),
        CounterDef(code="2", name="Counter 2", services=["general", "report", "follow-up", "priority"], open=True),
        CounterDef(code="3", name="Counter 3", services=["report", "follow-up"], open=False),
    ],
)


def load_catalogue_file(path: Path) -> Catalogue:
    data = read_toml(Path(path))
    try:
        return Catalogue.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(root)"
            problems.append(f"{path}: {key}: {err['msg']}")
        raise ConfigError("; ".join(problems)) from None


def apply_catalogue(store: Store, audit: AuditLog, catalogue: Catalogue, actor: Principal = SYSTEM) -> bool:
    """Upsert services and counters; counters keep their open/closed state once they exist. Audited when it changes
    anything; returns whether it did. A prefix already held by another service is refused (Conflict): tickets
    already issued under it would change meaning. The queue calls this through `QueueService.apply_catalogue`,
    which announces the change."""
    with store.write() as db:
        held = {r["prefix"]: r["code"] for r in db.conn.execute("SELECT prefix, code FROM services")}
        clashes = [
            (s.prefix, s.code, held[s.prefix]) for s in catalogue.services if held.get(s.prefix, s.code) != s.code
        ]
        if clashes:
            prefix, code, other = clashes[0]
            raise Conflict(
                f"prefix {prefix} of service {code!r} is already used by service {other!r}; "
                "a prefix stays with its service",
                prefix=prefix, service=code, held_by=other,
            )  # fmt: skip
        before = _snapshot(db)
        for s in catalogue.services:
            db.execute(
                "INSERT INTO services (code, name_ar, name_en, prefix, target_wait_s, priority, active, needs_identity) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(code) DO UPDATE SET name_ar = excluded.name_ar, "
                "name_en = excluded.name_en, prefix = excluded.prefix, target_wait_s = excluded.target_wait_s, "
                "priority = excluded.priority, active = excluded.active, needs_identity = excluded.needs_identity",
                [
                    s.code,
                    s.name_ar,
                    s.name_en,
                    s.prefix,
                    s.target_wait_s,
                    s.priority,
                    int(s.active),
                    int(s.needs_identity),
                ],
            )
        for c in catalogue.counters:
            db.execute(
                "INSERT INTO counters (code, name, is_open) VALUES (?, ?, ?) "
                "ON CONFLICT(code) DO UPDATE SET name = excluded.name",
                [c.code, c.name or f"Counter {c.code}", int(c.open)],
            )
            db.execute("DELETE FROM counter_services WHERE counter = ?", [c.code])
            for service in c.services:
                db.execute("INSERT INTO counter_services (counter, service) VALUES (?, ?)", [c.code, service])
        after = _snapshot(db)
        if before == after:
            return False
        totals = db.conn.execute("SELECT (SELECT count(*) FROM services), (SELECT count(*) FROM counters)").fetchone()
        summary = {"services": totals[0], "counters": totals[1]}
        audit.append(actor, "catalogue.apply", "catalogue", None, None, summary, db=db)
        return True


def _snapshot(db: sqlite_utils.Database) -> str:
    """The catalogue as stored, as one comparable text (inside the writer's transaction)."""
    services = fetch_all(db.conn, "SELECT * FROM services ORDER BY code")
    counters = fetch_all(db.conn, "SELECT code, name FROM counters ORDER BY code")
    links = fetch_all(db.conn, "SELECT counter, service FROM counter_services ORDER BY counter, service")
    return json.dumps({"services": services, "counters": counters, "links": links}, sort_keys=True)
