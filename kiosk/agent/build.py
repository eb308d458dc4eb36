"""Wiring: settings -> adapters -> agent -> app. Kept declarative: every part gets exactly what it needs."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI

from firmware_config.health import kiosk_health
from firmware_config.schema import KioskService
from kiosk.agent.app import create_app
from kiosk.agent.jobs import ChipReading, FaceVerification, ReceiptPrinting, ReportFiling, ReportTracking, TicketIssuing
from kiosk.agent.profiles import ProfileSync
from kiosk.agent.runtime import Hardware, KioskAgent
from kiosk.agent.secrets import SessionSecrets
from kiosk.agent.settings import KioskSettings
from kiosk.card.reader import PcscReader
from kiosk.card.trust_store import TrustStore
from kiosk.edge_client import EdgeClient, read_token
from kiosk.hardware.camera import VideoCaptureCamera
from kiosk.hardware.printer import EscposPrinter
from kiosk.hardware.receipt import ReceiptRenderer
from kiosk.session.machine import Rules, Session
from kiosk.session.messages import Event, RulesChanged
from kiosk.session.timeouts import Timeouts
from kiosk.session.vocabulary import Purpose, Screen
from kiosk.ui.screens import KioskScreens
from markaz.web.languages import Language

log = logging.getLogger(__name__)


def edge_client(settings: KioskSettings) -> EdgeClient:
    """By the kiosk's own certificate (mutual TLS) when it has an enrolled identity, else by its device token."""
    if settings.identity is not None:
        ids = settings.identity
        for name in ("device.key", "device.crt", "root-ca.crt"):
            if not (ids / name).is_file():
                raise ValueError(f"{ids}: no {name}; enrol first (`markaz provision enrol --out {ids}`)")
        return EdgeClient(settings.edge, None, ids / "root-ca.crt", ids / "device.crt", ids / "device.key")
    token = read_token(settings.device_token_file)
    return EdgeClient(settings.edge, token, settings.edge_ca, settings.edge_cert, settings.edge_key)


# the screens that wait on the visitor's next choice: the profile's `idle_timeout_s` is how long they wait
IDLE_SCREENS = (
    Screen.CHOOSE, Screen.INSERT_CARD, Screen.CONFIRM_IDENTITY, Screen.CHOOSE_SERVICE, Screen.REPORT_TYPE,
    Screen.FACE_RETRY, Screen.REPORT_FILED, Screen.FOLLOW_RESULT,
)  # fmt: skip


def printer_uri(profile_uri: str) -> str:
    """The profile's ESC/POS sink as the printer adapter's URI: `tcp://` as is, `file://FOLDER` a file in it."""
    if profile_uri.startswith("file://"):
        return f"file:{profile_uri[len('file://') :].rstrip('/')}/receipt.escpos"
    return profile_uri


def profile_timeouts(settings: KioskSettings, profile: dict[str, Any] | None) -> Timeouts:
    """The agent's time-outs, with the profile's idle time-out on the idle screens and its warning."""
    if profile is None:
        return Timeouts(dict(settings.timeouts), settings.warning_s)
    idle = {screen: float(profile["idle_timeout_s"]) for screen in IDLE_SCREENS}
    return Timeouts({**dict(settings.timeouts), **idle}, float(profile["warn_before_s"]))


# what each of the profile's `services` lets a visitor do on the choose screen
PURPOSES_OF_SERVICE = {
    KioskService.tickets: (Purpose.TICKET,),
    KioskService.reports: (Purpose.FILE_REPORT, Purpose.FOLLOW_REPORT),
}


def profile_rules(settings: KioskSettings, rules: Rules, profile: dict[str, Any] | None) -> Rules:
    """The session's rules with the profile's time-outs, languages (in its order) and enabled services; without a
    profile, the agent's own time-outs and every language and purpose."""
    timeouts = profile_timeouts(settings, profile)
    if profile is None:
        return replace(rules, timeouts=timeouts, languages=tuple(Language), purposes=tuple(Purpose))
    services = {KioskService(name) for name in profile["services"]}
    return replace(
        rules,
        timeouts=timeouts,
        languages=tuple(Language(code) for code in profile["languages"]),
        purposes=tuple(p for p in Purpose if any(p in PURPOSES_OF_SERVICE[s] for s in services)),
    )


