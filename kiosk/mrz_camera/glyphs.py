"""A small classifier of our own for the 37 OCR-B characters of an MRZ (A-Z, 0-9, '<').

The MRZ is printed at a fixed pitch in one typeface, so once the zone is straightened each character is one blob of
ink in its own cell. Every cell is normalised (line height, pitch, position in the cell kept: '<' is short, '0' is
narrower than 'O') and scored by linear discriminant analysis (LDA) learnt from Debian's OCR-B font and from
photographed practice pages; the likeliest character among those the position allows wins, and its lead over the
runner-up says how sure it is. LDA replaced the earlier mean-template correlation: templates are dominated by what
O, D and Q (or T and Y) share, LDA weighs the pixels that tell them apart (measured: docs/mrz-camera.md)"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from kiosk.mrz_camera.pages import Photography

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"
DIGITS = frozenset("0123456789<")
LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ<")
CELL = (24, 32)  # width, height of a normalised character cell
BLUR = 1.0
# Photographed practice pages the classifier learns from: (pages, seed, document-like), about 26,000 characters. The
# benchmark and the tests draw their pages from other seeds (bench_mrz: 11 and up, page seeds 0..N), other names and
# a narrower photography (`pages.random_photography`).
PRACTICE = ((90, 7_100_000, False), (90, 7_200_000, False), (60, 7_600_000, True), (60, 7_700_000, True))
SHRINKAGE = 0.3
MODEL = Path(__file__).with_name("ocr_b_lda.npy")
MEANS = Path(__file__).with_name("ocr_b_means.npy")  # the practice cells' mean per character: the second opinion
REFEREES = Path(__file__).with_name("ocr_b_referees.npy")  # one two-letter discriminant per pair of letters
# The pairs of letters (and '<') a referee tells apart, in a fixed order: the rows of REFEREES
_LETTER_ORDER = "".join(sorted(LETTERS, key=ALPHABET.index))
PAIRS = tuple((a, b) for i, a in enumerate(_LETTER_ORDER) for b in _LETTER_ORDER[i + 1 :])


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


def training_photography(rng: np.random.Generator) -> Photography:
    """The spread the classifier learns from: wider than the benchmark's (`pages.random_photography`) in every
    direction, so that what is measured there is not what was learnt."""
    from kiosk.mrz_camera.pages import Photography

    return Photography(
        angle_deg=float(rng.uniform(-12, 12)),
        perspective=float(rng.uniform(0, 0.05)),
        blur_sigma=float(rng.uniform(0.2, 1.7)),
        noise_sigma=float(rng.uniform(1, 11)),
        light_falloff=float(rng.uniform(0.0, 0.5)),
        jpeg_quality=int(rng.integers(45, 95)),
        page_width_px=int(rng.integers(900, 1250)),
    )


def _practice_lines(rng: np.random.Generator, realistic: bool) -> list[str]:
    """Two TD3 lines: random characters (every neighbour next to every character), or a document-like MRZ with
    invented names and fillers to the end of the line (the long runs of '<' whose neighbours' arms reach into each
    cell, which random strings never show)."""
    if not realistic:
        return ["".join(rng.choice(list(ALPHABET), 44)) for _ in range(2)]
    from kiosk.card.mrz import compose_td3

    letters = list(ALPHABET[:26])

    def word() -> str:
        return "".join(rng.choice(letters, int(rng.integers(2, 12))))

    def date(low: int, high: int) -> str:
        return f"{rng.integers(low, high):02d}{rng.integers(1, 13):02d}{rng.integers(1, 29):02d}"

    mrz = compose_td3(
        issuing_state="".join(rng.choice(letters, 3)),
        surname=" ".join(word() for _ in range(int(rng.integers(1, 3)))),
        given_names=" ".join(word() for _ in range(int(rng.integers(1, 4)))),
        document_number="".join(rng.choice(list(ALPHABET[:36]), 9)),
        nationality="".join(rng.choice(letters, 3)),
        birth_date=date(30, 99),
        sex=str(rng.choice(["M", "F", "<"])),
        expiry_date=date(25, 40),
    )
    return [mrz[:44], mrz[44:]]


def _photographed_cells(pages: int, seed: int, realistic: bool = False) -> tuple[list[np.ndarray], list[int]]:
    """Cells of every character from photographed practice pages (invented, not documents): the look of OCR-B
    through a camera's blur, noise and JPEG, with their labels (indices into ALPHABET)."""
    from kiosk.mrz_camera.pages import data_page, photograph
    from kiosk.mrz_camera.read import locate

    rng = np.random.default_rng(seed)
    samples: list[np.ndarray] = []
    labels: list[int] = []
    for page_no in range(pages):
        lines = _practice_lines(rng, realistic)
        frame = photograph(data_page(lines, seed=seed + page_no), training_photography(rng), seed=seed + page_no)
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
                samples.append(cell.ravel())
                labels.append(ALPHABET.index(char))
    return samples, labels


