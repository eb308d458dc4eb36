"""MRZ by camera on generated data pages (issue 15): share read fully right, share refused, wrong answers, median time.

Each page has its own TD3 MRZ (names, numbers, dates drawn at random) and its own photography (rotation up to 10
degrees, mild perspective, blur, noise, uneven light, JPEG), from `kiosk/mrz_camera/pages.py`. A wrong answer is
any answer whose text differs from what was printed. A fifth as many TD1 identity cards with a CAN printed on the MRZ
side measure the CAN read too (right, not read, wrong), and as many photo sides of TD1 cards (the CAN bottom right,
the MRZ on the back) the CAN read from the photo side; as many TD2 documents (2 x 36) and TD3 pages held upside
down are read as the pages are. `MARKAZ_BENCH_MRZ_PAGES` (default 500) sets the size; `--engine tesseract` measures the alternative engine. Writes benchmarks/results/mrz.json (mrz-tesseract.json)."""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Iterator
from dataclasses import replace

import cv2
import numpy as np

from benchmarks.report import summary_ms, write
from kiosk.card.mrz import compose_td1, compose_td2, compose_td3
from kiosk.mrz_camera import glyphs
from kiosk.mrz_camera.can import read_can_front
from kiosk.mrz_camera.pages import data_page, id_card, id_card_front, photograph, random_photography
from kiosk.mrz_camera.read import MIN_LEAD, Engine, MrzNotRead, read_mrz

SURNAMES = ["ERIKSSON", "NGUYEN", "AL HASHIMI", "OKONKWO", "SCHMIDT", "DUBOIS", "KOWALSKA", "HAQUE", "BERGQVIST"]
GIVEN = ["ANNA MARIA", "MINH", "LAYLA", "CHIDI", "KLAUS PETER", "ELODIE", "ZOFIA", "RUMANA", "NILS", "ADE"]
FACE = "tests/data/card/face.jp2"


def random_td3(rng: np.random.Generator) -> str:
    number = "".join(rng.choice(list("ABCDEFGHJKLMNPRSTUVWXYZ0123456789"), 9))
    birth = f"{rng.integers(40, 99):02d}{rng.integers(1, 13):02d}{rng.integers(1, 29):02d}"
    expiry = f"{rng.integers(27, 36):02d}{rng.integers(1, 13):02d}{rng.integers(1, 29):02d}"
    return compose_td3(
        issuing_state="UTO",
        surname=str(rng.choice(SURNAMES)),
        given_names=str(rng.choice(GIVEN)),
        document_number=number,
        nationality="UTO",
        birth_date=birth,
        sex=str(rng.choice(["M", "F"])),
        expiry_date=expiry,
    )


def random_td2(rng: np.random.Generator) -> str:
    """A TD2 document (2 x 36: older ID cards, some residence permits), the same fields as a passport's."""
    td3 = random_td3(rng)  # the same draws, so TD2 names and dates are as varied as the pages'
    return compose_td2(
        issuing_state="UTO",
        surname=str(rng.choice(SURNAMES)),
        given_names=str(rng.choice(GIVEN)),
        document_number=td3[44:53],
        nationality="UTO",
        birth_date=td3[57:63],
        sex=str(rng.choice(["M", "F"])),
        expiry_date=td3[65:71],
    )


def read_all(shots: Iterator[tuple[np.ndarray, str]], engine: Engine = Engine.GLYPHS) -> dict[str, object]:
    """Read each (photo, the MRZ printed on it): right, refused, wrong answers and the time of each read."""
    right = wrong = refused = 0
    seconds: list[float] = []
    for frame, mrz in shots:
        started = time.perf_counter()
        try:
            answer = read_mrz(frame, engine)
        except MrzNotRead:
            refused += 1
        else:
            right += answer.text == mrz
            wrong += answer.text != mrz
        seconds.append(time.perf_counter() - started)
    n = max(1, len(seconds))
    return {
        "documents": len(seconds),
        "right_share": round(right / n, 4),
        "refused_share": round(refused / n, 4),
        "wrong_answers": wrong,
        "median_ms": round(statistics.median(seconds) * 1000, 1) if seconds else None,
        "seconds": seconds,
    }


def other_pages(count: int, rng: np.random.Generator, face: np.ndarray, upside_down: bool = False):
    """TD2 documents, or TD3 pages held upside down, photographed as the passports are."""
    for i in range(count):
        if upside_down:
            mrz = random_td3(rng)
            page = cv2.rotate(data_page([mrz[:44], mrz[44:]], face, seed=i), cv2.ROTATE_180)
        else:
            mrz = random_td2(rng)
            page = data_page([mrz[:36], mrz[36:]], face, seed=i)
        yield photograph(page, random_photography(rng), seed=i), mrz


def _without_times(tally: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in tally.items() if k != "seconds"}


