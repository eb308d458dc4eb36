"""A small classifier of our own for the 37 OCR-B characters of an MRZ (A-Z, 0-9, '<').

The MRZ is printed at a fixed pitch in one typeface, so once the zone is straightened each character is one blob of
ink in its own cell. Every cell is normalised (line height, pitch, position in the cell kept: '<' is short, '0' is
narrower than 'O') and compared with templates made the same way from Debian's OCR-B font: the best correlation
wins among the characters the position allows. Measured against tesseract's `eng` model on the same straightened
zones (tesseract reads '<' as 'K' and drops characters): see docs/mrz-camera.md."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"
DIGITS = frozenset("0123456789<")
LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ<")
CELL = (24, 32)  # width, height of a normalised character cell
BLUR = 1.0
TRAINING_PAGES = 60
TEMPLATES = Path(__file__).with_name(
    "ocr_b_templates.npy"
)  # photographed practice pages the templates are averaged over (about 2,000 characters)


class SegmentationError(ValueError):
    """The zone does not split into lines of characters at one pitch."""


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int

    @property
    def cx(self) -> float:
        return self.x + self.w / 2


def binarise(grey: np.ndarray) -> np.ndarray:
    """Ink as 255 on 0, Otsu after a light blur."""
    _, ink = cv2.threshold(cv2.GaussianBlur(grey, (3, 3), 0), 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    return ink


def line_bands(ink: np.ndarray) -> list[tuple[int, int]]:
    """Rows of ink separated by blank rows: the MRZ lines, top to bottom."""
    rows = (ink > 0).sum(axis=1)
    threshold = max(2, int(0.02 * ink.shape[1]))
    bands, start = [], None
    for y, count in enumerate(rows):
        if count >= threshold and start is None:
            start = y
        elif count < threshold and start is not None:
            bands.append((start, y))
            start = None
    if start is not None:
        bands.append((start, len(rows)))
    tallest = max((b - a for a, b in bands), default=0)
    return [(a, b) for a, b in bands if b - a >= 0.5 * tallest]


def _boxes(line_ink: np.ndarray) -> list[Box]:
    count, _, stats, _ = cv2.connectedComponentsWithStats(line_ink, connectivity=8)
    height = line_ink.shape[0]
    boxes = [
        Box(int(x), int(y), int(w), int(h))
        for x, y, w, h, area in stats[1:count]
        if h >= 0.2 * height and area >= 0.01 * height * height
    ]
    boxes.sort(key=lambda b: b.x)
    merged: list[Box] = []
    for box in boxes:  # a character broken by noise or blur: parts overlapping in x are one character
        if merged and box.x < merged[-1].x + merged[-1].w - 0.3 * min(box.w, merged[-1].w):
            last = merged.pop()
            x0, y0 = min(last.x, box.x), min(last.y, box.y)
            x1, y1 = max(last.x + last.w, box.x + box.w), max(last.y + last.h, box.y + box.h)
            box = Box(x0, y0, x1 - x0, y1 - y0)
        merged.append(box)
    return merged


def cells(ink: np.ndarray, band: tuple[int, int], length: int | None = None) -> list[np.ndarray]:
    """The normalised cells of one line, one per character position. With `length`, the line must hold exactly that
    many characters at one pitch (an MRZ has no blanks: fillers are ink)."""
    top, bottom = band
    line = ink[top:bottom]
    boxes = _boxes(line)
    if len(boxes) < 2:
        raise SegmentationError("a line with fewer than two characters")
    pitch = (boxes[-1].cx - boxes[0].cx) / (len(boxes) - 1)
    if length is not None and len(boxes) != length:
        raise SegmentationError(f"{len(boxes)} characters in a line of {length}")
    tall = [b for b in boxes if b.h >= 0.8 * max(b.h for b in boxes)]
    cap_height = int(np.median([b.h for b in tall]))
    # The middle of every character ('<' included) lies on one straight line, tilted a little where perspective or
    # a residual angle is left: each cell follows it, else the far end of a line drifts out of its cells.
    xs = np.array([b.cx for b in boxes])
    ys = np.array([b.y + b.h / 2 for b in boxes])
    slope, intercept = np.polyfit(xs, ys, 1)
    near = np.abs(ys - (slope * xs + intercept)) < 0.25 * cap_height
    if near.sum() >= 3:
        slope, intercept = np.polyfit(xs[near], ys[near], 1)
    out = []
    for box in boxes:
        # a cell one pitch wide around the character's middle, 1.3 capitals high around the line's middle: '<' stays
        # small and '0' narrower than 'O'
        height = round(1.3 * cap_height)
        x0 = round(box.cx - pitch / 2)
        y0 = round(slope * box.cx + intercept - height / 2)
        cell = np.zeros((height, round(pitch)), np.uint8)
        src = line[max(0, y0) : y0 + height, max(0, x0) : x0 + cell.shape[1]]
        oy, ox = max(0, -y0), max(0, -x0)
        cell[oy : oy + src.shape[0], ox : ox + src.shape[1]] = src[: height - oy, : cell.shape[1] - ox]
        out.append(_normalise(cell))
    return out


def _normalise(cell: np.ndarray) -> np.ndarray:
    small = cv2.resize(cell, CELL, interpolation=cv2.INTER_AREA).astype(np.float32)
    # a light blur makes the comparison tolerant of stroke width (blurred print looks bolder) and of a pixel's shift
    small = np.asarray(cv2.GaussianBlur(small, (0, 0), BLUR), np.float32)
    small -= small.mean()
    norm = float(np.linalg.norm(small))
    return small / norm if norm > 0 else small


def _font_cells() -> list[np.ndarray]:
    """One clean cell per character, drawn in OCR-B and cut by the same segmentation as a photo's zone."""
    from PIL import Image, ImageDraw

    from kiosk.mrz_camera.pages import _ocr_b_for_pitch

    pitch = 40.0
    font = _ocr_b_for_pitch(pitch)
    image = Image.new("L", (int(pitch * (len(ALPHABET) + 2)), 120), 255)
    draw = ImageDraw.Draw(image)
    for i, char in enumerate(ALPHABET):
        draw.text((pitch * (i + 1), 30), char, font=font, fill=0)
    ink = binarise(np.asarray(image))
    return cells(ink, line_bands(ink)[0], len(ALPHABET))


