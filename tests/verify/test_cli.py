"""`markaz verify photos` and `markaz verify pairs`: one decision, and one JSON line per pair in the documented format."""

from __future__ import annotations

import json
import shutil

from typer.testing import CliRunner

from edge.verify.cli import app
from tests.verify.conftest import FACES, no_face_image


def test_photos_prints_one_decision(verifier):
    runner = CliRunner()
    r = runner.invoke(
        app, ["photos", str(FACES / "obama_1.jpg"), str(FACES / "obama_2.jpg"), str(FACES / "obama_3.jpg"), "--json"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["decision"] == "match" and out["liveness"] >= out["liveness_threshold"] and out["frames"] == 2
    r = runner.invoke(app, ["photos", str(FACES / "antispoof_F2.jpg"), str(FACES / "antispoof_F2.jpg")])
    assert r.exit_code == 1 and r.stdout.startswith("spoof")


def test_photos_refuses_a_bad_file(tmp_path, verifier):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really")
    r = CliRunner().invoke(app, ["photos", str(bad), str(FACES / "obama_2.jpg")])
    assert r.exit_code == 2 and "card_photo" in r.output


def test_pairs_json_lines(tmp_path, verifier):
    root = tmp_path / "photos"
    (root / "obama").mkdir(parents=True)
    (root / "biden").mkdir()
    shutil.copy(FACES / "obama_1.jpg", root / "obama" / "a.jpg")
    shutil.copy(FACES / "obama_2.jpg", root / "obama" / "b.jpg")
    shutil.copy(FACES / "biden_2.jpg", root / "biden" / "c.jpg")
    (root / "empty.jpg").write_bytes(no_face_image())
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("obama/a.jpg\tobama/b.jpg\nobama/a.jpg\tbiden/c.jpg\nempty.jpg\tobama/a.jpg\n")
    r = CliRunner().invoke(app, ["pairs", str(pairs), "--root", str(root), "--json"])
    assert r.exit_code == 0, r.output
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [set(x) for x in lines] == [{"a", "b", "score", "distance", "decision"}] * 3
    same, other, missing = lines
    assert (same["a"], same["b"]) == ("obama/a.jpg", "obama/b.jpg")
    assert same["decision"] == "match" and other["decision"] == "no_match"
    assert same["distance"] < other["distance"] and same["score"] > other["score"]
    assert missing == {"a": "empty.jpg", "b": "obama/a.jpg", "score": None, "distance": None, "decision": "retry"}
