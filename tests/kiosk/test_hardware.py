"""Camera, printer and receipt adapters with their real libraries: a video file through cv2.VideoCapture, python-escpos
to a TCP sink that decodes the raster back to an image, segno's QR read back by OpenCV."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageChops

from kiosk.hardware.camera import CameraError, VideoCaptureCamera, parse_source
from kiosk.hardware.escpos_sink import EscposSink
from kiosk.hardware.printer import EscposPrinter, PrinterError, PrinterState, PrinterUriError, parse_uri
from kiosk.hardware.receipt import ReceiptContent, ReceiptRenderer
from kiosk.hardware.videos import still_video

FACES = Path(__file__).resolve().parent.parent / "data" / "faces"
CONTENT = ReceiptContent(
    station_ar="مركز شرطة الديرة",
    station_en="Deira Police Station",
    service_ar="خدمات عامة",
    service_en="General services",
    number="A007",
    issued_at=dt.datetime(2026, 12, 1, 9, 30),
    estimated_wait_min=12,
    reference="2026-12-01/A007",
)


def qr_text(image: Image.Image) -> str:
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(np.array(image.convert("L")))
    return str(text)


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return still_video(tmp_path_factory.mktemp("video") / "v.avi", [FACES / "obama_2.jpg"], seconds_each=0.5, fps=20)


def test_camera_plays_a_video_file_in_a_loop_keeping_only_the_newest_frame(video: Path) -> None:
    camera = VideoCaptureCamera(str(video))
    camera.start()
    try:
        frames = camera.frames(15, timeout=10)  # more than the file holds (10): it loops
        assert len(frames) == 15
        assert [f.seq for f in frames] == sorted({f.seq for f in frames})
        latest = camera.latest()
        assert latest is not None and latest.seq >= frames[-1].seq and latest.image.shape == (640, 334, 3)
        assert 5 <= camera.fps() <= 40  # the file's own 20 frames/s, not as fast as it decodes
    finally:
        camera.stop()
    assert camera.latest() is None  # nothing kept after stop


def test_camera_sources_are_checked() -> None:
    assert parse_source("0") == 0
    assert parse_source("rtsp://cam.local/stream") == "rtsp://cam.local/stream"
    with pytest.raises(CameraError, match="no such video file"):
        parse_source("/nonexistent/video.avi")


def test_receipt_printed_over_escpos_decodes_to_the_same_image_with_a_readable_qr() -> None:
    image = ReceiptRenderer().render(CONTENT)
    assert qr_text(image) == CONTENT.reference
    with EscposSink() as sink:
        printer = EscposPrinter(sink.uri)
        assert printer.status() == PrinterState.OK
        printer.print_image(image)
        (printed,) = sink.wait_for(1)
    got = printed.image.convert("L").crop((0, 0, image.width, image.height))
    assert printed.image.size == image.size
    assert ImageChops.difference(got, image.convert("L")).getbbox() is None
    assert qr_text(printed.image) == CONTENT.reference


def test_arabic_is_shaped_on_the_receipt() -> None:
    """Joined Arabic is narrower than the same letters drawn in their isolated forms."""
    from PIL import ImageDraw, ImageFont

    from markaz.web.assets import ARABIC_FONT, font_path

    font = ImageFont.truetype(str(font_path(ARABIC_FONT)), 30, layout_engine=ImageFont.Layout.RAQM)
    draw = ImageDraw.Draw(Image.new("L", (10, 10)))
    joined = draw.textlength("سلسلة", font=font, direction="rtl")
    isolated = sum(draw.textlength(ch, font=font, direction="rtl") for ch in "سلسلة")
    assert joined < isolated * 0.9


def test_paper_out_and_offline_are_reported_and_nothing_is_printed() -> None:
    image = ReceiptRenderer().render(CONTENT)
    with EscposSink() as sink:
        printer = EscposPrinter(sink.uri, timeout=2)
        sink.paper = "low"
        assert printer.status() == PrinterState.PAPER_LOW
        sink.paper = "out"
        assert printer.status() == PrinterState.PAPER_OUT
        with pytest.raises(PrinterError) as caught:
            printer.print_image(image)
        assert caught.value.state == PrinterState.PAPER_OUT
        assert sink.receipts == []
    assert printer.status() == PrinterState.OFFLINE
    with pytest.raises(PrinterError) as caught:
        printer.print_image(image)
    assert caught.value.state == PrinterState.OFFLINE


def test_file_printer_writes_escpos_bytes(tmp_path: Path) -> None:
    target = tmp_path / "printer.bin"
    target.touch()
    printer = EscposPrinter(f"file:{target}")
    assert printer.status() == PrinterState.UNKNOWN
    printer.print_image(ReceiptRenderer().render(CONTENT))
    data = target.read_bytes()
    assert b"\x1dv0" in data and data.rstrip().endswith(b"\x1dV\x00")


def test_printer_uris_are_checked() -> None:
    assert parse_uri("tcp://10.0.0.5") == ("tcp", {"host": "10.0.0.5", "port": 9100})
    assert parse_uri("usb:04b8:0e15") == ("usb", {"vid": 0x04B8, "pid": 0x0E15})
    assert parse_uri("file:/dev/usb/lp0") == ("file", {"path": "/dev/usb/lp0"})
    for bad in ("lpt1", "usb:xyz", "tcp://", "file:"):
        with pytest.raises(PrinterUriError):
            parse_uri(bad)