def fit_lda(samples: np.ndarray, labels: np.ndarray, shrinkage: float = SHRINKAGE) -> np.ndarray:
    """Linear discriminant analysis with equal priors: rows of weights and a last column of biases, so that
    `model[:, :-1] @ x + model[:, -1]` are the characters' log-likelihoods up to a shared constant. The within-class
    covariance is shrunk towards its mean variance (few samples per class against 768 pixels)."""
    dims = samples.shape[1]
    means = np.stack([samples[labels == k].mean(axis=0) for k in range(len(ALPHABET))])
    centred = samples - means[labels]
    covariance = centred.T @ centred / len(samples)
    covariance = (1 - shrinkage) * covariance + shrinkage * np.trace(covariance) / dims * np.eye(dims)
    weights = np.linalg.solve(covariance, means.T).T
    biases = -0.5 * np.einsum("kd,kd->k", weights, means)
    return np.hstack([weights, biases[:, None]]).astype(np.float32)


def build_model(practice: tuple[tuple[int, int, bool], ...] = PRACTICE) -> np.ndarray:
    """The classifier from the drawn font (weighted as five practice cells) and photographed practice pages
    (pages, seed, document-like). About 15 minutes on a loaded 2-core machine, so it is built once
    (`python -m kiosk.mrz_camera.glyphs`) and kept in MODEL."""
    samples = [cell.ravel() for cell in _font_cells()] * 5
    labels = list(range(len(ALPHABET))) * 5
    for pages, seed, realistic in practice:
        more, their_labels = _photographed_cells(pages, seed, realistic)
        samples += more
        labels += their_labels
    return fit_lda(np.array(samples, np.float32), np.array(labels))


@functools.cache
def model() -> tuple[np.ndarray, tuple[str, ...]]:
    """The kept classifier (rows in ALPHABET order); built now if the file is missing."""
    if MODEL.is_file():
        matrix = np.load(MODEL, allow_pickle=False)
        if matrix.shape == (len(ALPHABET), CELL[0] * CELL[1] + 1):
            return matrix, tuple(ALPHABET)
    return build_model(), tuple(ALPHABET)


def scores(cell: np.ndarray) -> np.ndarray:
    """Every character's log-likelihood for this cell (up to a shared constant), in ALPHABET order."""
    matrix, _chars = model()
    out: np.ndarray = matrix[:, :-1] @ cell.ravel() + matrix[:, -1]
    return out


def classify(cell: np.ndarray, allowed: frozenset[str] | None = None) -> tuple[str, float, float]:
    """The likeliest character among `allowed`, its score and its lead over the runner-up (log-likelihood units)."""
    likelihoods = scores(cell)
    ranked = [int(i) for i in np.argsort(-likelihoods) if allowed is None or ALPHABET[int(i)] in allowed]
    if not ranked:
        raise ValueError("no character allowed")
    best = ranked[0]
    lead = float(likelihoods[best] - likelihoods[ranked[1]]) if len(ranked) > 1 else float("inf")
    return ALPHABET[best], float(likelihoods[best]), lead