def _photographed_cells(pages: int, seed: int) -> dict[str, list[np.ndarray]]:
    """Cells of every character from photographed practice pages (random strings, not documents): the look of
    OCR-B through a camera's blur, noise and JPEG."""
    from kiosk.mrz_camera.pages import data_page, photograph, random_photography
    from kiosk.mrz_camera.read import locate

    rng = np.random.default_rng(seed)
    found: dict[str, list[np.ndarray]] = {c: [] for c in ALPHABET}
    for page_no in range(pages):
        lines = ["".join(rng.choice(list(ALPHABET), 44)) for _ in range(2)]
        frame = photograph(data_page(lines, seed=seed + page_no), random_photography(rng), seed=seed + page_no)
        band = locate(frame)
        if band is None:
            continue
        ink = binarise(band)
        bands = line_bands(ink)
        if len(bands) != 2:
            continue
        for line, band_rows in zip(lines, bands, strict=True):
            try:
                line_cells = cells(ink, band_rows, 44)
            except SegmentationError:
                continue
            for char, cell in zip(line, line_cells, strict=True):
                found[char].append(cell)
    return found


def build_templates(practice_pages: int = TRAINING_PAGES, seed: int = 9_000_000) -> np.ndarray:
    """One template per character: the mean of its drawn cell and its photographed practice cells, normalised.
    About 100 s for 60 pages, so it is built once (`python -m kiosk.mrz_camera.glyphs`) and kept in TEMPLATES."""
    drawn = _font_cells()
    practice = _photographed_cells(practice_pages, seed) if practice_pages else {}
    rows = []
    for char, clean in zip(ALPHABET, drawn, strict=True):
        mean = np.mean([clean, *practice.get(char, [])], axis=0)
        mean -= mean.mean()
        rows.append((mean / np.linalg.norm(mean)).ravel())
    return np.stack(rows).astype(np.float32)


@functools.cache
def templates() -> tuple[np.ndarray, tuple[str, ...]]:
    """The kept templates (rows in ALPHABET order); built now if the file is missing."""
    if TEMPLATES.is_file():
        matrix = np.load(TEMPLATES, allow_pickle=False)
        if matrix.shape == (len(ALPHABET), CELL[0] * CELL[1]):
            return matrix, tuple(ALPHABET)
    return build_templates(), tuple(ALPHABET)


def classify(cell: np.ndarray, allowed: frozenset[str] | None = None) -> tuple[str, float, float]:
    """The best-correlating character among `allowed`, its correlation (-1..1) and its lead over the runner-up."""
    matrix, chars = templates()
    scores = matrix @ cell.ravel()
    ranked = [int(i) for i in np.argsort(-scores) if allowed is None or chars[int(i)] in allowed]
    if not ranked:
        raise ValueError("no character allowed")
    best = ranked[0]
    lead = float(scores[best] - scores[ranked[1]]) if len(ranked) > 1 else 1.0
    return chars[best], float(scores[best]), lead


if __name__ == "__main__":
    np.save(TEMPLATES, build_templates())
    print(f"wrote {TEMPLATES}")
