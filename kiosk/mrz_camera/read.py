"""Read the MRZ of a document photo: find the zone, straighten it, read its characters, check every check digit.

Two engines read the straightened zone. `glyphs` (the default) is our own OCR-B template classifier
(`glyphs.py`); `tesseract` is Debian's tesseract with its `eng` model (Debian ships no OCR-B or `mrz` model),
constrained to the MRZ alphabet with dictionaries off. Either way each position is read as what the format allows
there (digits in dates and check digits, letters in names and state codes), and an answer is given only when the
result parses as a TD1, TD2 or TD3 MRZ with every check digit right; otherwise the failure says which field did not
check, and the caller tries the next frame. Names have no check digit: the scanner asks two frames to agree, and the
chip's DG1 (read after BAC/PACE with these details) is what the kiosk finally shows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np

from kiosk.card.mrz import MrzData, MrzError, parse_mrz
from kiosk.mrz_camera import glyphs


class Engine(StrEnum):
    GLYPHS = "glyphs"
    TESSERACT = "tesseract"


ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"
_TESSERACT_CONFIG = f"--oem 1 --psm 6 -c tessedit_char_whitelist={ALPHABET} -c load_system_dawg=0 -c load_freq_dawg=0"
_TO_DIGIT = str.maketrans({"O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "Z": "2", "S": "5", "G": "6", "B": "8"})
_TO_LETTER = str.maketrans({"0": "O", "1": "I", "2": "Z", "5": "S", "6": "G", "8": "B"})

# What each position may hold, per line: N digit (or '<' where a field may be empty), A letter or '<', X anything.
_TD3 = ("AA" + "AAA" + "A" * 39, "XXXXXXXXX" + "N" + "AAA" + "NNNNNN" + "N" + "A" + "NNNNNN" + "N" + "X" * 14 + "NN")
_TD2 = ("AA" + "AAA" + "A" * 31, "XXXXXXXXX" + "N" + "AAA" + "NNNNNN" + "N" + "A" + "NNNNNN" + "N" + "X" * 7 + "N")
_TD1 = (
    "AA" + "AAA" + "XXXXXXXXX" + "N" + "X" * 15,
    "NNNNNN" + "N" + "A" + "NNNNNN" + "N" + "AAA" + "X" * 11 + "N",
    "A" * 30,
)
_LAYOUTS = {44: _TD3, 36: _TD2, 30: _TD1}


class MrzNotRead(Exception):
    """No MRZ could be read from this image; `reason` says how far it got (for logs and the next try)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class MrzRead:
    """An MRZ read from an image, every check digit verified."""

    text: str  # the lines, concatenated
    data: MrzData

    def __repr__(self) -> str:  # never the document's data in logs
        return f"MrzRead({self.data.format})"


def _correct(line: str, kinds: str) -> str:
    out = []
    for char, kind in zip(line, kinds, strict=True):
        if kind == "N" and char != "<":
            char = char.translate(_TO_DIGIT)
        elif kind == "A":
            char = char.translate(_TO_LETTER)
        out.append(char)
    return "".join(out)


def mrz_lines(ocr_text: str) -> list[str]:
    """The MRZ-looking lines of OCR output (spaces dropped, at least 28 characters of the alphabet)."""
    lines = ["".join(line.split()) for line in ocr_text.upper().splitlines()]
    return [line for line in lines if len(line) >= 28 and re.fullmatch(f"[{ALPHABET}]+", line)]


def interpret(ocr_text: str) -> MrzRead:
    """OCR output -> a checked MRZ, or MrzNotRead with the reason (lengths wrong, or which check digit failed)."""
    lines = mrz_lines(ocr_text)
    problems = []
    for count, length in ((2, 44), (2, 36), (3, 30)):
        for start in range(len(lines) - count + 1):
            group = lines[start : start + count]
            if any(len(line) != length for line in group):
                continue
            layout = _LAYOUTS[length]
            fixed = [_correct(line, kinds) for line, kinds in zip(group, layout, strict=True)]
            text = "".join(fixed)
            try:
                return MrzRead(text, parse_mrz(text))
            except MrzError as exc:
                problems.append(str(exc))
    if problems:
        raise MrzNotRead(problems[0])
    shapes = ", ".join(str(len(line)) for line in lines) or "none"
    raise MrzNotRead(f"no MRZ lines of 44, 36 or 30 characters (lines read: {shapes})")