def random_td1(rng: np.random.Generator) -> str:
    number = "".join(rng.choice(list("ABCDEFGHJKLMNPRSTUVWXYZ0123456789"), 9))
    return compose_td1(
        issuing_state="UTO",
        surname=str(rng.choice(SURNAMES)),
        given_names=str(rng.choice(GIVEN)),
        document_number=number,
        nationality="UTO",
        birth_date=f"{rng.integers(40, 99):02d}{rng.integers(1, 13):02d}{rng.integers(1, 29):02d}",
        sex=str(rng.choice(["M", "F"])),
        expiry_date=f"{rng.integers(27, 36):02d}{rng.integers(1, 13):02d}{rng.integers(1, 29):02d}",
    )


def bench_cards(count: int, rng: np.random.Generator, face: np.ndarray) -> dict[str, object]:
    """TD1 ID cards with a CAN printed on the MRZ side: MRZ right/wrong/refused as for pages, and the CAN read
    right, not read (None) or wrong."""
    right = wrong = refused = can_right = can_none = can_wrong = 0
    for i in range(count):
        mrz = random_td1(rng)
        can = "".join(rng.choice(list("0123456789"), 6))
        card = id_card([mrz[:30], mrz[30:60], mrz[60:]], can, face, seed=i)
        frame = photograph(card, random_photography(rng), seed=i)
        try:
            answer = read_mrz(frame)
        except MrzNotRead:
            refused += 1
            continue
        right += answer.text == mrz
        wrong += answer.text != mrz
        can_right += answer.can == can
        can_none += answer.can is None
        can_wrong += answer.can is not None and answer.can != can
    return {
        "cards": count,
        "right_share": round(right / max(1, count), 4),
        "refused_share": round(refused / max(1, count), 4),
        "wrong_answers": wrong,
        "can_right_share": round(can_right / max(1, count), 4),
        "can_not_read_share": round(can_none / max(1, count), 4),
        "can_wrong": can_wrong,
    }


def bench_fronts(count: int, rng: np.random.Generator, face: np.ndarray) -> dict[str, object]:
    """The photo side of TD1 cards (MRZ on the back, CAN bottom right): the CAN read right, not read or wrong."""
    right = none = wrong = 0
    seconds: list[float] = []
    for i in range(count):
        mrz = random_td1(rng)
        fields = {
            "surname": str(rng.choice(SURNAMES)),
            "given_names": str(rng.choice(GIVEN)),
            "document_number": mrz[5:14],
            "nationality": "UTO",
            "birth_date": mrz[30:36],
            "expiry_date": mrz[38:44],
        }
        can = "".join(rng.choice(list("0123456789"), 6))
        how = replace(random_photography(rng), page_width_px=int(rng.integers(750, 1000)))
        frame = photograph(id_card_front(fields, can, face, seed=i), how, seed=i)
        started = time.perf_counter()
        found = read_can_front(frame, MIN_LEAD)
        seconds.append(time.perf_counter() - started)
        right += found == can
        none += found is None
        wrong += found is not None and found != can
    return {
        "cards": count,
        "can_right_share": round(right / max(1, count), 4),
        "can_not_read_share": round(none / max(1, count), 4),
        "can_wrong": wrong,
        "median_ms": round(statistics.median(seconds) * 1000, 1) if seconds else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=int(os.environ.get("MARKAZ_BENCH_MRZ_PAGES", "500")))
    parser.add_argument("--engine", default="glyphs", choices=[e.value for e in Engine])
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--cards",
        type=int,
        default=None,
        help="TD1 cards, TD1 photo sides and TD2 documents (default: a fifth of --pages)",
    )
    args = parser.parse_args()
    engine = Engine(args.engine)
    glyphs.model()  # loaded once, as the agent does at start
    rng = np.random.default_rng(args.seed)
    face = cv2.imread(FACE)

    def pages():
        for i in range(args.pages):
            mrz = random_td3(rng)
            yield photograph(data_page([mrz[:44], mrz[44:]], face, seed=i), random_photography(rng), seed=i), mrz

    tally = read_all(pages(), engine)
    seconds = tally["seconds"]
    assert isinstance(seconds, list)
    result = {
        "engine": engine.value,
        "pages": args.pages,
        "right_share": tally["right_share"],
        "refused_share": tally["refused_share"],
        "wrong_answers": tally["wrong_answers"],
        "read_time": summary_ms(seconds),
        "median_ms": tally["median_ms"],
        "targets": {"right_share": 0.97, "wrong_answers": 0, "median_ms": 300},
    }
    if engine == Engine.GLYPHS:
        cards = args.pages // 5 if args.cards is None else args.cards
        result["td1_cards_with_can"] = bench_cards(cards, rng, face)
        result["td1_photo_sides"] = bench_fronts(cards, rng, face)
        result["td2_documents"] = _without_times(read_all(other_pages(cards, rng, face)))
        result["td3_pages_upside_down"] = _without_times(read_all(other_pages(cards, rng, face, upside_down=True)))
    path = write("mrz" if engine == Engine.GLYPHS else "mrz-tesseract", result)
    print(path, result)


if __name__ == "__main__":
    main()
