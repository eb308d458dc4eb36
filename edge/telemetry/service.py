"""The node's telemetry: fills the outbox from node events and timers, runs commands, and runs the MQTT link.

It is handed what it needs (the store, its settings, and `TelemetrySources`: callables of the modules that own
the data), never the node. Without an MQTT url the outbox still fills (bounded), so nothing is lost while a station
is not yet connected. The core never imports this: the node wires `queue.changed` and audit anchors to it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, get_args

from edge.queue.models import Kpis, Service
from edge.store import Store
from edge.telemetry import handlers, samplers
from edge.telemetry.commands import Commands, CommandWorker, Handler
from edge.telemetry.inbox import Inbox, LinkRequests, NodeBeat
from edge.telemetry.outbox import Outbox
from edge.telemetry.settings import MqttSettings
from edge.verify.counts import DecisionCounts
from markaz.clock import iso, utcnow
from markaz.contracts import mqtt as contract
from markaz.periodic import Periodic

log = logging.getLogger(__name__)

SNAPSHOT_KINDS = handlers.SNAPSHOT_KINDS


@dataclass(frozen=True)
class TelemetrySources:
    """What telemetry asks the rest of the node, each from the module that owns it."""

    queue_kpis: Callable[[], Kpis]  # QueueService.kpis
    queue_services: Callable[[], list[Service]]  # QueueService.services (codes and targets)
    devices: Callable[[], list[Mapping[str, Any]]]  # AuthService.list_devices (the device registry)
    set_device_enabled: Callable[[str, bool], None]  # AuthService.set_device_enabled, as central
    verification_counts: Callable[[datetime], DecisionCounts]  # edge.verify.counts: decisions since an instant
    business_day: Callable[[datetime], tuple[str, datetime]]  # (ISO day, UTC start) of an instant
    data_dir: Path  # for the disk figures of node health
    report_counts: Callable[[], Mapping[str, Any]] | None = None  # ReportService.counts (counts only)
    queue_day: Callable[[], tuple[Any, list[Mapping[str, Any]]]] | None = None  # QueueService.day_waits
    # ProfileService.desire as central (device, version, sha256, profile) -> version: the `config.apply` command
    desire_profile: Callable[[str, str, str, dict[str, Any]], str] | None = None


class TelemetryService:
    def __init__(
        self,
        store: Store,
        settings: MqttSettings,
        station: str,
        sources: TelemetrySources,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.settings = settings
        self.station = station
        self.sources = sources
        self.clock = clock
        self.outbox = Outbox(
            store, station, max_rows=settings.outbox_max_rows, max_bytes=settings.outbox_max_bytes, clock=clock
        )
        self.inbox = Inbox(store, clock)
        self.requests = LinkRequests(store, clock)
        self.commands = Commands(store, self.outbox, settings, self._handlers(), clock)
        self.worker = CommandWorker(self.inbox, self.commands)
        self.link: Any = None
        self._stop = threading.Event()
        self._wake = threading.Condition()
        self._queue_dirty = False
        self._thread: threading.Thread | None = None
        self.steps = Periodic(monotonic)  # the timed producers; each backs off on its own when it fails
        self._schedule()
        self._over_target: dict[str, bool] = {}
        self._device_faults: dict[str, set[contract.Fault]] = {}

    def _handlers(self) -> dict[str, Handler]:
        def lookup(device: str) -> tuple[str, bool] | None:
            found = next((d for d in self.sources.devices() if d["id"] == device), None)
            return None if found is None else (str(found["type"]), bool(found["enabled"]))

        def switch(enabled: bool) -> Handler:
            return handlers.kiosk_switch(
                enabled, lookup, self.sources.set_device_enabled, lambda device: self.publish_devices("command", device)
            )

        found: dict[str, Handler] = {
            "kiosk.enable": switch(True),
            "kiosk.disable": switch(False),
            "telemetry.snapshot": handlers.snapshot(self.publish_snapshot),
            "node.rebirth": handlers.rebirth(self.request_birth, self.publish_snapshot),
        }
        if self.sources.desire_profile is not None:
            found["config.apply"] = handlers.config_apply(self.sources.desire_profile)
        return found

    # --- life cycle ------------------------------------------------------------------------------------------------

    def start(self) -> None:
        self.worker.start()
        if self.settings.url:
            self.link = self._make_link()
            if self.link is not None:
                self.link.start()
        else:
            log.info("telemetry: no MQTT url; messages stay in the outbox")
        self._thread = threading.Thread(target=self._loop, name="telemetry", daemon=True)
        self._thread.start()

    def _make_link(self) -> Any:
        """The link as configured: a supervised child process (default), a thread here, or none (run elsewhere)."""
        mode = self.settings.link
        if mode == "external":
            log.info("telemetry: the MQTT link runs as its own service (`markaz edge link`)")
            beat = NodeBeat(self.store)
            beat.beat()
            # the link takes a beat older than a keepalive for a frozen node
            self.steps.every("telemetry.beat", max(0.1, min(1.0, self.settings.keepalive / 4)), lambda _: beat.beat())
            return None
        NodeBeat(self.store).forget()
        # what an outage cost is told as soon as the link is back, before the backlog drains
        if mode == "process":
            from edge.telemetry.link_process import LinkConfig, LinkSupervisor

            config = LinkConfig(data_dir=self.store.path.parent, station_id=self.station, mqtt=self.settings)
            supervisor = LinkSupervisor(
                config,
                on_connected=self.outbox.announce_drops,
                on_command=self.worker.wake,
                on_central_back=self.central_back,
            )
            self.outbox.on_enqueue(supervisor.wake)
            return supervisor
        from edge.telemetry.link import MqttLink

        return MqttLink(
            self.outbox,
            self.settings,
            versions=samplers.versions,
            inbox=self.inbox,
            requests=self.requests,
            on_connected=self.outbox.announce_drops,
            on_central_back=self.central_back,
        )

    def link_connected(self) -> bool | None:
        """Whether the MQTT link is connected to the broker now; None when this node has no link of its own."""
        if not self.settings.url or self.link is None:
            return None
        return bool(getattr(self.link, "connected", False))

    def set_health_interval(self, seconds: float) -> None:
        """Live change of how often node health, devices and counters go out (the node's profile `telemetry`)."""
        self.settings.health_interval_s = seconds
        for name in ("telemetry.devices", "telemetry.verification", "telemetry.node", "telemetry.queue_day",
                     "telemetry.reports"):  # fmt: skip
            step = self.steps.steps.get(name)
            if step is not None:
                step.due = min(step.due, step.due - step.interval_s + seconds)
                step.interval_s = seconds

    def central_back(self) -> None:
        """Central restarted (its status came back with a new `since`): every snapshot again, so its view of this
        station is whole at once (the link has announced the birth already)."""
        self.publish_snapshot(list(handlers.SNAPSHOT_KINDS), "periodic")

    def stop(self) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(5)
        self.worker.stop()
        if self.link is not None:
            self.link.stop()

    # --- producers -------------------------------------------------------------------------------------------------

    def on_queue_changed(self, kind: str, payload: dict[str, Any]) -> None:
        # must be quick: only mark; the telemetry thread builds the snapshot
        if self._queue_dirty:
            return  # already marked: waking the telemetry thread again on every ticket only costs the API time
        with self._wake:
            self._queue_dirty = True
            self._wake.notify_all()

    def on_anchor(self, anchor: Any) -> None:
        self.outbox.enqueue(
            "events.audit_anchor",
            contract.AuditAnchor(
                anchor_ts=anchor.ts,
                head_seq=anchor.head_seq,
                head_hash=anchor.head_hash,
                key_id=anchor.key_id,
                signature=anchor.signature,
            ),
        )

    def on_config_outcome(self, device: str, answers: str, version: str | None, outcome: str,
                          failed_checks: list[str]) -> None:  # fmt: skip
        """A device answered a desired profile version (ProfileService's listener): tell central."""
        checks = [c for c in failed_checks if c in get_args(contract.HealthCheckName)]
        self.outbox.enqueue(
            "events.config_outcome",
            contract.ConfigOutcome.model_validate(
                {"device": device, "answers": answers, "version": version, "outcome": outcome, "failed_checks": checks}
            ),
        )

    def record_selftest(self, device: str | None, role: str, ok: bool, failed: list[str]) -> None:
        """A self-test's outcome, for central (check names only: the details stay with the technician)."""
        result = contract.SelftestResult.model_validate({"device": device, "role": role, "ok": ok, "failed": failed})
        self.outbox.enqueue("events.selftest", result)

    def on_report_sla_breach(self, kind: str, payload: dict[str, Any]) -> None:
        self.outbox.enqueue("events.report_sla_breach", contract.ReportSlaBreach(**payload))

    def _schedule(self) -> None:
        s = self.settings
        steps = self.steps
        steps.every("telemetry.queue", s.snapshot_interval_s, self.publish_queue, min_gap_s=s.snapshot_min_gap_s)
        steps.every("telemetry.drops", max(1.0, s.snapshot_min_gap_s), lambda _: self.outbox.announce_drops())
        # one step per kind: a device sampler that fails must not stop verification or node health
        steps.every("telemetry.devices", s.health_interval_s, self.publish_devices)
        steps.every(
            "telemetry.verification", s.health_interval_s, lambda _: self.publish_snapshot(["verification"], "")
        )
        steps.every("telemetry.node", s.health_interval_s, lambda _: self.publish_snapshot(["node"], ""))
        steps.every("telemetry.queue_day", s.health_interval_s, lambda _: self.publish_queue_day())
        steps.every("telemetry.reports", s.health_interval_s, lambda _: self.publish_snapshot(["reports"], "periodic"))

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self._queue_dirty:
                self._queue_dirty = False
                self.steps.poke("telemetry.queue", "change")
            wait = self.steps.run_due()
            with self._wake:
                if wait > 0 and not self._queue_dirty and not self._stop.is_set():
                    self._wake.wait(wait)

    def publish_snapshot(self, what: list[str], reason: str) -> None:
        if "queue" in what:
            self.publish_queue(reason)
            self.publish_queue_day()
        if "devices" in what:
            self.publish_devices(reason)
        if "verification" in what:
            day, start = self.sources.business_day(self.clock())
            counts = self.sources.verification_counts(start)
            self.outbox.enqueue("telemetry.verification", samplers.verification_counters(counts, day))
        if "node" in what:
            self.outbox.enqueue("telemetry.node", samplers.node_health(self.sources.data_dir, self.outbox.health()))
        if "reports" in what and self.sources.report_counts is not None:
            reports = self.sources.report_counts()
            self.outbox.enqueue("telemetry.reports", samplers.report_counts(reports, reason or "periodic"))

    def publish_queue_day(self) -> None:
        """The day's waits and outcomes per service: what central's comparison of stations is computed from."""
        if self.sources.queue_day is None:
            return
        day, services = self.sources.queue_day()
        self.outbox.enqueue(
            "telemetry.queue_day",
            contract.QueueDay(business_day=day.isoformat(), services=[contract.ServiceDay(**s) for s in services]),
        )

    def publish_queue(self, reason: str) -> None:
        targets = {s.code: float(s.target_wait_s) for s in self.sources.queue_services()}
        snap = samplers.queue_snapshot(
            self.sources.queue_kpis(), targets, self.sources.business_day(self.clock())[0], reason
        )
        with self.store.write():  # snapshot and the threshold events it implies share one commit
            self.outbox.enqueue("telemetry.queue", snap)
            for svc in snap.services:
                if svc.target_wait_s is None:
                    continue
                over = svc.waiting > 0 and svc.longest_wait_s > svc.target_wait_s
                if over != self._over_target.get(svc.service, False):
                    self._over_target[svc.service] = over
                    self.outbox.enqueue(
                        "events.queue_over_target",
                        contract.QueueOverTarget(
                            service=svc.service,
                            waiting=svc.waiting,
                            longest_wait_s=svc.longest_wait_s,
                            target_wait_s=svc.target_wait_s,
                            state="raised" if over else "cleared",
                        ),
                    )

    def _device_states(self, reason: str, device_id: str | None = None) -> list[contract.DeviceState]:
        devices = [d for d in self.sources.devices() if device_id is None or d["id"] == device_id]
        sql = "SELECT * FROM device_status" + (" WHERE device_id = ?" if device_id is not None else "")
        statuses = {r["device_id"]: r for r in self.store.query(sql, [device_id] if device_id is not None else [])}
        return samplers.device_states(devices, statuses, self.clock(), self.settings.heartbeat_timeout_s, reason)

    def publish_devices(self, reason: str, device_id: str | None = None) -> None:
        states = self._device_states(reason, device_id)
        with self.store.write():
            for state in states:
                self.outbox.enqueue("telemetry.devices", state, device=state.device)
                self._fault_events(state)

    def _fault_events(self, state: contract.DeviceState) -> None:
        now, before = set(state.faults), self._device_faults.get(state.device, set())
        for fault in sorted(now - before):
            self.outbox.enqueue(
                "events.device_fault", contract.DeviceFault(device=state.device, fault=fault, state="raised")
            )
        for fault in sorted(before - now):
            self.outbox.enqueue(
                "events.device_fault", contract.DeviceFault(device=state.device, fault=fault, state="cleared")
            )
        self._device_faults[state.device] = now

    def request_birth(self) -> None:
        """Ask the link to announce `online` again, through the database: it may run in another process."""
        self.requests.ask("birth")

    # --- device heartbeats (from the API) --------------------------------------------------------------------------

    def device_states(self) -> list[contract.DeviceState]:
        """Every device's last heartbeat and readings, as central receives them (for the devices list)."""
        return self._device_states("periodic")

    def record_heartbeat(self, device_id: str, report: dict[str, Any]) -> contract.DeviceState:
        """Store a device's self-reported status and publish its state (faults raise/clear events)."""
        faults = set(report.get("faults") or [])
        # derive the obvious faults so a kiosk that only reports its readings still raises them
        if report.get("reader_present") is False:
            faults.add("reader_missing")
        if report.get("camera_fps") == 0:
            faults.add("camera_down")
        if report.get("printer_paper") == "out":
            faults.add("printer_paper_out")
        with self.store.write() as db:
            db.execute(
                "INSERT INTO device_status (device_id, reported_at, reader_present, camera_fps, printer_paper, faults) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET reported_at = excluded.reported_at, "
                "reader_present = excluded.reader_present, camera_fps = excluded.camera_fps, "
                "printer_paper = excluded.printer_paper, faults = excluded.faults",
                [
                    device_id,
                    iso(self.clock()),
                    None if report.get("reader_present") is None else int(report["reader_present"]),
                    report.get("camera_fps"),
                    report.get("printer_paper"),
                    json.dumps(sorted(faults)),
                ],
            )
        states = self._device_states("heartbeat", device_id)
        with self.store.write():
            for state in states:
                self.outbox.enqueue("telemetry.devices", state, device=state.device)
                self._fault_events(state)
        return states[0]
