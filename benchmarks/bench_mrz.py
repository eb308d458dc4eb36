"""MRZ by camera on generated data pages (issue 15): share read fully right, share refused, wrong answers, median time.

Each page has its own TD3 MRZ (names, numbers, dates drawn at random) and its own photography (rotation up to 10
degrees, mild perspective, blur, noise, uneven light, JPEG), from `kiosk/mrz_camera/pages.py`. A wrong answer is
any answer whose text differs from what was printed. `MARKAZ_BENCH_MRZ_PAGES` (default 500) sets the size;
`--engine tesseract` measures the alternative engine. Writes benchmarks/results/mrz.json (mrz-tesseract.json)."""

from __future__ import annotations

import argparse
import os
import statistics
import time

import cv2
import numpy as np

from benchmarks.report import summary_ms, write
from kiosk.card.mrz import compose_td3
from kiosk.mrz_camera import glyphs
from kiosk.mrz_camera.pages import data_page, photograph, random_photography
from kiosk.mrz_camera.read import Engine, MrzNotRead, read_mrz

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=int(os.environ.get("MARKAZ_BENCH_MRZ_PAGES", "500")))
    parser.add_argument("--engine", default="glyphs", choices=[e.value for e in Engine])
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    engine = Engine(args.engine)
    glyphs.templates()  # loaded once, as the agent does at start
    rng = np.random.default_rng(args.seed)
    face = cv2.imread(FACE)
    right = wrong = refused = 0
    seconds: list[float] = []
    for i in range(args.pages):
        mrz = random_td3(rng)
        frame = photograph(data_page([mrz[:44], mrz[44:]], face, seed=i), random_photography(rng), seed=i)
        started = time.perf_counter()
        try:
            answer = read_mrz(frame, engine)
        except MrzNotRead:
            refused += 1
        else:
            right += answer.text == mrz
            wrong += answer.text != mrz
        seconds.append(time.perf_counter() - started)
    result = {
        "engine": engine.value,
        "pages": args.pages,
        "right_share": round(right / args.pages, 4),
        "refused_share": round(refused / args.pages, 4),
        "wrong_answers": wrong,
        "read_time": summary_ms(seconds),
        "median_ms": round(statistics.median(seconds) * 1000, 1),
        "targets": {"right_share": 0.97, "wrong_answers": 0, "median_ms": 300},
    }
    path = write("mrz" if engine == Engine.GLYPHS else "mrz-tesseract", result)
    print(path, result)


if __name__ == "__main__":
    main()
