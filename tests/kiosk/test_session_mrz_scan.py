"""The document camera in the visitor session: scanned details go to the chip as if keyed in, once per visit, for
this session only; the keyboard stays the fallback."""

from __future__ import annotations

from kiosk.session.messages import ChipFailed, MrzScanned, ReadChip
from kiosk.session.vocabulary import Action, ChipFailure, MrzField, Notice, Screen

from .test_session import Kiosk


def scanned(k: Kiosk, number: str = "L898902C3") -> MrzScanned:
    return MrzScanned(k.session.session, number, "740812", "340415")


def test_scanned_details_read_the_chip_as_keyed_in_details_would() -> None:
    k = Kiosk()
    k.to_details()
    (effect,) = k(scanned(k))
    assert isinstance(effect, ReadChip) and k.screen == Screen.READING_CHIP
    assert (effect.document_number, effect.birth_date, effect.expiry_date) == ("L898902C3", "740812", "340415")


def test_a_scan_from_another_session_or_screen_is_ignored() -> None:
    k = Kiosk()
    k.to_details()
    old = MrzScanned(k.session.session - 1, "L898902C3", "740812", "340415")
    assert k(old) == [] and k.screen == Screen.MRZ_ENTRY
    k.tap(Action.CANCEL)
    assert k(scanned(k)) == [] and k.screen == Screen.ATTRACT


def test_typing_first_wins_over_a_later_scan() -> None:
    k = Kiosk()
    k.to_details()
    k.type(MrzField.DOCUMENT_NUMBER, "X1")
    assert k(scanned(k)) == [] and k.session.visit.field_value(MrzField.DOCUMENT_NUMBER) == "X1"


def test_refused_scanned_details_leave_the_keyboard_and_no_second_scan() -> None:
    k = Kiosk()
    k.to_details()
    (read,) = k(scanned(k))
    k(ChipFailed(read.job, ChipFailure.ACCESS_DENIED))
    assert k.screen == Screen.MRZ_ENTRY and k.session.visit.notice == Notice.BAC_REFUSED
    for _ in MrzField:
        k.tap(Action.BACKSPACE)
    k.tap(Action.FIELD, MrzField.BIRTH_DATE.value)
    assert k(scanned(k)) == []  # one scan per visit: the visitor corrects by hand


def test_malformed_scanned_details_never_reach_the_chip() -> None:
    k = Kiosk()
    k.to_details()
    assert k(MrzScanned(k.session.session, "L898902C3", "741312", "340415")) == []
    assert k.screen == Screen.MRZ_ENTRY and k.session.visit.field_value(MrzField.DOCUMENT_NUMBER) == ""


def test_a_can_scanned_from_a_card_photo_side_reads_the_chip_with_it_alone() -> None:
    k = Kiosk()
    k.to_details()
    (read,) = k(MrzScanned(k.session.session, "", "", "", "409172"))
    assert isinstance(read, ReadChip) and k.screen == Screen.READING_CHIP
    assert (read.can, read.document_number, read.birth_date, read.expiry_date) == ("409172", "", "", "")
    k(ChipFailed(read.job, ChipFailure.ACCESS_DENIED))  # refused: the keyboard, and no second scan
    assert k.screen == Screen.MRZ_ENTRY and k(scanned(k)) == []


def test_a_malformed_scanned_can_alone_never_reaches_the_chip() -> None:
    k = Kiosk()
    k.to_details()
    assert k(MrzScanned(k.session.session, "", "", "", "40917")) == []
    assert k(MrzScanned(k.session.session, "", "", "", "40917X")) == [] and k.screen == Screen.MRZ_ENTRY
    assert isinstance(k(scanned(k))[0], ReadChip)  # nothing was used up: a proper scan still counts
