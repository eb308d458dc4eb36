"""The PC/SC reader layer on a real pcscd: choosing readers, waiting, insertion/removal events, pcscd restarts."""

from __future__ import annotations

import threading
import time

import pytest

from kiosk.card.emrtd import EmrtdSession
from kiosk.card.emulator import EMRTD_ATR
from kiosk.card.errors import NoCard
from kiosk.card.mrz import KeyedMrzSource
from kiosk.card.reader import PcscReader, matches

RIGHT = KeyedMrzSource("L898902C3", "740812", "340415")


def test_reader_names_and_patterns(pcscd):
    assert matches(None, "Virtual PCD 00 00") and matches("virtual pcd 00 0[0]", "Virtual PCD 00 00")
    assert matches("PCD (", "Virtual PCD (x)")  # not a valid regex: taken as a plain substring
    reader = PcscReader("pcd 00 00$")
    try:
        assert reader.readers() == ["Virtual PCD 00 00"]
    finally:
        reader.close()


def test_no_matching_reader_and_no_card_time_out_with_a_reason(pcscd):
    for pattern, reason in (("ACS ACR1252", "no reader matching"), (None, "no card")):
        reader = PcscReader(pattern)
        try:
            with pytest.raises(NoCard, match=reason) as err:
                reader.wait_for_card(0.3)
            assert err.value.exit_code == 3
        finally:
            reader.close()


class EventLog:
    def __init__(self, reader: PcscReader) -> None:
        self.events = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(reader,), daemon=True)
        self.thread.start()

    def _run(self, reader):
        for event in reader.events(self.stop):
            self.events.append(event)

    def wait_for(self, count: int, timeout: float = 10) -> list:
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return [(e.kind, e.reader) for e in self.events]

    def close(self):
        self.stop.set()
        self.thread.join(5)


def test_insertion_and_removal_events(emrtd):
    watcher = PcscReader("00 00")
    log = EventLog(watcher)
    try:
        card, _ = emrtd()
        assert log.wait_for(1) == [("inserted", "Virtual PCD 00 00")]
        assert log.events[0].atr == EMRTD_ATR
        card.remove()
        assert log.wait_for(2) == [("inserted", "Virtual PCD 00 00"), ("removed", "Virtual PCD 00 00")]
    finally:
        log.close()
        watcher.close()


def test_recovers_when_pcscd_restarts(emrtd, reader, pcscd):
    card, _ = emrtd()
    watcher = PcscReader("00 00")
    log = EventLog(watcher)
    try:
        conn = reader.wait_for_card(10)
        assert EmrtdSession(conn).read(RIGHT).surname == "ERIKSSON"
        conn.close()
        pcscd.stop()  # the reader vanishes; the card's vpcd link drops with it
        assert card.wait_removed(5)
        assert log.wait_for(2)[1] == ("removed", "Virtual PCD 00 00")
        with pytest.raises(NoCard):
            reader.wait_for_card(0.5)
        pcscd.start()
        card.insert()
        # Same PcscReader object: it drops its dead context and finds the new daemon by itself.
        connection = reader.wait_for_card(10)
        try:
            assert EmrtdSession(connection).read(RIGHT).document_number == "L898902C3"
        finally:
            connection.close()
        assert log.wait_for(3)[2] == ("inserted", "Virtual PCD 00 00")
    finally:
        log.close()
        watcher.close()
        if not pcscd.running:
            pcscd.start()
