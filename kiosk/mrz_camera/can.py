"""The 6-digit card access number (CAN) printed on a TD1 identity card, read by the document camera.

PACE cards print the CAN in OCR-B at the MRZ's pitch: some above the MRZ on the back (`read.read_can`, which knows
where to look from the zone), many on the photo side, bottom right, where no MRZ gives scale or angle
(`read_can_front`: the card's outline does). Either way the CAN has no check digit, so it is read only as exactly one
row of six digit-sized marks at the pitch, every digit sure (a clear lead in the classifier, the second opinion
agreeing, and no letter likelier); anything less is None. A wrong CAN would cost one PACE attempt (the chip counts
them), a refusal costs nothing: the MRZ or the keyboard is the way."""

from __future__ import annotations

import cv2
import numpy as np

from kiosk.mrz_camera import glyphs

CAN_DIGITS = 6
DIGITS = frozenset("0123456789")
LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
CARD_MM = (85.6, 54.0)  # ID-1, ISO/IEC 7810
PITCH_MM = 2.54  # the MRZ's pitch (ICAO 9303-3), at which the CAN is printed too
CAP_PER_PITCH = 1.08  # OCR-B digits are this many pitches high in the drawn font (measured, `pages._ocr_b_for_pitch`)

Mark = tuple[int, int, int, int]  # x, y, w, h


def digit_row(region: np.ndarray, pitch: float, cap: float, min_lead: float) -> str | None:
    """The one row of six OCR-B digits (at `pitch`, `cap` high) in a level grey region, or None."""
    if region.size == 0 or pitch < 4:
        return None
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (int(2 * pitch) | 1, int(1.6 * cap) | 1))
    blackhat = cv2.morphologyEx(cv2.GaussianBlur(region, (3, 3), 0), cv2.MORPH_BLACKHAT, kernel)
    _, ink = cv2.threshold(blackhat, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    count, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    marks: list[Mark] = [(int(s[0]), int(s[1]), int(s[2]), int(s[3])) for s in stats[1:count]]
    # digit-sized marks only; smaller ones (dots, noise) are left out of the rows but still break a run below
    sized = [m for m in marks if 0.75 * cap <= m[3] <= 1.3 * cap and m[2] <= 1.1 * pitch]
    rows: list[list[Mark]] = []
    for mark in sorted(sized, key=lambda m: m[1] + m[3] / 2):
        middle = mark[1] + mark[3] / 2
        if rows and abs(rows[-1][-1][1] + rows[-1][-1][3] / 2 - middle) < 0.4 * cap:
            rows[-1].append(mark)
        else:
            rows.append([mark])
    candidates = []
    for row in rows:
        row.sort(key=lambda m: m[0])
        for run in _runs(row, pitch):
            gaps = np.diff([m[0] + m[2] / 2 for m in run])
            if len(run) == CAN_DIGITS and np.all(np.abs(gaps - pitch) < 0.25 * pitch):
                candidates.append(run)
    if len(candidates) != 1:
        return None
    run = candidates[0]
    y0 = max(0, min(m[1] for m in run) - int(0.2 * cap))
    y1 = max(m[1] + m[3] for m in run) + int(0.2 * cap)
    x0 = max(0, run[0][0] - int(pitch))
    x1 = run[-1][0] + run[-1][2] + int(pitch)
    line = ink[y0:y1, x0:x1]
    try:
        digit_cells = glyphs.cells(line, (0, line.shape[0]), CAN_DIGITS)
    except glyphs.SegmentationError:
        return None
    digits = []
    for cell in digit_cells:
        char, score, lead = glyphs.classify(cell, DIGITS)
        _letter, letter_score, _ = glyphs.classify(cell, LETTERS)
        # a sure digit, confirmed by the second opinion, and not clearly a letter (a row of print that is not a CAN;
        # 0 and O are close in OCR-B, so a letter only a little likelier is no objection)
        if lead < min_lead or letter_score - score >= min_lead or glyphs.second_opinion(cell, DIGITS) != char:
            return None
        digits.append(char)
    return "".join(digits)


def _runs(row: list[Mark], pitch: float) -> list[list[Mark]]:
    """A row of marks split where the gap is wider than one and a half pitches: the CAN stands on its own, apart
    from other print at the same height."""
    runs = [[row[0]]]
    for mark in row[1:]:
        last = runs[-1][-1]
        if mark[0] + mark[2] / 2 - (last[0] + last[2] / 2) > 1.5 * pitch:
            runs.append([mark])
        else:
            runs[-1].append(mark)
    return runs


def find_card(grey: np.ndarray) -> tuple[tuple[float, float], tuple[float, float], float] | None:
    """The card's outline in a frame (a light card on the darker desk): centre, (long, short) side in pixels and the
    angle that levels it, or None when no card-shaped (ID-1 proportions) light area is there."""
    blurred = cv2.GaussianBlur(grey, (5, 5), 0)
    _, light = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    light = cv2.morphologyEx(light, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    contours, _ = cv2.findContours(light, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    (cx, cy), (w, h), angle = cv2.minAreaRect(max(contours, key=cv2.contourArea))
    if w < h:
        w, h, angle = h, w, angle - 90
    if angle < -45:
        angle += 180
    elif angle > 45:
        angle -= 180
    ratio = CARD_MM[0] / CARD_MM[1]
    if h <= 0 or abs(w / h - ratio) > 0.2 * ratio or w < 0.2 * grey.shape[1]:
        return None
    return (cx, cy), (w, h), angle


def read_can_front(image: np.ndarray, min_lead: float) -> str | None:
    """The CAN on the photo side of a TD1 card held under the camera (upright, turned up to 15 degrees), or None.
    The card's outline gives its angle and scale (85.6 mm wide), hence the pitch the CAN is printed at."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    card = find_card(grey)
    if card is None:
        return None
    (cx, cy), (w, h), angle = card
    if abs(angle) > 15:
        return None
    rotation = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
    rotation[0, 2] += w / 2 - cx
    rotation[1, 2] += h / 2 - cy
    level = cv2.warpAffine(grey, rotation, (int(w), int(h)), flags=cv2.INTER_CUBIC, borderValue=255)
    pitch = PITCH_MM * w / CARD_MM[0]
    return digit_row(level, pitch, CAP_PER_PITCH * pitch, min_lead)
