"""The edge node as one object: its store, keys, audit log and services, started and stopped in one place.

Start-up is declarative and thin: each part is built here and owns its own resources; the API and the CLI only
hold a node."""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path

from edge.audit.log import AuditLog
from edge.auth.principal import Principal
from edge.auth.service import AuthService
from edge.events import EventBus
from edge.hall.announcements import Announcer
from edge.hall.service import HallService
from edge.hall.speech import Speech
from edge.keys import StationKeys
from edge.live import LiveHub
from edge.queue.calls import CallLog
from edge.queue.catalogue import SAMPLE_CATALOGUE, load_catalogue_file
from edge.queue.service import QueueService
from edge.reports.vocabulary import CHANGE_EVENTS
from edge.reports.wiring import build_reports
from edge.settings import EdgeSettings
from edge.store import Store
from edge.store.files import private_dir
from edge.telemetry.service import TelemetryService, TelemetrySources
from edge.verify.counts import decision_counts
from edge.verify.service import VerificationService
from firmware_config.schema import DeviceKind, EdgeNodeProfile
from markaz.clock import business_day_bounds, utcnow
from provisioning.enrolment import EnrolmentService, StationPki
from provisioning.node_profile import NodeChecks, NodeProfile
from provisioning.profiles import ProfileService, Reported
from provisioning.served_profiles import ServedProfiles, counter_terminal_health, display_health

log = logging.getLogger(__name__)

CENTRAL = Principal("system", "central", "system")  # who acts when central sends a command


