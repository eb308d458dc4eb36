"""Document pages with a known MRZ, as a document camera would see them: for tests, the demo and the benchmark.

A TD3 data page (125 x 88 mm, ICAO 9303-4) is drawn with its MRZ in OCR-B (Debian's fonts-ocr-b) at the printed pitch
(2.54 mm a character), then photographed: placed on a desk, turned, slightly in perspective, unevenly lit, blurred,
noisy and JPEG-compressed. Nothing here is used on a visitor's document."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

OCR_B = Path("/usr/share/fonts/opentype/ocr-b/OCRB.otf")
LABEL_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
PX_PER_MM = 10  # a page drawn at 254 dpi
PAGE_MM = (125, 88)
MRZ_PITCH_MM = 2.54  # ICAO 9303-3: 10 characters an inch
MRZ_LINE_MM = 4.23  # a line every 1/6 inch


class MissingFont(RuntimeError):
    """fonts-ocr-b is not installed (`make deps` installs it)."""


def _photo(
    image: Image.Image, draw: ImageDraw.ImageDraw, face: np.ndarray | None, box: tuple[int, int, int, int]
) -> None:
    """The holder's photo fitted into `box` (left, top, right, bottom), or a grey block when there is none."""
    if face is None:
        draw.rectangle(box, fill=(190, 190, 200))
        return
    fitted = cv2.resize(face, (box[2] - box[0], box[3] - box[1]))
    image.paste(Image.fromarray(cv2.cvtColor(fitted, cv2.COLOR_BGR2RGB)), box[:2])


def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    if not path.is_file():
        raise MissingFont(f"{path} missing: install Debian's fonts-ocr-b / fonts-dejavu-core")
    return ImageFont.truetype(str(path), size)


def _ocr_b_for_pitch(pitch_px: float) -> ImageFont.FreeTypeFont:
    """OCR-B at the size whose advance is the MRZ pitch."""
    probe = _font(OCR_B, 100)
    size = round(100 * pitch_px / probe.getlength("<"))
    return _font(OCR_B, size)


def data_page(mrz_lines: list[str], face: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """A BGR data page: a tinted security background, a photo, printed fields and the MRZ at the bottom."""
    rng = np.random.default_rng(seed)
    width, height = PAGE_MM[0] * PX_PER_MM, PAGE_MM[1] * PX_PER_MM
    tint = np.array([rng.integers(215, 245), rng.integers(220, 245), rng.integers(225, 250)], np.uint8)
    page = np.full((height, width, 3), tint, np.uint8)
    # guilloche-like fine lines, as on real data pages: pale, so they disturb but do not hide the print
    ys = np.arange(height)[:, None]
    xs = np.arange(width)[None, :]
    for k in range(3):
        phase = rng.uniform(0, 2 * np.pi)
        wave = np.sin(xs / rng.uniform(30, 60) + ys / rng.uniform(40, 90) + phase)
        page[np.abs(wave) < 0.04] = np.clip(tint.astype(int) - 25 - 8 * k, 0, 255)
    image = Image.fromarray(cv2.cvtColor(page, cv2.COLOR_BGR2RGB))
    draw = ImageDraw.Draw(image)
    label, value = _font(LABEL_FONT, 22), _font(LABEL_FONT, 30)
    draw.text((40, 25), "PASSPORT  PASSEPORT", font=_font(LABEL_FONT, 40), fill=(40, 40, 90))
    _photo(image, draw, face, (40, 110, 40 + 330, 110 + 420))
    surname, _, given = mrz_lines[0][5:].partition("<<")
    fields = [
        ("Surname / Nom", surname.replace("<", " ").strip()),
        ("Given names / Prénoms", given.replace("<", " ").strip()),
        ("Nationality", mrz_lines[1][10:13].replace("<", "")),
        ("Date of birth", mrz_lines[1][13:19]),
        ("Document no.", mrz_lines[1][0:9].replace("<", "")),
        ("Date of expiry", mrz_lines[1][21:27]),
    ]
    for i, (name, text) in enumerate(fields):
        y = 110 + i * 68
        draw.text((410, y), name, font=label, fill=(90, 90, 110))
        draw.text((410, y + 24), text, font=value, fill=(20, 20, 30))
    pitch = MRZ_PITCH_MM * PX_PER_MM
    mrz_font = _ocr_b_for_pitch(pitch)
    line_gap = MRZ_LINE_MM * PX_PER_MM
    top = height - 40 - line_gap * len(mrz_lines)
    left = (width - pitch * len(mrz_lines[0])) / 2
    for row, line in enumerate(mrz_lines):
        for col, char in enumerate(line):  # one character per pitch, as MRZ printers place them
            draw.text((left + col * pitch, top + row * line_gap), char, font=mrz_font, fill=(15, 15, 20))
    return cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)


