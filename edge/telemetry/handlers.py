"""The station's commands, one small handler each, built from the narrow callables it needs (no node, no service).

A handler runs inside the transaction that remembers the command id and enqueues its ack: what it changes through
the store joins that transaction; what must wait for the commit (publishing, asking the link) goes in `after_commit`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from edge.errors import DomainError, NotFound
from edge.telemetry.commands import CommandRejected, Handler, Outcome
from markaz.contracts import mqtt as contract

SNAPSHOT_KINDS: tuple[str, ...] = ("queue", "devices", "verification", "node", "reports")


def kiosk_switch(
    enabled: bool,
    lookup: Callable[[str], tuple[str, bool] | None],
    set_enabled: Callable[[str, bool], None],
    publish_device: Callable[[str], None],
) -> Handler:
    """`kiosk.enable` / `kiosk.disable`: switch one kiosk of this station, then publish its state.

    `lookup(device)` gives (type, enabled) from the device registry, `set_enabled` changes it there (audited)."""

    def handle(params: BaseModel) -> Outcome:
        assert isinstance(params, contract.KioskParams)
        device = params.device
        found = lookup(device)
        if found is None or found[0] != "kiosk":
            raise CommandRejected("not_found", f"no kiosk {device!r} at this station")
        before = found[1]
        set_enabled(device, enabled)
        return Outcome(
            contract.AckResult(device=device, enabled=enabled, changed=before != enabled),
            after_commit=[lambda: publish_device(device)],
        )

    return handle


def snapshot(publish: Callable[[list[str], str], None]) -> Handler:
    """`telemetry.snapshot`: publish the snapshots asked for now (they join the command's transaction)."""

    def handle(params: BaseModel) -> Outcome:
        assert isinstance(params, contract.SnapshotParams)
        what: list[str] = list(dict.fromkeys(params.what))
        publish(what, "command")
        return Outcome(contract.AckResult(published=what))

    return handle


def rebirth(request_birth: Callable[[], None], publish: Callable[[list[str], str], None]) -> Handler:
    """`node.rebirth`: central lost its view; announce `online` again and publish every snapshot."""

    def handle(params: BaseModel) -> Outcome:
        return Outcome(
            contract.AckResult(published=["status", *SNAPSHOT_KINDS]),
            after_commit=[request_birth, lambda: publish(list(SNAPSHOT_KINDS), "command")],
        )

    return handle


def config_apply(desire: Callable[[str, str, str, dict[str, Any]], str]) -> Handler:
    """`config.apply`: store the profile version central wants on one device (`desire(device, version, sha256,
    profile)`, audited; it refuses a wrong hash or schema before anything changes). The ack says `pending`: the
    device fetches it, applies it, checks its health, and its answer goes to central as `events/config_outcome`."""

    def handle(params: BaseModel) -> Outcome:
        assert isinstance(params, contract.ConfigApplyParams)
        try:
            version = desire(params.device, params.version, params.sha256, params.profile)
        except NotFound as exc:
            raise CommandRejected("not_found", _ascii(exc.message)) from None
        except DomainError as exc:
            raise CommandRejected("invalid_params", _ascii(exc.message)) from None
        return Outcome(contract.AckResult(device=params.device, version=version, outcome="pending"))

    return handle


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode()[:500]
