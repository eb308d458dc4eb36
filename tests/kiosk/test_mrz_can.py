"""The CAN of a TD1 identity card read by the document camera with its MRZ, and used by the kiosk for PACE so the
visitor types nothing: a card video through cv2.VideoCapture, the agent's watcher, the real session, the agent's
chip job against a PACE-only virtual chip through pcscd."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from kiosk.agent.jobs import ChipReading
from kiosk.agent.secrets import SessionSecrets
from kiosk.card.emulator import EmrtdApplet
from kiosk.card.passwords import PasswordRef
from kiosk.card.personalisation import personalise
from kiosk.mrz_camera.can import read_can_front
from kiosk.mrz_camera.pages import Photography, data_page, desk, document_video, id_card, id_card_front, photograph
from kiosk.mrz_camera.read import read_mrz
from kiosk.session.messages import ChipFailed, ChipRead, ReadChip
from kiosk.session.vocabulary import ChipFailure

from .conftest import TD1_FIELDS

CAN = "409172"
POSES = [
    Photography(angle_deg=-5.0, perspective=0.02, blur_sigma=0.8, noise_sigma=4, light_falloff=0.2, jpeg_quality=80),
    Photography(angle_deg=3.0, perspective=0.01, blur_sigma=0.6, noise_sigma=5, light_falloff=0.1, jpeg_quality=85),
    Photography(angle_deg=7.0, perspective=0.03, blur_sigma=0.9, noise_sigma=3, light_falloff=0.3, jpeg_quality=75),
]


def card_for(td1: str, face_image: np.ndarray, can: str | None = CAN) -> np.ndarray:
    return id_card([td1[:30], td1[30:60], td1[60:]], can, face_image, seed=5)


def test_the_can_printed_on_an_id_card_is_read_with_its_mrz(face_image, td1):
    for seed, how in enumerate(POSES):
        found = read_mrz(photograph(card_for(td1, face_image), how, seed=seed))
        assert found.text == td1 and found.data.format == "TD1" and found.can == CAN


def test_a_card_without_a_can_gives_none_and_a_passport_page_has_none(face_image, td1):
    found = read_mrz(photograph(card_for(td1, face_image, can=None), POSES[0], seed=1))
    assert found.text == td1 and found.can is None


def test_the_can_is_part_of_the_frames_agreement(tmp_path, face_image, td1):
    """Two frames must read the same MRZ and the same CAN."""
    from kiosk.mrz_camera.scan import scan, video_frames

    frames = [photograph(card_for(td1, face_image), how, seed=20 + i) for i, how in enumerate(POSES)]
    result = scan(video_frames(str(document_video(tmp_path / "card.avi", frames))), timeout_s=120)
    assert result.text == td1 and result.can == CAN and result.can_source() is not None


def _pace_only_chip(td1: str, pki, face: bytes, can: str, mrz_opens: bool) -> EmrtdApplet:
    applet = EmrtdApplet(personalise(td1, face, pki), access="pace", can=can)
    assert applet.pace is not None
    if not mrz_opens:  # only the CAN opens this chip: a read that succeeds proves the CAN was used
        del applet.pace.passwords[PasswordRef.MRZ]
    return applet


def _watch_and_submit(tmp_path, watch_documents, face_image, td1, card_can: str) -> ReadChip:
    """The agent's document watcher on a card video, posting into the real session: the ReadChip it gives."""
    frames = [desk((1280, 960), seed=s) for s in range(2)]
    frames += [photograph(card_for(td1, face_image, card_can), how, seed=30 + i) for i, how in enumerate(POSES * 2)]
    _kiosk, effects = watch_documents(document_video(tmp_path / "card.avi", frames))
    (read,) = effects
    assert isinstance(read, ReadChip)
    return read


def test_the_scanned_can_opens_a_pace_only_chip_and_the_visitor_types_nothing(
    tmp_path, watch_documents, face_image, td1, pki, face, insert
):
    read = _watch_and_submit(tmp_path, watch_documents, face_image, td1, CAN)
    assert read.can == CAN and read.document_number == TD1_FIELDS["document_number"]
    applet = insert(_pace_only_chip(td1, pki, face, CAN, mrz_opens=False)).applet
    outcome = ChipReading(None, None, False, SessionSecrets())(read, session=1)
    assert isinstance(outcome, ChipRead), outcome
    assert outcome.identity.document_number == TD1_FIELDS["document_number"]
    assert applet.pace is not None and (applet.pace.attempts, applet.pace.failures) == (1, 0)