def fit_referees(samples: np.ndarray, labels: np.ndarray, shrinkage: float = SHRINKAGE) -> np.ndarray:
    """A two-class LDA for every pair of letters (PAIRS), each with the covariance of its own two letters only (shrunk
    as in fit_lda): rows of weights and a bias, `row[:-1] @ x + row[-1]` is the log-likelihood ratio of the pair's
    first letter over its second. Learnt from the practice cells."""
    dims = samples.shape[1]
    index = {char: ALPHABET.index(char) for char in _LETTER_ORDER}
    means = {char: samples[labels == k].mean(axis=0) for char, k in index.items()}
    scatter = {
        char: (samples[labels == k] - means[char]).T @ (samples[labels == k] - means[char]) for char, k in index.items()
    }
    counts = {char: int((labels == k).sum()) for char, k in index.items()}
    rows = []
    for a, b in PAIRS:
        covariance = (scatter[a] + scatter[b]) / (counts[a] + counts[b])
        covariance = (1 - shrinkage) * covariance + shrinkage * np.trace(covariance) / dims * np.eye(dims)
        weights = np.linalg.solve(covariance, means[a] - means[b])
        rows.append(np.append(weights, -weights @ (means[a] + means[b]) / 2))
    return np.array(rows, np.float32)


@functools.cache
def referees() -> np.ndarray:
    matrix: np.ndarray = np.asarray(np.load(REFEREES, allow_pickle=False), np.float32)
    if matrix.shape != (len(PAIRS), CELL[0] * CELL[1] + 1):
        raise ValueError(f"{REFEREES}: shape {matrix.shape}, expected {(len(PAIRS), CELL[0] * CELL[1] + 1)}")
    return matrix


_PAIR_ROW = {pair: row for row, pair in enumerate(PAIRS)}


def referee(cell: np.ndarray, a: str, b: str) -> float:
    """The log-likelihood ratio of letter `a` over letter `b` for this cell, by their pair's own discriminant."""
    row = _PAIR_ROW.get((a, b))
    sign = 1.0
    if row is None:
        row, sign = _PAIR_ROW[b, a], -1.0
    weights = referees()[row]
    return sign * float(weights[:-1] @ cell.ravel() + weights[-1])


def read_letter(cell: np.ndarray, allowed: frozenset[str], lead: float) -> tuple[str, bool]:
    """A letter position (no check digit covers it): the answer and whether it is sure. The class LDA names its two
    likeliest letters; their pair's referee, which weighs only the pixels telling those two apart (D's corners
    against O's curve, E's lower bar), decides between them and must be sure by twice `lead`; and the winner must
    lead every other letter in the class LDA by `lead`. Measured: the class LDA alone took confident D for O (with the
    second opinion agreeing); the referees' margins on right letters were 89 and more (docs/mrz-camera.md)."""
    likelihoods = scores(cell)
    ranked = sorted((ALPHABET.index(c) for c in allowed), key=lambda k: -likelihoods[k])
    first, second = ALPHABET[ranked[0]], ALPHABET[ranked[1]]
    verdict = referee(cell, first, second)
    winner = first if verdict > 0 else second
    third = likelihoods[ranked[2]] if len(ranked) > 2 else -np.inf
    sure = abs(verdict) >= 2 * lead and float(likelihoods[ALPHABET.index(winner)] - third) >= lead
    return winner, sure


def class_means(samples: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each character's mean cell, normalised: a template for the correlation that gives the second opinion."""
    rows = np.stack([samples[labels == k].mean(axis=0) for k in range(len(ALPHABET))])
    rows -= rows.mean(axis=1, keepdims=True)
    normalised: np.ndarray = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
    return normalised


@functools.cache
def means() -> np.ndarray:
    matrix: np.ndarray = np.asarray(np.load(MEANS, allow_pickle=False), np.float32)
    return matrix


def second_opinion(cell: np.ndarray, allowed: frozenset[str] | None = None) -> str:
    """The best-correlating mean cell among `allowed`: letters are answered only when it agrees with the LDA (names
    have no check digit; the two err on different cells, e.g. a sharp E the LDA took for F)."""
    scores = means() @ cell.ravel()
    ranked = [int(i) for i in np.argsort(-scores) if allowed is None or ALPHABET[int(i)] in allowed]
    return ALPHABET[ranked[0]]


if __name__ == "__main__":
    # the practice cells once more for the means and the referees (as build_model gathers them)
    gathered = [_photographed_cells(pages, seed, realistic) for pages, seed, realistic in PRACTICE]
    cells_all = np.array([c for more, _ in gathered for c in more], np.float32)
    labels_all = np.array([k for _, their in gathered for k in their])
    np.save(MEANS, class_means(cells_all, labels_all))
    np.save(REFEREES, fit_referees(cells_all, labels_all))
    np.save(MODEL, build_model())
    print(f"wrote {MODEL}, {MEANS} and {REFEREES}")