CARD_MM = (85.6, 54.0)  # ID-1 (TD1), ISO/IEC 7810
CAN_DIGITS = 6


def id_card(mrz_lines: list[str], can: str | None = None, face: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """The MRZ side of a TD1 identity card (3 x 30 characters at the bottom), with the 6-digit card access number
    printed in OCR-B at the MRZ's pitch in its top right corner, under a small "CAN" label, as several ID cards do."""
    rng = np.random.default_rng(seed)
    width, height = round(CARD_MM[0] * PX_PER_MM), round(CARD_MM[1] * PX_PER_MM)
    tint = np.array([rng.integers(215, 245), rng.integers(225, 248), rng.integers(215, 245)], np.uint8)
    card = np.full((height, width, 3), tint, np.uint8)
    ys, xs = np.arange(height)[:, None], np.arange(width)[None, :]
    wave = np.sin(xs / rng.uniform(25, 45) + ys / rng.uniform(30, 60) + rng.uniform(0, 2 * np.pi))
    card[np.abs(wave) < 0.04] = np.clip(tint.astype(int) - 28, 0, 255)
    image = Image.fromarray(cv2.cvtColor(card, cv2.COLOR_BGR2RGB))
    draw = ImageDraw.Draw(image)
    draw.text((30, 20), "IDENTITY CARD", font=_font(LABEL_FONT, 30), fill=(40, 60, 90))
    _photo(image, draw, face, (30, 70, 30 + 190, 70 + 240))
    surname, _, given = mrz_lines[2].partition("<<")
    label, value = _font(LABEL_FONT, 18), _font(LABEL_FONT, 24)
    for i, (name, text) in enumerate((("Surname", surname), ("Given names", given))):
        draw.text((250, 90 + i * 62), name, font=label, fill=(90, 90, 110))
        draw.text((250, 110 + i * 62), text.replace("<", " ").strip(), font=value, fill=(20, 20, 30))
    pitch = MRZ_PITCH_MM * PX_PER_MM
    mrz_font = _ocr_b_for_pitch(pitch)
    if can is not None:
        left = width - 40 - pitch * len(can)
        draw.text((left, 22), "CAN", font=label, fill=(90, 90, 110))
        for col, char in enumerate(can):
            draw.text((left + col * pitch, 44), char, font=mrz_font, fill=(15, 15, 20))
    line_gap = MRZ_LINE_MM * PX_PER_MM
    top = height - 30 - line_gap * len(mrz_lines)
    left = (width - pitch * len(mrz_lines[0])) / 2
    for row, line in enumerate(mrz_lines):
        for col, char in enumerate(line):
            draw.text((left + col * pitch, top + row * line_gap), char, font=mrz_font, fill=(15, 15, 20))
    return cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)


def id_card_front(
    fields: dict[str, str], can: str | None = None, face: np.ndarray | None = None, seed: int = 0
) -> np.ndarray:
    """The photo side of a TD1 identity card (its MRZ is on the back): photo, printed fields in a proportional face,
    the document number top right, and the 6-digit CAN in OCR-B at the MRZ's pitch bottom right, as the German and
    other PACE cards print it. `fields` are the compose_td1 keywords (dates YYMMDD)."""
    rng = np.random.default_rng(seed)
    width, height = round(CARD_MM[0] * PX_PER_MM), round(CARD_MM[1] * PX_PER_MM)
    tint = np.array([rng.integers(215, 245), rng.integers(225, 248), rng.integers(215, 245)], np.uint8)
    card = np.full((height, width, 3), tint, np.uint8)
    ys, xs = np.arange(height)[:, None], np.arange(width)[None, :]
    for k in range(2):
        wave = np.sin(xs / rng.uniform(25, 45) + ys / rng.uniform(30, 60) + rng.uniform(0, 2 * np.pi))
        card[np.abs(wave) < 0.04] = np.clip(tint.astype(int) - 25 - 8 * k, 0, 255)
    image = Image.fromarray(cv2.cvtColor(card, cv2.COLOR_BGR2RGB))
    draw = ImageDraw.Draw(image)
    draw.text((30, 20), "IDENTITY CARD  CARTE D'IDENTITÉ", font=_font(LABEL_FONT, 26), fill=(40, 60, 90))
    draw.text((width - 200, 20), fields["document_number"], font=_font(LABEL_FONT, 28), fill=(150, 30, 30))
    _photo(image, draw, face, (30, 70, 30 + 190, 70 + 240))

    def day(raw: str, century: str) -> str:
        return f"{raw[4:6]}.{raw[2:4]}.{century}{raw[:2]}"

    label, value = _font(LABEL_FONT, 18), _font(LABEL_FONT, 24)
    printed = (
        ("Surname / Nom", fields["surname"]),
        ("Given names / Prénoms", fields["given_names"]),
        ("Date of birth", day(fields["birth_date"], "19")),
        ("Nationality", fields["nationality"]),
        ("Date of expiry", day(fields["expiry_date"], "20")),
    )
    for i, (name, text) in enumerate(printed):
        draw.text((250, 70 + i * 58), name, font=label, fill=(90, 90, 110))
        draw.text((250, 90 + i * 58), text, font=value, fill=(20, 20, 30))
    pitch = MRZ_PITCH_MM * PX_PER_MM
    if can is not None:
        mrz_font = _ocr_b_for_pitch(pitch)
        left = width - 40 - pitch * len(can)
        for col, char in enumerate(can):
            draw.text((left + col * pitch, height - 70), char, font=mrz_font, fill=(15, 15, 20))
    return cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)