def _profile_sync(
    settings: KioskSettings,
    hardware: Hardware,
    camera: VideoCaptureCamera,
    printer: EscposPrinter,
    session: Session,
    post: Callable[[Event], None],
) -> ProfileSync | None:
    """Profiles managed by the edge: the kiosk's camera, reader, printer, time-outs, languages and services follow the profile in force
    (from the start, so a restarted agent keeps what it applied); the agent's own settings stand in while none is."""
    if settings.profile_dir is None:
        return None

    def configure(profile: dict[str, Any] | None, apply_rules: Callable[[Rules], None] = session.apply_rules) -> None:
        pattern = (profile["reader"]["pattern"] or None) if profile else settings.reader
        hardware.chip.reader_pattern = pattern
        if isinstance(hardware.card_events, PcscReader):
            hardware.card_events.pattern = pattern
        printer.retarget(printer_uri(str(profile["printer"]["uri"])) if profile else settings.printer)
        apply_rules(profile_rules(settings, session.rules, profile))
        camera.retarget(str(profile["camera"]["source"]) if profile else settings.camera)

    def follow(profile: dict[str, Any] | None) -> None:
        # on the profile-sync thread, with the agent running: the rules go to the session as an event on its loop
        try:
            configure(profile, lambda rules: post(RulesChanged(rules)))
            camera.start()
        except Exception as exc:  # the kiosk keeps serving: verification falls back to staff
            log.error("camera not started on the profile in force: %s", exc)

    sync = ProfileSync(hardware.edge, settings.profile_dir, kiosk_health(), camera.stop, follow)
    try:
        configure(sync.in_force())
    except Exception as exc:
        log.error("profile in force not usable (%s): the agent's own settings stand in", exc)
        configure(None)
    return sync


def build_agent(settings: KioskSettings) -> KioskAgent:
    edge = edge_client(settings)
    secrets = SessionSecrets()
    camera = VideoCaptureCamera(settings.camera)
    printer = EscposPrinter(settings.printer)
    trust_store = TrustStore.load(settings.csca, stale_crl=settings.stale_crl) if settings.csca else None
    hardware = Hardware(
        edge=edge,
        camera=camera,
        document_camera=VideoCaptureCamera(settings.document_camera) if settings.document_camera else None,
        printer=printer,
        card_events=PcscReader(settings.reader),
        chip=ChipReading(settings.reader, trust_store, settings.require_passive_auth, secrets),
        face=FaceVerification(camera, edge, secrets, settings.live_frames),
        tickets=TicketIssuing(edge),
        receipts=ReceiptPrinting(printer, ReceiptRenderer(), settings.station_name_ar, settings.station_name_en),
        secrets=secrets,
        reports=ReportFiling(edge, ZoneInfo(settings.timezone)),
        tracking=ReportTracking(edge),
    )
    rules = Rules(
        timeouts=Timeouts(dict(settings.timeouts), settings.warning_s),
        max_details_attempts=settings.max_details_attempts,
        max_face_attempts=settings.max_face_attempts,
        assisted_service=settings.assisted_service,
        station_now=functools.partial(dt.datetime.now, ZoneInfo(settings.timezone)),
    )
    session = Session(rules)

    def post(event: Event) -> None:  # the agent is made below, and running by the time a new profile arrives
        agent.post(event)

    sync = _profile_sync(settings, hardware, camera, printer, session, post)
    agent = KioskAgent(
        session,
        hardware,
        heartbeat_s=settings.heartbeat_s,
        catalogue_refresh_s=settings.catalogue_refresh_s,
        offline_after_failures=settings.offline_after_failures,
        profile_sync=sync.sync if sync else None,
        profile_poll_s=settings.profile_poll_s,
    )
    hardware.chip.post = agent.post
    return agent


def build_app(settings: KioskSettings) -> FastAPI:
    agent = build_agent(settings)
    return create_app(
        agent, KioskScreens(settings.station_name_ar, settings.station_name_en, bool(settings.document_camera))
    )
