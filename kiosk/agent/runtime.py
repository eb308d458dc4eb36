"""The agent's core: feeds the session events (taps, card, results, time), runs its effects, pushes its screens.

All session changes happen on the asyncio loop, one event at a time, so the state machine needs no locks; blocking
work (the chip, the camera, the edge, the printer) runs in a small thread pool and comes back as an event. Anything
unexpected becomes a `Crash` event, which resets the session to the attract screen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kiosk.agent.jobs import (
    ChipReading,
    FaceVerification,
    ReceiptPrinting,
    ReportFiling,
    ReportTracking,
    TicketIssuing,
)
from kiosk.agent.secrets import SessionSecrets
from kiosk.card.reader import CardReader
from kiosk.edge_client import DeviceDisabled, EdgeClient, EdgeRefused, EdgeUnavailable
from kiosk.hardware.camera import Camera
from kiosk.hardware.printer import Printer, PrinterState
from kiosk.session.machine import Session
from kiosk.session.messages import (
    Availability,
    CardInserted,
    CardRemoved,
    Crash,
    Effect,
    EndSession,
    Event,
    FileReport,
    IssueTicket,
    PrintReceipt,
    PrintReportReceipt,
    ReadChip,
    ReportType,
    Service,
    Tick,
    TicketIssued,
    TrackReport,
    VerifyFace,
)
from kiosk.session.vocabulary import Screen

log = logging.getLogger(__name__)

PAPER = {
    PrinterState.OK: "ok",
    PrinterState.PAPER_LOW: "low",
    PrinterState.PAPER_OUT: "out",
    PrinterState.OFFLINE: "unknown",
    PrinterState.UNKNOWN: "unknown",
}


@dataclass
class Readings:
    """The last hardware readings, for the heartbeat and the technician."""

    reader_present: bool | None = None
    camera_fps: float | None = None
    printer: PrinterState = PrinterState.UNKNOWN
    ui_connected: bool = False
    edge_ok: bool = False
    heartbeat_failures: int = 0
    last_availability: str = "starting"
    timings_ms: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class Hardware:
    """The collaborators the agent drives, chosen by settings (see `kiosk.agent.build`)."""

    edge: EdgeClient
    camera: Camera
    printer: Printer
    card_events: CardReader
    chip: ChipReading
    face: FaceVerification
    tickets: TicketIssuing
    receipts: ReceiptPrinting
    secrets: SessionSecrets
    reports: ReportFiling
    tracking: ReportTracking
    document_camera: Camera | None = None  # reads the MRZ of a document held under it (the keyboard stays)


class KioskAgent:
    def __init__(
        self,
        session: Session,
        hardware: Hardware,
        heartbeat_s: float = 5.0,
        catalogue_refresh_s: float = 60.0,
        offline_after_failures: int = 3,
        clock: Callable[[], float] = time.monotonic,
        profile_sync: Callable[[], object] | None = None,
        profile_poll_s: float = 10.0,
    ) -> None:
        self.session = session
        self.hw = hardware
        self.heartbeat_s = heartbeat_s
        self.catalogue_refresh_s = catalogue_refresh_s
        self.offline_after_failures = offline_after_failures
        self.clock = clock
        self.readings = Readings()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="kiosk-job")
        self._stop = threading.Event()
        self._listeners: list[Callable[[], None]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._threads: list[threading.Thread] = []
        self._services: tuple[Service, ...] = ()
        self._report_types: tuple[ReportType, ...] = ()
        self._services_at = -1e9
        self.ui_clients = 0
        self.profile_sync = profile_sync  # kiosk.agent.profiles.ProfileSync.sync: desired -> applied or rolled back
        self.profile_poll_s = profile_poll_s

    # ---- life cycle -------------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            self.hw.camera.start()
        except Exception as exc:  # a missing camera must not stop the kiosk: verification falls back to staff
            log.error("camera not started: %s", exc)
        watcher = threading.Thread(target=self._watch_cards, name="card-events", daemon=True)
        watcher.start()
        self._threads.append(watcher)
        if self.hw.document_camera is not None:
            self._watch_documents(self.hw.document_camera)
        self._tasks.append(asyncio.create_task(self._ticking()))
        self._tasks.append(asyncio.create_task(self._heartbeats()))
        if self.profile_sync is not None:
            self._tasks.append(asyncio.create_task(self._profiles(self.profile_sync)))

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.hw.secrets.wipe()
        await asyncio.get_running_loop().run_in_executor(None, self._close_hardware)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _watch_documents(self, camera: Camera) -> None:
        from kiosk.agent.documents import DocumentWatcher

        try:
            camera.start()
        except Exception as exc:  # without it the visitor types the details
            log.error("document camera not started: %s", exc)
            return

        def state() -> tuple[Screen, int, bool]:
            visit = self.session.visit
            return self.session.screen, self.session.session, any(value for _, value in visit.fields)

        thread = threading.Thread(
            target=DocumentWatcher(camera, state, self.post, self._stop).run, name="document-camera", daemon=True
        )
        thread.start()
        self._threads.append(thread)

    def _close_hardware(self) -> None:
        for thread in self._threads:
            thread.join(timeout=3)
        self.hw.camera.stop()
        if self.hw.document_camera is not None:
            self.hw.document_camera.stop()
        self.hw.edge.close()
        close = getattr(self.hw.card_events, "close", None)
        if close:
            close()

    def on_change(self, listener: Callable[[], None]) -> None:
        """`listener()` runs on the loop after every event that may have changed the screen."""
        self._listeners.append(listener)

    # ---- events -------------------------------------------------------------------------------------------------

    def post(self, event: Event) -> None:
        """Hand an event to the session from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self.dispatch, event)

    def dispatch(self, event: Event) -> None:
        """Apply one event on the loop thread, then carry out its effects."""
        try:
            effects = self.session.handle(event, self.clock())
        except Exception:
            log.exception("session failed on %s; resetting", type(event).__name__)
            effects = self.session.handle(Crash(), self.clock())
        for effect in effects:
            self._carry_out(effect)
        for listener in self._listeners:
            try:
                listener()
            except Exception:
                log.exception("screen listener failed")

    def _carry_out(self, effect: Effect) -> None:
        if isinstance(effect, EndSession):
            self.hw.secrets.wipe()
            log.info("session ended: %s", effect.reason)
            return
        session = self.session.session
        if isinstance(effect, ReadChip):
            self._submit("chip_read", self.hw.chip, effect, session)
        elif isinstance(effect, VerifyFace):
            self._submit("verification", self.hw.face, effect, session)
        elif isinstance(effect, IssueTicket):
            self._submit("ticket", self.hw.tickets, effect, session)
        elif isinstance(effect, PrintReceipt):
            visit = self.session.visit
            content = self.hw.receipts.content(
                effect, self.session.service(effect.ticket.service), visit.assist_reason is not None
            )
            self._submit("receipt", self.hw.receipts, effect, content)
        elif isinstance(effect, FileReport):
            self._submit("report", self.hw.reports, effect, self.session.visit.identity)
        elif isinstance(effect, TrackReport):
            self._submit("track", self.hw.tracking, effect, None)
        elif isinstance(effect, PrintReportReceipt):
            self._submit("receipt", self.hw.receipts, effect, self.hw.receipts.report_content(effect))

    def _submit(self, name: str, job: Callable[[Any, Any], Event], effect: Effect, arg: Any) -> None:
        started = time.perf_counter()

        def run() -> None:
            try:
                event = job(effect, arg)
            except Exception:
                log.exception("%s failed; resetting the session", name)
                self.post(Crash())
                return
            kept = self.readings.timings_ms.setdefault(name, [])
            kept.append(round((time.perf_counter() - started) * 1000, 2))
            del kept[:-200]  # the last 200 of each, for the technician and the benchmark
            if name == "receipt":
                self.readings.printer = self.hw.receipts.last_state
            self.post(event)
            if isinstance(event, TicketIssued):
                self.post_check_orphan(event)

        self._pool.submit(run)

    def post_check_orphan(self, event: TicketIssued) -> None:
        """A ticket issued for a session that ended meanwhile (cancelled, card pulled) is cancelled at the edge."""

        def check() -> None:
            if self.session.pending_job != event.job and self.session.screen != Screen.TICKET:
                self._pool.submit(self._cancel_ticket, event.ticket.id)

        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(check)

    def _cancel_ticket(self, ticket_id: int) -> None:
        try:
            self.hw.edge.cancel(ticket_id)
            log.info("cancelled ticket %s of an ended session", ticket_id)
        except Exception as exc:
            log.warning("could not cancel orphan ticket %s: %s", ticket_id, exc)

    # ---- background loops ---------------------------------------------------------------------------------------

    def _watch_cards(self) -> None:
        while not self._stop.is_set():
            try:
                for event in self.hw.card_events.events(self._stop):
                    self.post(CardInserted() if event.kind == "inserted" else CardRemoved())
            except Exception as exc:
                log.warning("card events stopped (%s); watching again", exc)
                self._stop.wait(1.0)

    async def _ticking(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            self.dispatch(Tick())

    async def _heartbeats(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            availability = await loop.run_in_executor(None, self.heartbeat_once)
            if availability is not None:
                self.dispatch(availability)
            await asyncio.sleep(self.heartbeat_s)

    async def _profiles(self, sync: Callable[[], object]) -> None:
        """Ask the edge for this kiosk's desired profile now and then; applying it runs on a worker thread."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.run_in_executor(None, sync)
            except (EdgeUnavailable, EdgeRefused, DeviceDisabled) as exc:
                log.warning("profile sync: %s", exc)
            except Exception:
                log.exception("profile sync failed")
            await asyncio.sleep(self.profile_poll_s)

    def heartbeat_body(self) -> dict[str, Any]:
        r = self.readings
        try:
            r.reader_present = bool(self.hw.card_events.readers())
        except Exception:
            r.reader_present = False
        r.camera_fps = self.hw.camera.fps()
        if self.session.screen not in (
            Screen.TICKET,
            Screen.REPORT_FILED,
        ):  # a status query mid-print would share the printer's one link
            r.printer = self.hw.printer.status()
        r.ui_connected = self.ui_clients > 0
        faults = []
        if r.printer == PrinterState.OFFLINE:
            faults.append("printer_error")
        if not r.ui_connected:
            faults.append("ui_disconnected")
        return {
            "reader_present": r.reader_present,
            "camera_fps": r.camera_fps,
            "printer_paper": PAPER[r.printer],
            "faults": faults,
        }

    def heartbeat_once(self) -> Availability | None:
        """Report to the edge; returns the kiosk's availability when it changed or is due."""
        body = self.heartbeat_body()
        try:
            self.hw.edge.heartbeat(body)
            if self.clock() - self._services_at >= self.catalogue_refresh_s or not self._services:
                self._services = self.hw.edge.services()
                try:
                    self._report_types = self.hw.edge.report_types()
                except EdgeRefused as exc:  # an edge without reports still serves tickets
                    log.warning("report types not available: %s", exc)
                    self._report_types = ()
                self._services_at = self.clock()
        except DeviceDisabled:
            self.readings.edge_ok = False
            return self._availability(False, "disabled")
        except (EdgeUnavailable, EdgeRefused) as exc:
            self.readings.edge_ok = False
            self.readings.heartbeat_failures += 1
            log.warning("heartbeat failed: %s", exc)
            if self.readings.heartbeat_failures >= self.offline_after_failures:
                return self._availability(False, "edge_unreachable")
            return None
        self.readings.edge_ok = True
        self.readings.heartbeat_failures = 0
        return self._availability(True, "")

    def _availability(self, open_: bool, reason: str) -> Availability:
        self.readings.last_availability = reason or "open"
        return Availability(open_, self._services, reason, self._report_types)
