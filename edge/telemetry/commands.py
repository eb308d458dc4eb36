"""Commands from central: validate, execute at most once (ids remembered), answer on `cmd/{name}/ack`.

The effect, the remembered id and the ack are committed in one transaction, and the broker gets its PUBACK only
after that commit: a command redelivered after a crash is recognised as a duplicate, never executed twice.
Malformed or unknown commands change nothing and get an error ack.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import timedelta
from typing import TYPE_CHECKING

from pydantic import ValidationError

from markaz.clock import iso
from markaz.contracts import mqtt as contract

if TYPE_CHECKING:
    from edge.telemetry.service import TelemetryService

log = logging.getLogger(__name__)

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")


class CommandRejected(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _ascii(text: str) -> str:
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)[:500]


class Commands:
    def __init__(self, service: TelemetryService) -> None:
        self.service = service
        self.node = service.node
        self.outbox = service.outbox

    def handle(self, topic: str, payload: bytes) -> contract.CommandAck:
        """Handle one command message; returns the ack it got (already committed to the outbox)."""
        info = contract.parse_topic(topic)
        name = info.params.get("name", "") if info and info.key == "cmd" else ""
        ack_name = name if _NAME.match(name or "") else "invalid"
        command_id: str | None = None
        try:
            command_id, command = self._parse(payload)
            self._check_fresh(command)
            if name not in contract.COMMAND_PARAMS:
                raise CommandRejected(
                    "unknown_command",
                    f"unknown command {_ascii(name)!r}; known: " + ", ".join(sorted(contract.COMMAND_PARAMS)),
                )
            try:
                params = contract.COMMAND_PARAMS[name].model_validate(command.params)
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"]) or "params"
                raise CommandRejected("invalid_params", _ascii(f"{where}: {err['msg']}")) from None
        except CommandRejected as exc:
            # nothing was executed and nothing is remembered: central may retry with a corrected command
            ack = contract.CommandAck(
                id=command_id, ok=False, error=contract.AckError(code=exc.code, message=exc.message)
            )
            self.outbox.enqueue("cmd.ack", ack, name=ack_name)
            log.warning("command on %s rejected: %s", topic, exc.message)
            return ack
        return self._execute_once(name, command_id, params)

    def _check_fresh(self, command: contract.Command) -> None:
        """A command stamped outside the window is refused: a replayed or long-queued order must not act now."""
        s = self.service.settings
        now = self.node.clock()
        age = (now - command.ts).total_seconds()
        if age > s.command_max_age_s:
            raise CommandRejected(
                "stale", f"command stamped {age:.0f} s ago; the window is {s.command_max_age_s:.0f} s"
            )
        if -age > s.command_max_ahead_s:
            raise CommandRejected("stale", f"command stamped {-age:.0f} s ahead of the station's clock")

    @staticmethod
    def _digest(name: str, params) -> str:
        """What a command asks (name and validated params; not its ts, so a retry under the same id matches)."""
        return hashlib.sha256(f"{name}\n{params.model_dump_json()}".encode()).hexdigest()

    def _parse(self, payload: bytes) -> tuple[str | None, contract.Command]:
        try:
            raw = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            raise CommandRejected("malformed", "payload is not JSON") from None
        maybe_id = raw.get("id") if isinstance(raw, dict) else None
        command_id = maybe_id if isinstance(maybe_id, str) and _ID.match(maybe_id) else None
        try:
            return command_id, contract.Command.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "command"
            raise CommandRejected("malformed", _ascii(f"{where}: {err['msg']}")) from None

    def _execute_once(self, name: str, command_id: str, params) -> contract.CommandAck:
        after_commit: list = []
        digest = self._digest(name, params)
        now = self.node.clock()
        s = self.service.settings
        with self.node.store.write() as db:
            # an id only needs remembering while a command under it could still pass the window
            forget_before = now - timedelta(seconds=s.command_max_age_s + s.command_max_ahead_s)
            db.conn.execute("DELETE FROM telemetry_commands WHERE received_at < ?", (iso(forget_before),))
            seen = db.conn.execute("SELECT ack, digest FROM telemetry_commands WHERE id = ?", (command_id,)).fetchone()
            if seen is not None and seen[1] != digest:
                ack = contract.CommandAck(
                    id=command_id,
                    ok=False,
                    error=contract.AckError(
                        code="id_reused", message=f"id {command_id} was used by another command; not executed"
                    ),
                )
                self.outbox.enqueue("cmd.ack", ack, name=name)
                log.warning("command %s (%s) reuses the id of another command; refused", command_id, name)
                return ack
            if seen is not None:
                ack = contract.CommandAck.model_validate_json(seen[0]).model_copy(update={"duplicate": True})
                self.outbox.enqueue("cmd.ack", ack, name=name)
                log.info("command %s (%s) is a duplicate; not executed again", command_id, name)
                return ack
            try:
                result = self._run(name, params, after_commit)
                ack = contract.CommandAck(id=command_id, ok=True, result=result)
            except CommandRejected as exc:
                ack = contract.CommandAck(
                    id=command_id, ok=False, error=contract.AckError(code=exc.code, message=exc.message)
                )
            db.conn.execute(
                "INSERT INTO telemetry_commands (id, name, received_at, ack, digest) VALUES (?, ?, ?, ?, ?)",
                (command_id, name, iso(now), ack.model_dump_json(), digest),
            )
            self.outbox.enqueue("cmd.ack", ack, name=name)
        for action in after_commit:
            action()
        log.info("command %s (%s) executed: ok=%s", command_id, name, ack.ok)
        return ack

    def _run(self, name: str, params, after_commit: list) -> contract.AckResult:
        if name in ("kiosk.enable", "kiosk.disable"):
            from edge.auth.principal import Principal
            from edge.errors import NotFound

            enabled = name == "kiosk.enable"
            row = self.node.store.query_one("SELECT type, enabled FROM devices WHERE id = ?", [params.device])
            if row is None or row["type"] != "kiosk":
                raise CommandRejected("not_found", f"no kiosk {params.device!r} at this station")
            try:
                self.node.auth.set_device_enabled(params.device, enabled, Principal("system", "central", "system"))
            except NotFound:
                raise CommandRejected("not_found", f"no kiosk {params.device!r} at this station") from None
            after_commit.append(lambda: self.service.publish_devices("command", params.device))
            return contract.AckResult(device=params.device, enabled=enabled, changed=bool(row["enabled"]) != enabled)
        if name == "telemetry.snapshot":
            what = list(dict.fromkeys(params.what))
            self.service.publish_snapshot(what, reason="command")
            return contract.AckResult(published=what)
        if name == "node.rebirth":
            after_commit.append(self.service.rebirth)
            return contract.AckResult(published=["status", "queue", "devices", "verification", "node"])
        raise CommandRejected("unknown_command", f"unknown command {name!r}")  # pragma: no cover - checked before
