"""POST /api/v1/verifications: decisions, 422/413, attempts per visit (429), a saturated pool (503), concurrent kiosks."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from edge.verify.settings import VerifySettings
from tests.conftest import FakeClock, auth
from tests.verify.conftest import no_face_image, photo

URL = "/api/v1/verifications"


def form(card: str | bytes = "obama_1.jpg", live=("obama_2.jpg",), number: str | None = "A1234567"):
    files = [("card_photo", ("card.jpg", card if isinstance(card, bytes) else photo(card), "image/jpeg"))]
    for item in live:
        files.append(("live", ("live.jpg", item if isinstance(item, bytes) else photo(item), "image/jpeg")))
    data = {} if number is None else {"document_number": number}
    return {"files": files, "data": data}


def test_match_answer_and_audit_entry(kiosk):
    client, node, headers = kiosk()
    r = client.post(URL, headers=headers, **form())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["decision"] == "match" and body["reason"] == "match"
    assert body["score"] >= body["threshold"] and body["attempts_left"] == 3
    assert body["model_versions"]["dlib_resnet"] == "dlib-resnet-v1"
    entries = node.store.query(
        "SELECT actor, action, entity, entity_id, after FROM audit_log WHERE action = 'verification.decide'"
    )
    assert len(entries) == 1
    import json

    after = json.loads(entries[0]["after"])
    assert entries[0]["entity"] == "verification" and entries[0]["entity_id"] == str(body["verification_id"])
    for key in (
        "decision",
        "reason",
        "score",
        "threshold",
        "model_versions",
        "timings_ms",
        "latency_ms",
        "kiosk",
        "document_hash",
    ):
        assert key in after
    assert after["kiosk"] == "kiosk-1" and isinstance(after["latency_ms"], float)
    assert after["document_hash"] == node.keys.hash_document("A1234567")
    assert "A1234567" not in entries[0]["after"]


def test_no_match_and_retry_answers(kiosk):
    client, _, headers = kiosk()
    r = client.post(URL, headers=headers, **form(live=("biden_2.jpg",), number="B1"))
    assert r.status_code == 200 and r.json()["decision"] == "no_match"
    r = client.post(URL, headers=headers, **form(live=(no_face_image(),), number="B2"))
    assert r.status_code == 200 and r.json()["decision"] == "retry" and r.json()["reason"] == "no_face"
    assert r.json()["message"]


def test_spoof_answer(kiosk):
    client, _, headers = kiosk()
    r = client.post(URL, headers=headers, **form(card="antispoof_F1.jpg", live=("antispoof_F1.jpg",)))
    assert r.status_code == 200 and r.json()["decision"] == "spoof"


def test_bad_requests_are_422_naming_the_problem(kiosk):
    client, node, headers = kiosk()
    jpeg = photo("obama_2.jpg")
    r = client.post(URL, headers=headers, **form(live=(jpeg[: len(jpeg) // 2],)))
    assert r.status_code == 422 and "live[0]" in r.json()["detail"] and "truncated" in r.json()["detail"]
    r = client.post(URL, headers=headers, **form(card=b"not an image at all"))
    assert r.status_code == 422 and "card_photo" in r.json()["detail"]
    r = client.post(URL, headers=headers, **form(live=()))
    assert r.status_code == 422 and "live" in r.json()["detail"]
    r = client.post(URL, headers=headers, **form(live=("obama_2.jpg",) * 6))
    assert r.status_code == 422
    r = client.post(URL, headers=headers, **form(number=None))
    assert r.status_code == 422 and "document_number" in r.json()["detail"]
    r = client.post(URL, headers=headers, json={"card_photo": "x"})
    assert r.status_code == 422
    # refused requests do not use up the visitor's attempts
    assert node.store.query("SELECT count(*) AS n FROM verification_attempts")[0]["n"] == 0


def test_too_large_is_413(kiosk):
    client, _, headers = kiosk()
    big = photo("obama_2.jpg") + b"\0" * (8 * 1024 * 1024)
    r = client.post(URL, headers=headers, **form(live=(big,)))
    assert r.status_code == 413 and r.json()["error"] == "too_large"


def test_only_kiosks_may_verify(kiosk, station_template):
    client, _, _ = kiosk()
    assert client.post(URL, **form()).status_code == 401
    officer = auth(station_template[1]["officer"])
    assert client.post(URL, headers=officer, **form()).status_code == 403


def test_attempts_per_document_per_visit(kiosk):
    clock = FakeClock()
    client, _, headers = kiosk(clock=clock, max_attempts_per_document=2, visit_minutes=30)
    for left in (1, 0):
        r = client.post(URL, headers=headers, **form(live=("biden_2.jpg",), number="X9"))
        assert r.status_code == 200 and r.json()["decision"] == "no_match" and r.json()["attempts_left"] == left
    r = client.post(URL, headers=headers, **form(number="X9"))
    assert r.status_code == 429 and "staff" in r.json()["detail"] and int(r.headers["Retry-After"]) > 0
    # another document is not affected; the same number written differently is the same document
    assert client.post(URL, headers=headers, **form(number="Y1")).status_code == 200
    assert client.post(URL, headers=headers, **form(number=" x9 ")).status_code == 429
    # a new visit after the window
    clock.advance(minutes=31)
    r = client.post(URL, headers=headers, **form(number="X9"))
    assert r.status_code == 200 and r.json()["decision"] == "match"


def test_saturated_pool_answers_503_with_retry_after(kiosk):
    client, node, headers = kiosk(workers=1, queue_limit=0, retry_after_s=3)
    _ = node.verifier.verifier  # models loaded
    gate = threading.Event()
    held = node.verifier.pool.submit(gate.wait)  # the only worker slot is taken
    try:
        r = client.post(URL, headers=headers, **form())
        assert r.status_code == 503 and r.headers["Retry-After"] == "3"
        assert r.json()["error"] == "unavailable"
        # the API itself stays responsive
        assert client.get("/healthz").status_code == 200
    finally:
        gate.set()
        held.result(timeout=30)
    r = client.post(URL, headers=headers, **form())
    assert r.status_code == 200 and r.json()["decision"] == "match"


def test_concurrent_kiosks(kiosk):
    client, _, headers = kiosk(workers=2, queue_limit=6)
    cases = [
        ("obama_2.jpg", "match"),
        ("biden_2.jpg", "no_match"),
        ("obama_3.jpg", "match"),
        ("leslie_2.jpg", "no_match"),
    ] * 2

    def one(i):
        live, expected = cases[i]
        r = client.post(URL, headers=headers, **form(live=(live,), number=f"C{i}"))
        return r.status_code, r.json().get("decision"), expected

    with ThreadPoolExecutor(4) as ex:
        results = list(ex.map(one, range(len(cases))))
    for status, decision, expected in results:
        assert status == 200 and decision == expected


def test_a_number_written_in_another_form_is_the_same_document(kiosk):
    """Full-width, Arabic-Indic digits, lower case and MRZ fillers all name one document: no fresh attempts."""
    clock = FakeClock()
    client, node, headers = kiosk(clock=clock, max_attempts_per_document=2)
    for number in ("X9123", "Ｘ９１２３"):  # the second is the full-width copy of the first
        r = client.post(URL, headers=headers, **form(live=("biden_2.jpg",), number=number))
        assert r.status_code == 200 and r.json()["decision"] == "no_match"
    for same in ("Ｘ９１２３", "x٩١٢٣", "X<9<12 3", "x-9123"):
        r = client.post(URL, headers=headers, **form(number=same))
        assert r.status_code == 429, same
    hashes = {row["document_hash"] for row in node.store.query("SELECT document_hash FROM verification_attempts")}
    assert hashes == {node.keys.hash_document("X9123")}


def test_a_number_that_only_looks_like_one_is_refused(kiosk):
    client, node, headers = kiosk()
    for bad in ("Х9123", "A1\u200b23", "<<<", "A" * 65, "\u0660" * 65):  # a Cyrillic Х, a zero-width space
        r = client.post(URL, headers=headers, **form(number=bad))
        assert r.status_code == 422 and r.json()["field"] == "document_number", bad
    assert node.store.query("SELECT count(*) AS n FROM verification_attempts")[0]["n"] == 0


def test_the_service_applies_every_rule_without_http(make_node, station_template, tmp_path):
    """VerificationService.verify, called directly, reserves the attempt, hashes the number and writes the audit
    entry: the router has none of these rules."""
    import shutil

    from edge.auth.principal import Principal
    from edge.errors import RateLimited

    template, _ = station_template
    data = tmp_path / "direct"
    shutil.copytree(template, data)
    node = make_node(data_dir=data, verify=VerifySettings(max_attempts_per_document=1))
    kiosk_1 = Principal("device", "kiosk-1", "kiosk")
    service = node.verifier
    with service.admission():
        outcome = service.verify(kiosk_1, "ab 123", photo("obama_1.jpg"), [photo("biden_2.jpg")])
    assert outcome.decision.decision == "no_match" and outcome.attempts_left == 0
    row = node.store.query("SELECT actor, after FROM audit_log WHERE action = 'verification.decide'")[0]
    assert node.keys.hash_document("AB123") in row["after"] and "AB123" not in row["after"]
    with pytest.raises(RateLimited), service.admission():
        service.verify(kiosk_1, "AB123", photo("obama_1.jpg"), [photo("obama_2.jpg")])
    service.close()


def test_a_verification_waiting_for_a_worker_does_not_hold_up_ticket_issuing(kiosk):
    """The route's blocking work (SQLite, waiting for the pipeline) runs off the event loop."""
    import time

    client, node, headers = kiosk(workers=1, queue_limit=1)
    _ = node.verifier.verifier  # models loaded
    gate = threading.Event()
    held = node.verifier.pool.submit(gate.wait)  # the only worker is busy; one slot is left for the request
    try:
        with ThreadPoolExecutor(1) as ex:
            pending = ex.submit(client.post, URL, headers=headers, **form())
            deadline = time.monotonic() + 60
            while not node.store.query("SELECT count(*) AS n FROM verification_attempts")[0]["n"]:
                assert time.monotonic() < deadline and not pending.done(), "the verification never reached the service"
                time.sleep(0.02)
            # the verification is inside the service, waiting for the worker: the node keeps serving
            r = client.post("/api/v1/tickets", json={"service": "general"}, headers=headers)
            assert r.status_code == 201 and not pending.done()
            gate.set()
            r = pending.result(timeout=120)
            assert r.status_code == 200 and r.json()["decision"] == "match"
    finally:
        gate.set()
        held.result(timeout=30)
