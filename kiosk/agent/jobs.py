"""The agent's work for the session's effects, each a plain blocking function: hardware and edge in, an event out."""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.agent.secrets import SessionSecrets
from kiosk.card.emrtd import EmrtdSession
from kiosk.card.errors import AccessDenied, CardError, CardRemoved, NoCard, UnsupportedCard
from kiosk.card.mrz import KeyedMrzSource
from kiosk.card.passwords import AccessSource, CanSource
from kiosk.card.reader import PcscReader
from kiosk.card.trust_store import TrustStore
from kiosk.edge_client import EdgeClient, EdgeRefused, EdgeUnavailable, TrackRefused
from kiosk.hardware.camera import Camera, encode_jpeg
from kiosk.hardware.printer import Printer, PrinterError, PrinterState
from kiosk.hardware.receipt import ReceiptContent, ReceiptRenderer, ReportReceiptContent
from kiosk.session import report_form
from kiosk.session.messages import (
    ChipFailed,
    ChipProgress,
    ChipRead,
    Event,
    FaceResult,
    FileReport,
    Identity,
    IssueTicket,
    PrintFailed,
    PrintReceipt,
    PrintReportReceipt,
    ReadChip,
    ReceiptPrinted,
    ReportFiled,
    ReportRefused,
    ReportTracked,
    Service,
    TicketFailed,
    TicketIssued,
    TrackFailed,
    TrackReport,
    VerifyFace,
)
from kiosk.session.vocabulary import ChipFailure, FaceOutcome

log = logging.getLogger(__name__)


@dataclass
class ChipReading:
    """Reads the card in the reader with the details the visitor keyed in."""

    reader_pattern: str | None
    trust_store: TrustStore | None
    require_passive_auth: bool
    secrets: SessionSecrets
    post: Callable[[Event], None] | None = None  # the agent's `post`: the read's progress reaches the screen

    def _progress(self, job: int) -> Callable[[float], None] | None:
        post = self.post
        if post is None:
            return None
        told = [0.0]

        def tell(done: float) -> None:
            if done >= 1.0 or done - told[0] >= 0.02:  # a step the bar shows, not one event per APDU
                told[0] = done
                post(ChipProgress(job, done))

        return tell

    def __call__(self, effect: ReadChip, session: int) -> Event:
        mrz = KeyedMrzSource(effect.document_number, effect.birth_date, effect.expiry_date)
        # A CAN the document camera read is tried first (PACE, as ID cards are meant to be opened); refused (a chip
        # without PACE, or a CAN misread: the chip counts one attempt), the MRZ details read with it open the chip.
        # A CAN read from a card's photo side comes without MRZ details: it is the only password then.
        sources: list[AccessSource] = [CanSource(effect.can)] if effect.can else []
        if effect.document_number or not effect.can:
            sources.append(mrz)
        reader = PcscReader(self.reader_pattern)
        try:
            connection = reader.wait_for_card(2.0)
            try:
                progress = self._progress(effect.job)
                for source in sources:
                    try:
                        result = EmrtdSession(connection, trust_store=self.trust_store, progress=progress).read(source)
                        break
                    except AccessDenied:
                        if source is sources[-1]:
                            raise
                        log.info("chip read: the scanned CAN was refused; trying the MRZ details")
            finally:
                connection.close()
        except AccessDenied:
            return ChipFailed(effect.job, ChipFailure.ACCESS_DENIED)
        except (CardRemoved, NoCard):
            return ChipFailed(effect.job, ChipFailure.REMOVED)
        except UnsupportedCard:
            return ChipFailed(effect.job, ChipFailure.NOT_EMRTD)
        except CardError as exc:
            log.info("chip read failed: %s", type(exc).__name__)
            return ChipFailed(effect.job, ChipFailure.UNREADABLE)
        finally:
            reader.close()
        if self.require_passive_auth and result.passive_auth.status != "valid":
            log.info("passive authentication: %s", result.passive_auth.status)
            return ChipFailed(effect.job, ChipFailure.PASSIVE_AUTH)
        if result.expired:
            return ChipFailed(effect.job, ChipFailure.EXPIRED)
        self.secrets.keep(session, result.photo.data, result.document_number)
        identity = Identity(
            result.surname,
            result.given_names,
            result.document_number,
            nationality=result.nationality,
            birth_date=result.birth_date.isoformat() if result.birth_date else "",
            document_code=result.document_type,
        )
        del result
        return ChipRead(effect.job, identity)