class EdgeNode:
    def __init__(self, settings: EdgeSettings, clock=utcnow) -> None:
        self.settings = settings
        self.clock = clock
        private_dir(settings.data_dir)  # every file in it is owner-only too (edge/store/files.py)
        self.store = Store(settings.db_path, synchronous=settings.synchronous)
        self.keys = StationKeys(settings.keys_dir)
        self.events = EventBus()
        self.audit = AuditLog(
            self.store,
            self.keys,
            self.anchors_path(settings.data_dir),
            settings.station_id,
            clock,
            anchor_every=settings.audit.anchor_every_entries,
        )
        self.auth = AuthService(self.store, self.audit, settings.auth, self.keys.pseudonymise_login_name, clock)
        self.queue = QueueService(self.store, self.audit, settings, self.events, clock)
        self.verifier = VerificationService(settings.verify, self.store, self.audit, self.keys.hash_document, clock)
        self.enrolment = EnrolmentService(
            self.store, self.audit, settings.provisioning, StationPki(settings.keys_dir, settings.crl_path), clock
        )
        self.profiles = ProfileService(self.store, self.audit, settings.data_dir / "profiles", clock)
        self.reports, self.referrals = build_reports(
            settings, self.store, self.audit, self.keys, self.events, clock, self.auth.passwords
        )
        self.reports_live = LiveHub(self.events, CHANGE_EVENTS)  # wakes the open workbench pages
        self.telemetry = self._telemetry()
        self.profiles.listeners.append(self._tell_central_config_outcome)
        self.hall = self._hall(settings, clock)
        self.served = ServedProfiles(
            self.profiles,
            settings.data_dir / "profiles" / "served",
            {
                DeviceKind.display: display_health(settings.hall.espeak),
                DeviceKind.counter_terminal: counter_terminal_health(lambda: [c.code for c in self.queue.counters()]),
            },
        )
        self.node_profile = self._node_profile()
        self._stop = threading.Event()
        self._anchor_thread: threading.Thread | None = None
        self._reports_thread: threading.Thread | None = None
        self.started = False

    def _telemetry(self) -> TelemetryService:
        """Telemetry gets callables of the parts that own what it reports, not the node."""
        auth, s = self.auth, self.settings

        def set_device_enabled(device: str, enabled: bool) -> None:
            auth.set_device_enabled(device, enabled, CENTRAL)

        sources = TelemetrySources(
            queue_kpis=self.queue.kpis,
            queue_services=self.queue.services,
            queue_day=self.queue.day_waits,
            devices=auth.list_devices,
            set_device_enabled=set_device_enabled,
            verification_counts=functools.partial(decision_counts, self.store),
            business_day=functools.partial(business_day_bounds, tz=s.tz, rollover_hour=s.day_rollover_hour),
            data_dir=s.data_dir,
            report_counts=self.reports.counts,
            desire_profile=self._desire_as_central,
        )
        return TelemetryService(self.store, s.mqtt, s.station_id, sources, self.clock)

    def _desire_as_central(self, device: str, version: str, sha256: str, profile: dict) -> str:
        if device == self.settings.station_id:  # the node itself
            return self.node_profile.desire(version, sha256, profile)
        return self.profiles.desire(device, CENTRAL, version, sha256, profile).version

    def _node_profile(self) -> NodeProfile:
        """The node's own profile: what it switches live, and the health it checks afterwards."""
        s, store, hall, telemetry, verifier = self.settings, self.store, self.hall, self.telemetry, self.verifier
        from_file = (s.queue.recall_min_interval_s, s.queue.default_service_time_s, s.mqtt.health_interval_s)

        def switch(profile: EdgeNodeProfile | None) -> None:
            recall, service_time, interval = (
                (
                    profile.queue.recall_min_interval_s,
                    profile.queue.default_service_time_s,
                    profile.telemetry.interval_s,
                )
                if profile is not None
                else from_file
            )
            # the verification thresholds first: they are checked as the settings file's are, and a refusal
            # leaves everything as it was
            verifier.set_thresholds(
                profile.verify.distance_threshold if profile is not None else None,
                profile.verify.liveness_threshold if profile is not None else None,
            )
            s.queue.recall_min_interval_s = recall
            s.queue.default_service_time_s = service_time
            hall.recall_interval_s = recall
            telemetry.set_health_interval(interval)

        def database() -> bool:
            with store.write() as db:
                db.execute("SELECT count(*) FROM devices")
            return True

        def models() -> bool:
            from models.registry import MANIFEST, MODELS_DIR, check, load_manifest

            for entry in load_manifest(MANIFEST).values():
                check(entry, s.verify.models_dir or MODELS_DIR)
            return True

        def broker() -> bool:
            return telemetry.link_connected() is True

        checks = NodeChecks(database, models, broker if s.mqtt.url else None)
        return NodeProfile(
            s.station_id,
            s.data_dir / "profiles" / "node",
            switch,
            checks,
            self.audit,
            CENTRAL,
            self.telemetry.on_config_outcome,
        )

    def _tell_central_config_outcome(self, done: Reported) -> None:
        outcome = str(done.outcome)
        self.telemetry.on_config_outcome(done.device_id, done.answers, done.version, outcome, done.failed_checks)

    def _hall(self, settings: EdgeSettings, clock) -> HallService:
        calls = CallLog(self.store)
        speech = Speech(settings.data_dir / "hall-audio", settings.hall.espeak, settings.hall.speech_rate_wpm)
        announcer = Announcer(calls, speech, settings.hall, self.queue.today)
        return HallService(
            self.queue,
            calls,
            announcer,
            settings.hall,
            settings.tz,
            settings.day_rollover_hour,
            settings.queue.recall_min_interval_s,
            self.events,
            clock,
        )

    @staticmethod
    def anchors_path(data_dir: Path) -> Path:
        return Path(data_dir) / "audit-anchors.jsonl"

    def start(self) -> None:
        if self.settings.sample_data:
            self.queue.apply_catalogue(SAMPLE_CATALOGUE)
        if self.settings.catalogue:
            self.queue.apply_catalogue(load_catalogue_file(self.settings.catalogue))
        _ = self.keys.anchor_key, self.keys.document_hmac_key  # create the keys now, not in the middle of a request
        self.verifier.start()
        self.events.subscribe("queue.changed", self.telemetry.on_queue_changed)
        self.audit.listeners.append(self.telemetry.on_anchor)
        self.events.subscribe("reports.sla_breached", self.telemetry.on_report_sla_breach)
        self.telemetry.start()
        # After telemetry listens, so central gets these anchors too.
        self.audit.finish_interrupted_anchor()
        self.audit.anchor()  # a new station's first anchor, or what changed while it was stopped
        self.hall.start()
        self.node_profile.start()  # the profile in force before a restart, live again
        self._anchor_thread = threading.Thread(target=self._anchor_loop, name="audit-anchor", daemon=True)
        self._anchor_thread.start()
        self.referrals.start()
        self._reports_thread = threading.Thread(target=self._reports_loop, name="reports-timers", daemon=True)
        self._reports_thread.start()
        self.started = True
        log.info("edge node %s started (data %s)", self.settings.station_id, self.settings.data_dir)

    def _anchor_loop(self) -> None:
        while not self._stop.wait(self.settings.audit.anchor_interval_s):
            try:
                self.audit.anchor()
            except Exception:
                log.exception("audit anchoring failed")

    def _reports_loop(self) -> None:
        while not self._stop.wait(self.settings.reports.tick_interval_s):
            try:
                self.reports.check_sla()
                self.reports.purge_expired()
            except Exception:
                log.exception("report timers failed")

    def close(self) -> None:
        """For administrative commands that used the node without starting it: anchor what they wrote, close."""
        try:
            self.audit.anchor()
        finally:
            self.store.close()

    def stop(self) -> None:
        if self.store._closed:
            return  # already stopped (a test or a signal got there first)
        self._stop.set()
        if self.started:
            self.telemetry.stop()
            self.hall.stop()
        self.verifier.close()
        self.referrals.stop()
        try:
            self.audit.anchor()
        finally:
            self.store.close()
        log.info("edge node %s stopped", self.settings.station_id)
