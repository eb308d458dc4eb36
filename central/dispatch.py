"""Commands sent to stations from the dashboard: checked against the contract, allowed to operators only, written
to the commands table and central's audit log in one transaction, then published (QoS 1, with expiry). The station's
ack is stored by the ingest (`CentralStore._ack`) against the same id, so the page shows it when it comes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

from pydantic import ValidationError

from central.staff import audit
from central.staff.roles import Permission, allowed
from central.staff.service import Staff
from central.store import CentralStore
from markaz.clock import iso, utcnow
from markaz.contracts import mqtt as contract

# publish(station, name, command): raises on failure (no broker, not acknowledged by it in time)
Publish = Callable[[str, str, contract.Command], None]


class CommandRefused(Exception):
    """Not sent: not allowed, unknown, invalid params, unknown station, or the broker did not take it."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class CommandDesk:
    def __init__(self, store: CentralStore, publish: Publish | None) -> None:
        """`publish` None: this dashboard has no broker connection, so it sends nothing (and says so)."""
        self.store = store
        self.publish = publish

    @property
    def available(self) -> bool:
        return self.publish is not None

    def send(self, who: Staff, station: str, name: str, params: dict[str, object]) -> str:
        """Send one command; its id. The audit entry and the commands row are written before it leaves."""
        if not allowed(who.role, Permission.COMMAND):
            raise CommandRefused("only central operators send commands", "forbidden")
        if name not in contract.COMMANDS:
            raise CommandRefused(f"unknown command {name!r}", "unknown_command")
        try:
            command = contract.COMMANDS[name].model_validate({"id": uuid.uuid4().hex, "ts": utcnow(), "params": params})
        except ValidationError as exc:
            raise CommandRefused(f"invalid params: {exc.errors()[0]['msg']}", "invalid_params") from None
        if self.publish is None:
            raise CommandRefused("this dashboard has no broker connection", "no_broker")
        if not self.store.query("SELECT 1 FROM stations WHERE station = ?", (station,)):
            raise CommandRefused(f"no station {station!r} has reported", "not_found")
        shown = command.model_dump(mode="json")["params"]
        with self.store.db.transaction() as tx:
            tx.execute(
                "INSERT INTO commands (id, station, name, params, sent_by, sent_at) VALUES (?, ?, ?, ?, ?, ?)",
                (command.id, station, name, json.dumps(shown, sort_keys=True), who.username, iso(command.ts)),
            )
            audit.append(tx, who.username, "staff", "command.send", "station", station,
                         {"command": name, "id": command.id, "params": shown})  # fmt: skip
        try:
            self.publish(station, name, command)
        except Exception as exc:
            with self.store.db.transaction() as tx:
                tx.execute("UPDATE commands SET ack_error = 'not_sent' WHERE id = ?", (command.id,))
                audit.append(tx, who.username, "staff", "command.not_sent", "station", station,
                             {"id": command.id, "error": type(exc).__name__})  # fmt: skip
            raise CommandRefused("the broker did not take the command; nothing was sent", "not_sent") from None
        return command.id