@dataclass
class FaceVerification:
    """Takes a few live frames and asks the edge whether they show the chip's holder."""

    camera: Camera
    edge: EdgeClient
    secrets: SessionSecrets
    frames: int = 3

    def __call__(self, effect: VerifyFace, session: int) -> Event:
        held = self.secrets.get(session)
        if held is None:
            return FaceResult(effect.job, FaceOutcome.UNAVAILABLE, detail="no_card_photo")
        photo, number = held
        frames = self.camera.frames(self.frames, timeout=3.0)
        if not frames:
            return FaceResult(effect.job, FaceOutcome.NO_FACE, attempts_left=1, detail="no_face")
        jpegs = [encode_jpeg(f.image) for f in frames]
        del frames
        answer = self.edge.verify(photo, jpegs, number)
        del photo, jpegs
        return FaceResult(effect.job, answer.outcome, answer.attempts_left, answer.verification_id, answer.reason)


@dataclass
class TicketIssuing:
    edge: EdgeClient

    def __call__(self, effect: IssueTicket, session: int) -> Event:
        try:
            return TicketIssued(effect.job, self.edge.issue(effect.service, effect.verification_id))
        except (EdgeRefused, EdgeUnavailable) as exc:
            log.warning("ticket for %s not issued: %s", effect.service, exc)
            return TicketFailed(effect.job)


@dataclass
class ReportFiling:
    """Files the visitor's report at the edge; the complainant is the identity the chip gave (held for the session)."""

    edge: EdgeClient
    zone: dt.tzinfo  # the station's time zone: what a date-time the visitor keys in means

    def __call__(self, effect: FileReport, identity: Identity | None) -> Event:
        if identity is None:
            return ReportRefused(effect.job, "no verified identity", reachable=True)
        details = report_form.details(effect.report_type, dict(effect.answers), self.zone)
        try:
            return ReportFiled(effect.job, self.edge.file_report(effect.report_type.code, details, identity))
        except EdgeRefused as exc:
            log.info("report not filed: refused")
            return ReportRefused(effect.job, str(exc), reachable=True, detail_ar=exc.detail_ar)
        except EdgeUnavailable:
            log.warning("report not filed: edge unavailable")
            return ReportRefused(effect.job, "", reachable=False)


@dataclass
class ReportTracking:
    edge: EdgeClient

    def __call__(self, effect: TrackReport, _: object) -> Event:
        try:
            return ReportTracked(effect.job, self.edge.track(effect.reference, effect.pin))
        except TrackRefused as exc:
            return TrackFailed(effect.job, exc.failure, exc.retry_after_s)


@dataclass
class ReceiptPrinting:
    printer: Printer
    renderer: ReceiptRenderer
    station_ar: str
    station_en: str
    last_state: PrinterState = PrinterState.UNKNOWN

    def content(self, effect: PrintReceipt, service: Service | None, assisted: bool) -> ReceiptContent:
        ticket = effect.ticket
        wait = None if ticket.estimated_wait_s is None else max(1, math.ceil(ticket.estimated_wait_s / 60))
        return ReceiptContent(
            station_ar=self.station_ar,
            station_en=self.station_en,
            service_ar=service.name_ar if service else ticket.service,
            service_en=service.name_en if service else ticket.service,
            number=ticket.number,
            issued_at=dt.datetime.now().astimezone(),
            estimated_wait_min=wait,
            reference=ticket.reference,
            note_ar="سيساعدك موظف الاستقبال" if assisted else "",
            note_en="A member of staff will help you" if assisted else "",
        )

    def report_content(self, effect: PrintReportReceipt) -> ReportReceiptContent:
        report, rtype = effect.report, effect.type
        return ReportReceiptContent(
            station_ar=self.station_ar,
            station_en=self.station_en,
            type_ar=rtype.name_ar if rtype else report.type,
            type_en=rtype.name_en if rtype else report.type,
            reference=report.reference,
            pin=report.pin,
            filed_at=dt.datetime.now().astimezone(),
            next_step_ar=report.next_step_ar,
            next_step_en=report.next_step_en,
        )

    def __call__(
        self, effect: PrintReceipt | PrintReportReceipt, content: ReceiptContent | ReportReceiptContent
    ) -> Event:
        try:
            image = self.renderer.render_report(content) if isinstance(content, ReportReceiptContent) else None
            self.printer.print_image(image or self.renderer.render(content))  # type: ignore[arg-type]
        except PrinterError as exc:
            self.last_state = exc.state
            log.warning("receipt not printed: %s", exc.state.value)
            return PrintFailed(effect.job)
        self.last_state = PrinterState.OK
        return ReceiptPrinted(effect.job)
