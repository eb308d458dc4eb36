"""Read the MRZ of a document photo: find the zone, straighten it, read its characters, check every check digit.

Two engines read the straightened zone. `glyphs` (the default) is our own OCR-B template classifier
(`glyphs.py`); `tesseract` is Debian's tesseract with its `eng` model (Debian ships no OCR-B or `mrz` model),
constrained to the MRZ alphabet with dictionaries off. Either way each position is read as what the format allows
there (digits in dates and check digits, letters in names and state codes), and an answer is given only when the
result parses as a TD1, TD2 or TD3 MRZ with every check digit right; otherwise the failure says which field did not
check, and the caller tries the next frame. Names have no check digit: the scanner asks two frames to agree, and the
chip's DG1 (read after BAC/PACE with these details) is what the kiosk finally shows."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from enum import StrEnum

import cv2
import numpy as np

from kiosk.card.mrz import MrzData, MrzError, parse_mrz
from kiosk.mrz_camera import glyphs
from kiosk.mrz_camera.can import digit_row
from kiosk.mrz_camera.states import state_codes


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
    can: str | None = None  # the card access number printed on an ID card's MRZ side, when one was read

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


@dataclass(frozen=True)
class Band:
    """Where the MRZ lies in a photo: its middle, size (of the print, in the photo's pixels) and angle."""

    centre: tuple[float, float]
    width: float
    height: float
    angle: float


def locate(image: np.ndarray) -> np.ndarray | None:
    """The MRZ band of a BGR photo, straightened, grey, or None."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    band = find_band(grey)
    return None if band is None else straighten(grey, band)


def straighten(grey: np.ndarray, band: Band, margin: float = 1.6) -> np.ndarray:
    """The band cut out of the photo and turned level, with a margin (the band hugs the print)."""
    width, height = band.width * 1.06, band.height * margin
    rotation = cv2.getRotationMatrix2D(band.centre, band.angle, 1.0)
    rotation[0, 2] += width / 2 - band.centre[0]
    rotation[1, 2] += height / 2 - band.centre[1]
    return cv2.warpAffine(grey, rotation, (int(width), int(height)), flags=cv2.INTER_CUBIC, borderValue=255)


def find_band(grey: np.ndarray) -> Band | None:
    """The MRZ band of a grey photo (rotation from the band's own angle), or None.

    Dark text on a light page: a black-hat transform brings out print, a horizontal gradient and closing join the
    characters of each MRZ line (and the lines of the zone) into one wide block; the widest very elongated block is
    the MRZ."""
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
    return Band((cx / scale, cy / scale), w / scale, h / scale, angle)


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
# The log-likelihood lead a letter must have over the next best: below it the frame is refused (measured on
# generated pages: wrong letters led by less than this, right ones almost always by more; docs/mrz-camera.md).
MIN_LEAD = 22.0


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
    line_cells = [glyphs.cells(ink, line_band, length) for line_band in bands]
    codes = {(row, start + k): k for row, start in _STATE_FIELDS[length] for k in range(3)}
    lines = []
    for row, (cells, kinds) in enumerate(zip(line_cells, _LAYOUTS[length], strict=True)):
        chars = []
        for col, (cell, kind) in enumerate(zip(cells, kinds, strict=True)):
            if (row, col) in codes:  # read with its whole code, below
                chars.append("?")
                continue
            if kind == "A":  # names have no check digit: an unsure letter is refused, not guessed
                char, sure = glyphs.read_letter(cell, glyphs.LETTERS, MIN_LEAD)
                if not sure:
                    raise MrzNotRead(f"character {col + 1} of line {row + 1} unsure ({char}?)")
            else:  # digits and the document number: the check digits decide
                char = glyphs.classify(cell, _ALLOWED[kind])[0]
            chars.append(char)
        lines.append("".join(chars))
    for row, start in _STATE_FIELDS[length]:
        code = read_state_code(line_cells[row][start : start + 3])
        lines[row] = lines[row][:start] + code + lines[row][start + 3 :]
    _check_names(lines)
    text = "".join(lines)
    try:
        return MrzRead(text, parse_mrz(text))
    except MrzError as exc:
        raise MrzNotRead(str(exc)) from None


# Where the issuing state and the nationality are: (line, first character), per line length
_STATE_FIELDS = {44: ((0, 2), (1, 10)), 36: ((0, 2), (1, 10)), 30: ((0, 2), (1, 15))}


def read_state_code(cells: list[np.ndarray]) -> str:
    """A state or nationality field read as a whole code: the likeliest of the codes ICAO allows (`states`), by the
    sum of its letters' log-likelihoods, and only with the lead a letter needs over the next likeliest code. The list
    is the field's check: a letter the classifier and its second opinion dispute (the O of UTO taken for U) is
    settled when only one reading is a code."""
    table = _code_table()
    likelihoods = np.stack([glyphs.scores(cell) for cell in cells])
    totals = likelihoods[0, table[:, 0]] + likelihoods[1, table[:, 1]] + likelihoods[2, table[:, 2]]
    first, second = np.argsort(-totals)[:2]
    code = "".join(ALPHABET[int(i)] for i in table[first])
    if totals[first] - totals[second] < MIN_LEAD:
        raise MrzNotRead(f"state code unsure ({code}?)")
    # the code must also be about as likely as the letters read freely: a printed code outside the list (a misprint,
    # a specimen of another state) is refused, not turned into its nearest code
    letters = np.array([ALPHABET.index(c) for c in ALPHABET if c in glyphs.LETTERS])
    if float(likelihoods[:, letters].max(axis=1).sum() - totals[first]) >= MIN_LEAD:
        raise MrzNotRead(f"state code not in the ICAO list ({code}?)")
    return code


@functools.cache
def _code_table() -> np.ndarray:
    """The allowed codes as rows of indices into ALPHABET."""
    return np.array([[ALPHABET.index(c) for c in code] for code in sorted(state_codes())])


# The name field's grammar (ICAO 9303-3/4/5): name parts separated by one filler, surname and given names by two, then
# fillers only to the end (a name cut short may run to the end without any). Names carry no check digit, so this is
# the one check they get: a letter in the trailing fillers, or three fillers between names, is a misread to refuse.
_NAMES = re.compile(r"[A-Z]+(<[A-Z]+)*(<<([A-Z]+(<[A-Z]+)*)?)?<*")
_NAME_FIELD = {44: (0, 5, 44), 36: (0, 5, 36), 30: (2, 0, 30)}  # line length: (line, start, end)


def _check_names(lines: list[str]) -> None:
    row, start, end = _NAME_FIELD[len(lines[0])]
    if not _NAMES.fullmatch(lines[row][start:end]):
        raise MrzNotRead(f"name field of line {row + 1} is not names and fillers")


NO_ZONE = "no machine-readable zone found in the image"


def read_mrz(image: np.ndarray, engine: Engine = Engine.GLYPHS) -> MrzRead:
    """The checked MRZ of a photo of a data page or ID card (TD1, TD2, TD3), or MrzNotRead saying why not. On a TD1
    card the CAN printed above the zone is read too (`can`, None when there is none or it is not sure).

    A document shown upside down has its zone found but not read: the photo is read once more turned half a turn
    (only then, so an empty desk costs no more). The first reason stands when neither way reads."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    try:
        return _read_upright(grey, engine)
    except MrzNotRead as exc:
        if exc.reason == NO_ZONE:
            raise
        try:
            return _read_upright(cv2.rotate(grey, cv2.ROTATE_180), engine)
        except MrzNotRead:
            raise exc from None


def _read_upright(grey: np.ndarray, engine: Engine) -> MrzRead:
    found = find_band(grey)
    if found is None:
        raise MrzNotRead(NO_ZONE)
    band = straighten(grey, found)
    if engine == Engine.TESSERACT:
        return interpret(ocr(_for_ocr(band)))
    try:
        read = read_band(band)
    except MrzNotRead as exc:
        if not exc.reason.startswith(("lines of 30", "1 lines")):
            raise
        # A TD1 zone's block found with two of its three lines (their gap is wider on a card held close): look again
        # with a taller cut; more print in it only makes more lines, which are refused.
        band = straighten(grey, found, margin=2.6)
        try:
            read = read_band(band)
        except MrzNotRead as again:
            if not again.reason.startswith("1 lines"):
                raise
            read, band, found = _one_line_of_three(grey, found)
    if read.data.format != "TD1":
        return read
    ink = glyphs.binarise(band)
    cap = float(np.median([b - a for a, b in glyphs.line_bands(ink)]))
    return replace(read, can=read_can(grey, found, pitch=found.width / 30, cap=cap))


def _one_line_of_three(grey: np.ndarray, found: Band) -> tuple[MrzRead, np.ndarray, Band]:
    """A TD1 zone of which the block holds a single line (a card held close: its lines lie farther apart than the
    closing joins): three lines' height is cut around that line, then a line lower and a line higher (the line found
    may be the top, middle or bottom one); the first cut that reads is the answer, with the straightened cut and where
    the whole zone lies (the CAN is looked for above it)."""
    line = found.width * 4.23 / (30 * 2.54)  # ICAO 9303-3: a line every 4.23 mm, a character every 2.54 mm
    theta = np.deg2rad(found.angle)
    normal = (-np.sin(theta), np.cos(theta))  # across the band, downwards in the photo
    problem = "1 lines of print in the zone; an MRZ has 2 or 3"
    for shift in (0.0, line, -line):
        centre = (found.centre[0] + shift * normal[0], found.centre[1] + shift * normal[1])
        zone = Band(centre, found.width, 3.4 * line, found.angle)
        band = straighten(grey, zone, margin=1.0)
        try:
            return read_band(band), band, zone
        except MrzNotRead as exc:
            problem = exc.reason
    raise MrzNotRead(problem)


def read_can(grey: np.ndarray, band: Band, pitch: float, cap: float) -> str | None:
    """The 6-digit card access number printed in OCR-B at the MRZ's pitch above the zone, in the right half of the
    card (where ID cards with a CAN on this side print it), or None. The CAN has no check digit: every digit must
    lead its runner-up clearly, and exactly one row of six digit-sized marks at the pitch must be there; a wrong CAN
    would only cost one PACE attempt (the chip counts it), but a refusal costs nothing."""
    turned = cv2.warpAffine(
        grey, cv2.getRotationMatrix2D(band.centre, band.angle, 1.0), grey.shape[::-1], flags=cv2.INTER_CUBIC
    )
    cx, cy = band.centre
    top = int(max(0, cy - band.height / 2 - 0.5 * band.width))
    bottom = int(max(0, cy - band.height / 2))
    left, right = int(max(0, cx)), int(min(grey.shape[1], cx + band.width / 2 + pitch))
    region = turned[top:bottom, left:right]
    return digit_row(region, pitch, cap, MIN_LEAD)