def test_a_can_the_chip_refuses_costs_one_attempt_then_the_scanned_mrz_opens_it(
    tmp_path, watch_documents, face_image, td1, pki, face, insert
):
    """The printed CAN differs from the chip's (a misread would do the same): PACE with it fails once, counted by
    the chip, and PACE with the MRZ read from the same frames opens the chip; nothing typed either way."""
    read = _watch_and_submit(tmp_path, watch_documents, face_image, td1, "111111")
    applet = insert(_pace_only_chip(td1, pki, face, CAN, mrz_opens=True)).applet
    outcome = ChipReading(None, None, False, SessionSecrets())(read, session=1)
    assert isinstance(outcome, ChipRead) and not isinstance(outcome, ChipFailed)
    assert applet.pace is not None and (applet.pace.attempts, applet.pace.failures) == (2, 1)


def test_cli_gives_the_can_of_an_id_card_photo(tmp_path, face_image, td1):
    import json
    import subprocess
    import sys
    from pathlib import Path

    photo = tmp_path / "card.jpg"
    cv2.imwrite(str(photo), photograph(card_for(td1, face_image), POSES[1], seed=2))
    markaz = str(Path(sys.executable).parent / "markaz")
    done = subprocess.run([markaz, "kiosk", "mrz", "read", str(photo), "--json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["mrz_format"], data["document_number"], data["can"]) == ("TD1", "D23145890", CAN)


# The photo side: the MRZ is on the back, the CAN bottom right on the front (as on German and other PACE cards).
FRONT_POSES = [
    Photography(angle_deg=-6.0, perspective=0.02, blur_sigma=0.9, noise_sigma=5, light_falloff=0.3, page_width_px=900),
    Photography(angle_deg=4.0, perspective=0.01, blur_sigma=0.6, noise_sigma=4, light_falloff=0.1, page_width_px=800),
    Photography(angle_deg=9.0, perspective=0.03, blur_sigma=1.2, noise_sigma=7, light_falloff=0.2, page_width_px=950),
]


def front_for(face_image: np.ndarray, can: str | None = CAN) -> np.ndarray:
    return id_card_front(TD1_FIELDS, can, face_image, seed=7)


@pytest.mark.parametrize("can", [CAN, "003159", "886420"])
def test_the_can_on_the_photo_side_of_an_id_card_is_read(face_image, can):
    for seed, how in enumerate(FRONT_POSES):
        assert read_can_front(photograph(front_for(face_image, can), how, seed=seed), 22.0) == can


def test_a_photo_side_whose_can_is_unreadable_or_absent_gives_none(face_image):
    blurred = Photography(angle_deg=3.0, blur_sigma=4.0, noise_sigma=6, page_width_px=850)
    assert read_can_front(photograph(front_for(face_image), blurred, seed=1), 22.0) is None
    assert read_can_front(photograph(front_for(face_image, None), FRONT_POSES[0], seed=2), 22.0) is None
    # six OCR-B letters where the CAN would be: print, not a CAN
    assert read_can_front(photograph(front_for(face_image, "KXAMWH"), FRONT_POSES[1], seed=3), 22.0) is None
    # a passport data page is no card: nothing is looked for
    page = data_page(["P<UTOERIKSSON<<ANNA<MARIA" + "<" * 19, "L898902C36UTO7408122F3404151" + "<" * 14 + "06"])
    assert read_can_front(photograph(page, FRONT_POSES[0], seed=4), 22.0) is None
    assert read_can_front(desk((1280, 960)), 22.0) is None


def test_the_scanner_answers_with_the_can_when_the_card_is_shown_photo_side_up(tmp_path, face_image):
    from kiosk.mrz_camera.scan import scan, video_frames

    frames = [desk((1280, 960), seed=3)] + [
        photograph(front_for(face_image), how, seed=40 + i) for i, how in enumerate(FRONT_POSES)
    ]
    result = scan(video_frames(str(document_video(tmp_path / "front.avi", frames))), timeout_s=120)
    assert (result.data, result.text, result.can, result.source()) == (None, "", CAN, None)
    assert result.can_source() is not None and result.frames == 3


def test_the_scanner_without_front_reading_times_out_on_the_photo_side(tmp_path, face_image):
    from kiosk.mrz_camera.scan import MrzScanTimeout, scan, video_frames

    frames = [photograph(front_for(face_image), how, seed=50 + i) for i, how in enumerate(FRONT_POSES)]
    with pytest.raises(MrzScanTimeout, match="no machine-readable zone"):
        scan(video_frames(str(document_video(tmp_path / "front.avi", frames))), timeout_s=120, front=None)


def _front_read(tmp_path, watch_documents, face_image, card_can: str) -> ReadChip:
    frames = [desk((1280, 960), seed=1)]
    frames += [photograph(front_for(face_image, card_can), how, seed=60 + i) for i, how in enumerate(FRONT_POSES * 2)]
    _kiosk, effects = watch_documents(document_video(tmp_path / "front.avi", frames))
    (read,) = effects
    assert isinstance(read, ReadChip)
    return read


def test_a_card_shown_photo_side_up_opens_a_pace_only_chip_with_its_can_alone(
    tmp_path, watch_documents, face_image, td1, pki, face, insert
):
    read = _front_read(tmp_path, watch_documents, face_image, CAN)
    assert (read.can, read.document_number, read.birth_date, read.expiry_date) == (CAN, "", "", "")
    applet = insert(_pace_only_chip(td1, pki, face, CAN, mrz_opens=False)).applet
    outcome = ChipReading(None, None, False, SessionSecrets())(read, session=1)
    assert isinstance(outcome, ChipRead), outcome
    assert outcome.identity.document_number == TD1_FIELDS["document_number"]
    assert applet.pace is not None and (applet.pace.attempts, applet.pace.failures) == (1, 0)


def test_a_photo_side_can_the_chip_refuses_is_one_counted_attempt_then_access_denied(
    tmp_path, watch_documents, face_image, td1, pki, face, insert
):
    """No MRZ came with it: after the refused CAN there is nothing else to try, the visitor keys the details in."""
    read = _front_read(tmp_path, watch_documents, face_image, "111111")
    applet = insert(_pace_only_chip(td1, pki, face, CAN, mrz_opens=True)).applet
    outcome = ChipReading(None, None, False, SessionSecrets())(read, session=1)
    assert outcome == ChipFailed(read.job, ChipFailure.ACCESS_DENIED)
    assert applet.pace is not None and (applet.pace.attempts, applet.pace.failures) == (1, 1)


def test_cli_gives_the_can_of_a_photo_side_photo(tmp_path, face_image):
    import json
    import subprocess
    import sys
    from pathlib import Path

    photo = tmp_path / "front.jpg"
    cv2.imwrite(str(photo), photograph(front_for(face_image), FRONT_POSES[0], seed=5))
    markaz = str(Path(sys.executable).parent / "markaz")
    done = subprocess.run([markaz, "kiosk", "mrz", "read", str(photo), "--json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"mrz_format": None, "can": CAN}


def test_a_card_held_close_whose_zone_is_found_one_line_at_a_time_is_read_with_its_can(face_image):
    """Held close (the card 1,199 px wide), the zone's lines lie farther apart than the band finder joins: it finds
    one line. Three lines' height is cut around it (then a line lower, a line higher) and read (bench seed 31, card 4)."""
    close = Photography(
        angle_deg=-6.392518748387781,
        perspective=0.01939022881621199,
        blur_sigma=0.5508716723608178,
        noise_sigma=3.845074033591713,
        light_falloff=0.22458607261816585,
        jpeg_quality=68,
        page_width_px=1199,
    )
    mrz = "IDUTOWDYXVDE9H6<<<<<<<<<<<<<<<9609222F2803216UTO<<<<<<<<<<<4AL<HASHIMI<<ANNA<MARIA<<<<<<<<"
    found = read_mrz(photograph(id_card([mrz[:30], mrz[30:60], mrz[60:]], "567706", face_image, seed=4), close, seed=4))
    assert (found.text, found.can) == (mrz, "567706")
