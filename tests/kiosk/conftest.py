"""Card test fixtures: one private pcscd + vpcd per test session (per xdist worker), a test PKI, virtual cards."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kiosk.card.testbed import PcscdTestbed

# libpcsclite reads PCSCLITE_CSOCK_NAME once, at the first PC/SC call of the process: fix it at import time, before
# any test can touch pyscard. The daemon itself starts in the session fixture below.
_RUNDIR = Path(tempfile.mkdtemp(prefix="markaz-pcscd-test-"))
os.environ["PCSCLITE_CSOCK_NAME"] = str(_RUNDIR / "pcscd.comm")

DATA = Path(__file__).resolve().parent.parent / "data" / "card"
FACE = DATA / "face.jp2"

# ICAO 9303 specimen data (Utopia), with an expiry in the future so the document is not flagged expired.
TD3_FIELDS = dict(
    issuing_state="UTO",
    surname="ERIKSSON",
    given_names="ANNA MARIA",
    document_number="L898902C3",
    nationality="UTO",
    birth_date="740812",
    sex="F",
    expiry_date="340415",
)
TD1_FIELDS = dict(
    issuing_state="UTO",
    surname="ERIKSSON",
    given_names="ANNA MARIA",
    document_number="D23145890",
    nationality="UTO",
    birth_date="740812",
    sex="F",
    expiry_date="340415",
)


@pytest.fixture(scope="session")
def face_image():
    """The holder's photo printed on generated data pages and cards (a BGR image)."""
    import cv2
    import numpy as np

    return cv2.imdecode(np.frombuffer(FACE.read_bytes(), np.uint8), cv2.IMREAD_COLOR)


@pytest.fixture(scope="session")
def pcscd() -> Iterator[PcscdTestbed]:
    testbed = PcscdTestbed(rundir=_RUNDIR).start()
    yield testbed
    testbed.stop()
    shutil.rmtree(_RUNDIR, ignore_errors=True)


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pki")


@pytest.fixture(scope="session")
def pki(pki_dir):
    from kiosk.card.pki import load_or_create_pki

    return load_or_create_pki(pki_dir, "UT")


@pytest.fixture(scope="session")
def trust_store(pki):
    from kiosk.card.trust_store import TrustStore

    return TrustStore([pki.csca_cert])


@pytest.fixture(scope="session")
def face() -> bytes:
    return FACE.read_bytes()


@pytest.fixture(scope="session")
def td3() -> str:
    from kiosk.card.mrz import compose_td3

    return compose_td3(**TD3_FIELDS)


@pytest.fixture(scope="session")
def td1() -> str:
    from kiosk.card.mrz import compose_td1

    return compose_td1(**TD1_FIELDS)


@pytest.fixture
def reader(pcscd):
    from kiosk.card.reader import PcscReader

    r = PcscReader()
    yield r
    r.close()


@pytest.fixture
def insert(pcscd) -> Iterator[Callable]:
    """insert(applet) puts a virtual card in the vpcd reader; every card is removed at teardown, and the fixture waits
    until pcscd has seen the reader empty, so the next test never meets a stale card state."""
    from kiosk.card.emulator import VirtualCard
    from kiosk.card.reader import PcscReader

    cards: list[VirtualCard] = []

    def _insert(applet) -> VirtualCard:
        card = VirtualCard(applet, port=pcscd.port).insert()
        cards.append(card)
        return card

    yield _insert
    for card in cards:
        card.remove()
    watcher = PcscReader()
    try:
        assert watcher.wait_until_empty(10), "pcscd still sees a card after removal"
    finally:
        watcher.close()


@pytest.fixture
def emrtd(insert, pki, face, td3):
    """emrtd(mrz=..., **personalise_kwargs) inserts a personalised virtual eMRTD and returns (card, applet)."""
    from kiosk.card.emulator import EmrtdApplet
    from kiosk.card.personalisation import personalise

    def _make(mrz: str | None = None, pki_=pki, **kwargs):
        applet = EmrtdApplet(personalise(mrz or td3, face, pki_, **kwargs))
        return insert(applet), applet

    return _make


@pytest.fixture
def watch_documents() -> Callable:
    """watch_documents(video) plays `video` through a real VideoCaptureCamera into the agent's DocumentWatcher, which
    posts into a real session shown its details screen; it returns that session (a `test_session.Kiosk`) and the
    effects of the one event the watcher posted. The camera and the watcher's thread are stopped either way."""
    import threading

    from kiosk.agent.documents import DocumentWatcher
    from kiosk.hardware.camera import VideoCaptureCamera

    from .test_session import Kiosk

    def _watch(video: Path) -> tuple[Kiosk, list[object]]:
        kiosk = Kiosk()
        kiosk.to_details()
        lock, effects, posted = threading.Lock(), [], threading.Event()

        def state():
            with lock:
                visit = kiosk.session.visit
                return kiosk.session.screen, kiosk.session.session, any(v for _, v in visit.fields)

        def post(event):
            with lock:
                effects.extend(kiosk(event))
            posted.set()

        camera = VideoCaptureCamera(str(video))
        camera.start()
        stop = threading.Event()
        thread = threading.Thread(target=DocumentWatcher(camera, state, post, stop).run, daemon=True)
        thread.start()
        try:
            assert posted.wait(120), "the watcher posted nothing"
        finally:
            stop.set()
            thread.join(10)
            camera.stop()
        return kiosk, effects

    return _watch
