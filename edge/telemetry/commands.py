"""Commands from central: validate, check freshness, execute at most once (ids remembered), answer on `cmd/{name}/ack`.

Each command is a small handler in a registry (`edge/telemetry/handlers.py`), fed the narrow callables it needs.
Commands arrive through the inbox (committed by the MQTT link before its PUBACK) and run on the command worker's
thread, never on paho's network thread. The effect, the remembered id, the ack and the inbox row's deletion are
one transaction: a command redelivered after a crash is recognised as a duplicate, never executed twice.
Malformed, unknown, stale or invalid commands change nothing and get an error ack.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from edge.store import Store
from edge.telemetry.inbox import Inbox
from edge.telemetry.outbox import Outbox
from edge.telemetry.settings import MqttSettings
from markaz.clock import iso, utcnow
from markaz.contracts import mqtt as contract

log = logging.getLogger(__name__)

_ID = TypeAdapter(contract.CommandId)
_NAME = TypeAdapter(contract.CommandName)


class CommandRejected(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Outcome:
    """What a handler did: the ack's result, and what to do once its transaction is committed."""

    result: contract.AckResult
    after_commit: list[Callable[[], None]] = field(default_factory=list)


Handler = Callable[[BaseModel], Outcome]  # raises CommandRejected for an answer such as not_found


def _ascii(text: str) -> str:
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)[:500]


def _valid(adapter: TypeAdapter[Any], value: object) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


class Commands:
    """The registry: command name -> handler, with the rules every command shares."""

    def __init__(
        self,
        store: Store,
        outbox: Outbox,
        settings: MqttSettings,
        handlers: Mapping[str, Handler],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        unknown = set(handlers) - set(contract.COMMAND_PARAMS)
        if unknown:
            raise ValueError(f"handlers for commands the contract does not define: {sorted(unknown)}")
        self.store = store
        self.outbox = outbox
        self.settings = settings
        self.handlers = dict(handlers)
        self.clock = clock

    def handle(self, topic: str, payload: bytes, inbox_id: int | None = None) -> contract.CommandAck:
        """Handle one command message; returns the ack it got (already committed to the outbox)."""
        info = contract.parse_topic(topic)
        name = info.params.get("name", "") if info and info.key == "cmd" else ""
        ack_name = name if _valid(_NAME, name) else "invalid"
        command_id: str | None = None
        try:
            command_id, command = self._parse(payload)
            self._check_fresh(command)
            if name not in self.handlers:
                raise CommandRejected(
                    "unknown_command", f"unknown command {_ascii(name)!r}; known: " + ", ".join(sorted(self.handlers))
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
            with self.store.write() as db:
                self.outbox.enqueue("cmd.ack", ack, name=ack_name)
                if inbox_id is not None:
                    Inbox.done(db, inbox_id)
            log.warning("command on %s rejected: %s", topic, exc.message)
            return ack
        assert command_id is not None  # a valid Command has one
        return self._execute_once(name, command_id, params, inbox_id)

    def _parse(self, payload: bytes) -> tuple[str | None, contract.Command]:
        try:
            raw = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            raise CommandRejected("malformed", "payload is not JSON") from None
        maybe_id = raw.get("id") if isinstance(raw, dict) else None
        command_id = maybe_id if _valid(_ID, maybe_id) else None
        try:
            return command_id, contract.Command.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "command"
            raise CommandRejected("malformed", _ascii(f"{where}: {err['msg']}")) from None

    def _check_fresh(self, command: contract.Command) -> None:
        """A command stamped outside the window is refused: a replayed or long-queued order must not act now."""
        s = self.settings
        age = (self.clock() - command.ts).total_seconds()
        if age > s.command_max_age_s:
            raise CommandRejected(
                "stale", f"command stamped {age:.0f} s ago; the window is {s.command_max_age_s:.0f} s"
            )
        if -age > s.command_max_ahead_s:
            raise CommandRejected("stale", f"command stamped {-age:.0f} s ahead of the station's clock")

    @staticmethod
    def _digest(name: str, params: BaseModel) -> str:
        """What a command asks (name and validated params; not its ts, so a retry under the same id matches)."""
        return hashlib.sha256(f"{name}\n{params.model_dump_json()}".encode()).hexdigest()

    def _execute_once(self, name: str, command_id: str, params: BaseModel, inbox_id: int | None) -> contract.CommandAck:
        digest = self._digest(name, params)
        now = self.clock()
        s = self.settings
        outcome: Outcome | None = None
        with self.store.write() as db:
            if inbox_id is not None:
                Inbox.done(db, inbox_id)
            # an id only needs remembering while a command under it could still pass the window
            forget_before = now - timedelta(seconds=s.command_max_age_s + s.command_max_ahead_s)
            db.execute("DELETE FROM telemetry_commands WHERE received_at < ?", (iso(forget_before),))
            seen = db.execute("SELECT ack, digest FROM telemetry_commands WHERE id = ?", (command_id,)).fetchone()
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
                outcome = self.handlers[name](params)
                ack = contract.CommandAck(id=command_id, ok=True, result=outcome.result)
            except CommandRejected as exc:
                ack = contract.CommandAck(
                    id=command_id, ok=False, error=contract.AckError(code=exc.code, message=exc.message)
                )
            db.execute(
                "INSERT INTO telemetry_commands (id, name, received_at, ack, digest) VALUES (?, ?, ?, ?, ?)",
                (command_id, name, iso(now), ack.model_dump_json(), digest),
            )
            self.outbox.enqueue("cmd.ack", ack, name=name)
        for action in outcome.after_commit if outcome is not None else ():
            action()
        log.info("command %s (%s) executed: ok=%s", command_id, name, ack.ok)
        return ack


class CommandWorker:
    """Drains the inbox on a thread of its own: woken by an in-process put, and polling for another process's."""

    def __init__(self, inbox: Inbox, commands: Commands, poll_s: float = 0.25) -> None:
        self.inbox = inbox
        self.commands = commands
        self.poll_s = poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        inbox.on_put(self.wake)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="commands", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            self._wake.clear()
            try:
                for row in self.inbox.waiting():
                    if self._stop.is_set():
                        return
                    self.commands.handle(row.topic, row.payload, inbox_id=row.id)
                failures = 0
            except Exception:
                # the row stays in the inbox and is tried again, after a pause that grows with each failure
                failures += 1
                log.exception("command worker: handling failed (%d in a row)", failures)
            self._wake.wait(min(30.0, self.poll_s * 2 ** min(failures, 7)))
