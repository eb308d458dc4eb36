"""Hostile or broken chips during PACE and chip authentication: garbage answers end in the reader's own errors, and
the virtual chip answers any bytes with a status word."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.card import pace
from kiosk.card.card_access import PaceInfo, build_card_access
from kiosk.card.emrtd import EmrtdSession
from kiosk.card.emulator import DirectConnection, EmrtdApplet
from kiosk.card.errors import CardError
from kiosk.card.mrz import KeyedMrzSource, MrzKey
from kiosk.card.passwords import CanSource
from kiosk.card.personalisation import EmrtdProfile

KEY = MrzKey("L898902C3", "740812", "340415")
INFO = PaceInfo(pace.ECDH_GM + ".2", 2, pace.BRAINPOOL_P256R1)


class ScriptedChip:
    """Offers PACE in EF.CardAccess, then answers every later command with the next scripted reply."""

    atr = b"\x3b\x80\x80\x01\x01"

    def __init__(self, replies: list[bytes]) -> None:
        self.card_access = build_card_access([INFO])
        self.replies = replies
        self.step = 0

    def reset(self) -> None:
        pass

    def process(self, command: bytes) -> bytes:
        self.step += 1
        if self.step == 1:  # SELECT EF.CardAccess
            return b"\x90\x00"
        if self.step == 2:  # READ BINARY header
            return self.card_access[:4] + b"\x90\x00"
        if self.step == 3:
            return self.card_access[4:] + b"\x90\x00"
        return self.replies.pop(0) if self.replies else b"\x6f\x00"


replies = st.lists(
    st.one_of(
        st.binary(min_size=0, max_size=90),
        st.binary(max_size=80).map(lambda b: b"\x7c" + bytes([len(b)]) + b + b"\x90\x00"),
        st.just(b"\x90\x00"),
    ),
    max_size=8,
)


@given(replies, st.booleans())
@settings(max_examples=200, deadline=None)
def test_garbage_during_pace_ends_in_a_card_error(script, use_can):
    source = CanSource("123456") if use_can else KeyedMrzSource("L898902C3", "740812", "340415")
    with contextlib.suppress(CardError):  # any other exception fails the test
        EmrtdSession(DirectConnection(ScriptedChip(list(script)))).read(source)


@given(st.lists(st.binary(min_size=4, max_size=120), max_size=6))
@settings(max_examples=200, deadline=None)
def test_pace_chip_answers_garbage_with_a_status_word(commands):
    applet = EmrtdApplet(EmrtdProfile(KEY, {0x011E: bytes.fromhex("60035C0161")}), access="both", can="123456")
    # Start a genuine PACE run, then throw garbage at the chip in the middle of it.
    applet.process(bytes.fromhex("0022C1A40F800A04007F00070202040202830102"))
    applet.process(bytes.fromhex("10860000027C0000"))
    for command in commands:
        answer = applet.process(command)
        assert len(answer) >= 2