def locate(image: np.ndarray) -> np.ndarray | None:
    """The MRZ band of a BGR photo, straightened (rotation from the band's own angle), grey, or None.

    Dark text on a light page: a black-hat transform brings out print, a horizontal gradient and closing join the
    characters of each MRZ line (and the lines of the zone) into one wide block; the widest very elongated block is
    the MRZ."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    scale = 900 / grey.shape[1]
    small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (3, 3), 0)
    blackhat = cv2.morphologyEx(small, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_RECT, (15, 7)))
    gradient = np.absolute(cv2.Sobel(blackhat, cv2.CV_32F, 1, 0, ksize=-1))
    gradient = (255 * (gradient - gradient.min()) / max(1e-6, float(np.ptp(gradient)))).astype(np.uint8)
    joined = cv2.morphologyEx(gradient, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (25, 5)))
    _, mask = cv2.threshold(joined, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 17)))
    mask = cv2.erode(mask, np.ones((3, 3), np.uint8), iterations=2)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    best: tuple[float, tuple[tuple[float, float], tuple[float, float], float]] | None = None
    for contour in contours:
        (cx, cy), (w, h), angle = cv2.minAreaRect(contour)
        if w < h:  # OpenCV may give the long side as height: turn it back to a horizontal band
            w, h, angle = h, w, angle - 90
        if angle < -45:
            angle += 180
        elif angle > 45:
            angle -= 180
        if h <= 0 or w / h < 5 or w < 0.45 * small.shape[1] or abs(angle) > 15:
            continue
        if best is None or w > best[0]:
            best = (w, ((cx, cy), (w, h), angle))
    if best is None:
        return None
    (cx, cy), (w, h), angle = best[1]
    centre = (cx / scale, cy / scale)
    width, height = w / scale * 1.06, h / scale * 1.6  # a margin: the band hugs the print
    rotation = cv2.getRotationMatrix2D(centre, angle, 1.0)
    rotation[0, 2] += width / 2 - centre[0]
    rotation[1, 2] += height / 2 - centre[1]
    return cv2.warpAffine(grey, rotation, (int(width), int(height)), flags=cv2.INTER_CUBIC, borderValue=255)


def _for_ocr(band: np.ndarray, lines_guess: int = 2) -> np.ndarray:
    """Characters about 40 px high, dark on white, with a white margin: what tesseract reads best."""
    target = 48 * lines_guess + 40
    scale = max(1.0, target / band.shape[0])
    big = cv2.resize(band, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    _, binary = cv2.threshold(cv2.GaussianBlur(big, (3, 3), 0), 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    return cv2.copyMakeBorder(binary, 20, 20, 20, 20, cv2.BORDER_CONSTANT, value=255)


def ocr(image: np.ndarray) -> str:
    import pytesseract

    return str(pytesseract.image_to_string(image, lang="eng", config=_TESSERACT_CONFIG))


_ALLOWED = {"N": glyphs.DIGITS, "A": glyphs.LETTERS, "X": None}
# The correlation lead a character must have over the next best: below it the frame is refused (measured on
# generated pages: wrong letters led by less than this, right ones almost always by more; docs/mrz-camera.md).
MIN_LEAD = 0.02


def read_band(band: np.ndarray) -> MrzRead:
    """The glyph classifier over a straightened zone: lines by ink rows, characters by blobs at one pitch."""
    ink = glyphs.binarise(band)
    bands = glyphs.line_bands(ink)
    if len(bands) not in (2, 3):
        raise MrzNotRead(f"{len(bands)} lines of print in the zone; an MRZ has 2 or 3")
    try:
        counts = [len(glyphs.cells(ink, b)) for b in bands]
    except glyphs.SegmentationError as exc:
        raise MrzNotRead(str(exc)) from None
    length = {(2, 44): 44, (2, 36): 36, (3, 30): 30}.get((len(bands), max(counts)))
    if length is None or any(count != length for count in counts):
        raise MrzNotRead(f"lines of {', '.join(map(str, counts))} characters: not a TD1, TD2 or TD3 zone")
    lines = []
    for row, (line_band, kinds) in enumerate(zip(bands, _LAYOUTS[length], strict=True), start=1):
        chars = []
        for col, (cell, kind) in enumerate(zip(glyphs.cells(ink, line_band, length), kinds, strict=True), start=1):
            char, _score, lead = glyphs.classify(cell, _ALLOWED[kind])
            if kind == "A" and lead < MIN_LEAD:  # names have no check digit: an unsure letter is refused, not guessed
                raise MrzNotRead(f"character {col} of line {row} unsure ({char}?)")
            chars.append(char)
        lines.append("".join(chars))
    text = "".join(lines)
    try:
        return MrzRead(text, parse_mrz(text))
    except MrzError as exc:
        raise MrzNotRead(str(exc)) from None


def read_mrz(image: np.ndarray, engine: Engine = Engine.GLYPHS) -> MrzRead:
    """The checked MRZ of a photo of a data page or ID card (TD1, TD2, TD3), or MrzNotRead saying why not."""
    band = locate(image)
    if band is None:
        raise MrzNotRead("no machine-readable zone found in the image")
    if engine == Engine.TESSERACT:
        return interpret(ocr(_for_ocr(band)))
    return read_band(band)
