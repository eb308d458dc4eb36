"""The node's telemetry: fills the outbox from node events and timers, and runs the MQTT link when configured.

Without an MQTT url the outbox still fills (bounded), so nothing is lost while a station is not yet connected.
The core never imports this: it listens on `node.events` and `node.audit.listeners`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from edge.telemetry import samplers
from edge.telemetry.outbox import Outbox
from markaz.clock import iso
from markaz.contracts import mqtt as contract
from markaz.periodic import Periodic

log = logging.getLogger(__name__)

SNAPSHOT_KINDS = ("queue", "devices", "verification", "node")


class TelemetryService:
    def __init__(self, node, monotonic=time.monotonic) -> None:
        from edge.telemetry.commands import Commands

        self.node = node
        self.settings = node.settings.mqtt
        self.station = node.settings.station_id
        self.outbox = Outbox(
            node.store,
            self.station,
            max_rows=self.settings.outbox_max_rows,
            max_bytes=self.settings.outbox_max_bytes,
            clock=node.clock,
        )
        self.commands = Commands(self)
        self.link = None
        self._stop = threading.Event()
        self._wake = threading.Condition()
        self._queue_dirty = False
        self._thread: threading.Thread | None = None
        self.steps = Periodic(monotonic)  # the timed producers; each backs off on its own when it fails
        self._schedule()
        self._over_target: dict[str, bool] = {}
        self._device_faults: dict[str, set[str]] = {}

    # --- life cycle ------------------------------------------------------------------------------------------------

    def start(self) -> None:
        self.node.events.subscribe("queue.changed", self._on_queue_changed)
        self.node.audit.listeners.append(self._on_anchor)
        if self.settings.url:
            from edge.telemetry.link import MqttLink

            self.link = MqttLink(
                self.outbox,
                self.settings,
                versions=lambda: samplers.versions(self.node),
                on_command=self.commands.handle,
                on_connected=self.outbox.announce_drops,  # what an outage cost is told before the backlog drains
            )
            self.link.start()
        else:
            log.info("telemetry: no MQTT url; messages stay in the outbox")
        self._thread = threading.Thread(target=self._loop, name="telemetry", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(5)
        if self.link is not None:
            self.link.stop()

    # --- producers -------------------------------------------------------------------------------------------------

    def _on_queue_changed(self, kind: str, payload: dict[str, Any]) -> None:
        # must be quick: only mark; the telemetry thread builds the snapshot
        if self._queue_dirty:
            return  # already marked: waking the telemetry thread again on every ticket only costs the API time
        with self._wake:
            self._queue_dirty = True
            self._wake.notify_all()

    def _on_anchor(self, anchor) -> None:
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
        if "devices" in what:
            self.publish_devices(reason)
        if "verification" in what:
            self.outbox.enqueue("telemetry.verification", samplers.verification_counters(self.node))
        if "node" in what:
            self.outbox.enqueue("telemetry.node", samplers.node_health(self.node, self.outbox.health()))

    def publish_queue(self, reason: str) -> None:
        snap = samplers.queue_snapshot(self.node, reason)
        with self.node.store.write():  # snapshot and the threshold events it implies share one commit
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

    def publish_devices(self, reason: str, device_id: str | None = None) -> None:
        states = samplers.device_states(self.node, reason, device_id)
        with self.node.store.write():
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

    def rebirth(self) -> None:
        """`node.rebirth`: announce `online` again and publish every snapshot (central lost its view)."""
        if self.link is not None:
            self.link.publish_birth()
        self.publish_snapshot(list(SNAPSHOT_KINDS), reason="command")

    # --- device heartbeats (from the API) --------------------------------------------------------------------------

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
        faults = sorted(faults)
        with self.node.store.write() as db:
            db.execute(
                "INSERT INTO device_status (device_id, reported_at, reader_present, camera_fps, printer_paper, faults) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET reported_at = excluded.reported_at, "
                "reader_present = excluded.reader_present, camera_fps = excluded.camera_fps, "
                "printer_paper = excluded.printer_paper, faults = excluded.faults",
                [
                    device_id,
                    iso(self.node.clock()),
                    None if report.get("reader_present") is None else int(report["reader_present"]),
                    report.get("camera_fps"),
                    report.get("printer_paper"),
                    json.dumps(faults),
                ],
            )
        states = samplers.device_states(self.node, "heartbeat", device_id)
        with self.node.store.write():
            for state in states:
                self.outbox.enqueue("telemetry.devices", state, device=state.device)
                self._fault_events(state)
        return states[0]
