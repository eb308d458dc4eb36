"""Nothing biometric is kept: after real verifications no file, row, temporary file or log line holds an image, an
embedding or the document number. This test fails if any of them were persisted."""

from __future__ import annotations

import json
import logging
import re
import shutil
import sqlite3
import tempfile

import numpy as np
from fastapi.testclient import TestClient

from edge.api.app import create_app
from edge.verify.align import align
from edge.verify.opencv import cv2
from tests.conftest import auth
from tests.verify.conftest import encode, load, photo

URL = "/api/v1/verifications"
NUMBER = "P7391046Q"


def _decimal_pattern(values: np.ndarray) -> re.Pattern:
    """Three consecutive components written as decimals in any text form (JSON list, repr, CSV, rounded or not)."""
    parts = []
    for v in values[:3]:
        v = float(v)
        sign = "-" if v < 0 else ""
        truncated = f"{abs(v):.10f}"[:6]  # 0.xxxx, however many digits follow
        rounded = f"{abs(v):.4f}"
        parts.append(f"{sign}(?:{re.escape(truncated)}|{re.escape(rounded)})\\d*(?:e-?\\d+)?")
    return re.compile(r"[\s,;\[\]]+".join(parts).encode())


def _needles(verifier, images: dict[str, bytes]) -> tuple[dict[str, bytes], dict[str, re.Pattern]]:
    """Byte patterns that would betray a stored image or embedding in binary form, and regexes for text forms."""
    needles, patterns = {}, {}
    for name, data in images.items():
        mid = len(data) // 2
        needles[f"{name} bytes"] = data[mid : mid + 48]
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        needles[f"{name} pixels"] = img[img.shape[0] // 2, :16].tobytes()  # raw decoded pixels
        face = verifier.photo_face(img)
        if face is None:
            continue
        chip = align(img, face.landmarks)
        unit = verifier.embedder.embed([chip])[0]  # what the pipeline holds
        raw = verifier.embedder.session.run(None, {"input": chip.astype(np.float32).transpose(2, 0, 1)[None].copy()})[
            0
        ][0]
        for kind, emb in (("embedding", unit), ("raw embedding", raw)):
            needles[f"{name} {kind} f32"] = emb[:6].astype(np.float32).tobytes()
            needles[f"{name} {kind} f64"] = emb[:4].astype(np.float64).tobytes()
            patterns[f"{name} {kind} text"] = _decimal_pattern(emb)
    needles["document number"] = NUMBER.encode()
    return needles, patterns


def test_no_image_embedding_or_number_is_persisted(
    make_node, station_template, tmp_path, monkeypatch, caplog, verifier
):
    # a card photo over 1 MiB: Starlette's own form parser would spool it to a temporary file
    big = cv2.resize(load("obama_1.jpg"), None, fx=2.5, fy=2.5, interpolation=cv2.INTER_CUBIC)
    card_png = encode(big, ".png")
    assert len(card_png) > 1024 * 1024
    images = {
        "card": card_png,
        "live_genuine": photo("obama_2.jpg"),
        "live_other": photo("biden_2.jpg"),
        "attack": photo("antispoof_F2.jpg"),
    }

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    caplog.set_level(logging.DEBUG)

    template, tokens = station_template
    data = tmp_path / "node"
    shutil.copytree(template, data)
    node = make_node(data_dir=data)
    headers = auth(tokens["kiosk"])
    decisions = []
    with TestClient(create_app(node)) as client:
        for card, live in (("card", "live_genuine"), ("card", "live_other"), ("attack", "attack")):
            files = [
                ("card_photo", ("c.png", images[card], "image/png")),
                ("live", ("l.jpg", images[live], "image/jpeg")),
            ]
            r = client.post(URL, headers=headers, files=files, data={"document_number": NUMBER})
            assert r.status_code == 200, r.text
            decisions.append(r.json()["decision"])
            assert NUMBER not in r.text
    assert decisions == ["match", "no_match", "spoof"]

    # 1. nothing was written to the temporary directory
    assert list(tmp.rglob("*")) == []

    # 2. no file of the node (database, WAL, keys, anchors, anything) holds an image, an embedding or the number
    needles, patterns = _needles(verifier, images)
    files = [p for p in data.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".sqlite") for p in files)
    for path in files:
        content = path.read_bytes()
        for what, needle in needles.items():
            assert needle not in content, f"{what} found in {path.name}"
        for what, pattern in patterns.items():
            assert not pattern.search(content), f"{what} found in {path.name}"

    # 3. no database value is binary data the size of an embedding (128 floats are 512 bytes) or more: large blobs
    # other parts keep (e.g. the telemetry outbox) are JSON text
    conn = sqlite3.connect(node.settings.db_path)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        for row in conn.execute(f"SELECT * FROM {table}"):
            for value in row:
                if isinstance(value, bytes) and len(value) >= 512:
                    json.loads(value.decode("utf-8"))  # raises on an image or a packed embedding
    rows = conn.execute("SELECT * FROM verification_attempts").fetchall()
    assert len(rows) == 3 and all(len(r[1]) == 64 for r in rows)  # only the keyed hash of the number
    conn.close()

    # 4. no log line holds the number or an embedding
    logged = "\n".join(rec.getMessage() for rec in caplog.records).encode()
    assert NUMBER.encode() not in logged
    for what, pattern in patterns.items():
        assert not pattern.search(logged), f"{what} logged"