@dataclass(frozen=True)
class Photography:
    """How the document camera sees the page."""

    angle_deg: float = 0.0  # turned in the plane (up to 10 degrees)
    perspective: float = 0.0  # fraction of the page width one side is nearer (mild: up to 0.04)
    blur_sigma: float = 0.8
    noise_sigma: float = 4.0
    light_falloff: float = 0.25  # darker towards one corner
    jpeg_quality: int = 80
    frame_size: tuple[int, int] = (1280, 960)
    page_width_px: int = 1100  # how wide the page appears in the frame


def random_photography(rng: np.random.Generator) -> Photography:
    """A varied but readable capture: the spread the benchmark and tests draw from."""
    return Photography(
        angle_deg=float(rng.uniform(-10, 10)),
        perspective=float(rng.uniform(0, 0.04)),
        blur_sigma=float(rng.uniform(0.3, 1.4)),
        noise_sigma=float(rng.uniform(2, 9)),
        light_falloff=float(rng.uniform(0.0, 0.4)),
        jpeg_quality=int(rng.integers(55, 92)),
        page_width_px=int(rng.integers(950, 1200)),
    )


def desk(size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """An empty desk under the camera: a dark, slightly textured surface."""
    rng = np.random.default_rng(seed)
    width, height = size
    base = np.full((height, width, 3), (52, 60, 70), np.float32)
    base += rng.normal(0, 6, (height, width, 1)).astype(np.float32)
    return np.clip(cv2.GaussianBlur(base, (0, 0), 3), 0, 255).astype(np.uint8)


def photograph(page: np.ndarray, how: Photography, seed: int = 0) -> np.ndarray:
    """The page on the desk, seen by the camera: one BGR frame."""
    rng = np.random.default_rng(seed)
    width, height = how.frame_size
    scale = how.page_width_px / page.shape[1]
    pw, ph = page.shape[1] * scale, page.shape[0] * scale
    corners = np.array([[0, 0], [page.shape[1], 0], [page.shape[1], page.shape[0]], [0, page.shape[0]]], np.float32)
    half = np.array([[-pw / 2, -ph / 2], [pw / 2, -ph / 2], [pw / 2, ph / 2], [-pw / 2, ph / 2]], np.float32)
    squeeze = how.perspective * pw / 2  # the far side looks shorter
    half[1, 1] += squeeze
    half[2, 1] -= squeeze
    theta = np.deg2rad(how.angle_deg)
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]], np.float32)
    centre = np.array([width / 2 + rng.uniform(-20, 20), height / 2 + rng.uniform(-20, 20)], np.float32)
    target = half @ rotation.T + centre
    matrix = cv2.getPerspectiveTransform(corners, target.astype(np.float32))
    frame = desk(how.frame_size, seed)
    warped = cv2.warpPerspective(page, matrix, how.frame_size, flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full(page.shape[:2], 255, np.uint8), matrix, how.frame_size)
    frame[mask > 0] = warped[mask > 0]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    light = 1 - how.light_falloff * (xs / width * 0.6 + ys / height * 0.4)
    out = frame.astype(np.float32) * light[..., None]
    out = cv2.GaussianBlur(out, (0, 0), how.blur_sigma) if how.blur_sigma > 0 else out
    out += rng.normal(0, how.noise_sigma, out.shape).astype(np.float32)
    ok, encoded = cv2.imencode(
        ".jpg", np.clip(out, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, how.jpeg_quality]
    )
    assert ok
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    assert decoded is not None  # our own JPEG
    return np.asarray(decoded)


def document_video(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    """An MJPEG AVI of these frames: the document camera of tests and the demo."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"{path}: cannot write an MJPEG video")
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()
    return path
