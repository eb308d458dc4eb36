"""Out-of-range input is refused with a clear 4xx and changes nothing: integers past SQLite's 64 bits in paths,
queries and the catalogue (422, never an OverflowError), and a catalogue whose prefixes clash (409, never an
IntegrityError)."""

from __future__ import annotations

from edge.queue.catalogue import SAMPLE_CATALOGUE
from tests.conftest import auth

BIG = 2**63


def test_ids_past_64_bits_in_paths_are_422(client, tokens):
    officer = auth(tokens["officer"])
    assert client.get(f"/api/v1/tickets/{BIG}", headers=officer).status_code == 422
    assert client.get(f"/api/v1/tickets/{BIG - 1}", headers=officer).status_code == 404, "the largest id is valid"
    for op in ("start", "finish", "recall", "no-show", "cancel"):
        r = client.post(f"/api/v1/tickets/{BIG}/{op}", headers=officer)
        assert r.status_code == 422, (op, r.text)
        assert r.json()["error"] == "invalid_request"
    r = client.post(f"/api/v1/tickets/{-BIG - 1}/transfer", json={"service": "report"}, headers=officer)
    assert r.status_code == 422


def test_integers_past_64_bits_in_queries_are_422(client, tokens):
    sup = auth(tokens["supervisor"])
    assert client.get(f"/api/v1/audit?after_seq={BIG}", headers=sup).status_code == 422
    assert client.get(f"/api/v1/audit?after_seq={BIG - 1}", headers=sup).status_code == 200


def _catalogue(**service_changes):
    body = SAMPLE_CATALOGUE.model_dump()
    body["services"][0].update(service_changes)
    return body


def test_catalogue_integers_out_of_range_are_422_and_change_nothing(client, tokens):
    sup = auth(tokens["supervisor"])
    before = client.get("/api/v1/services", headers=sup).json()
    for change in ({"target_wait_s": BIG}, {"priority": BIG}, {"priority": -BIG - 1}, {"target_wait_s": 10**30}):
        r = client.put("/api/v1/catalogue", json=_catalogue(**change), headers=sup)
        assert r.status_code == 422, (change, r.text)
        assert r.json()["error"] == "invalid_request"
    assert client.get("/api/v1/services", headers=sup).json() == before


def test_a_prefix_held_by_another_service_is_409_and_changes_nothing(client, tokens):
    sup = auth(tokens["supervisor"])
    before = client.get("/api/v1/services", headers=sup).json()
    new = {"code": "visa", "name_ar": "تأشيرة", "name_en": "Visa", "prefix": "A", "target_wait_s": 600}
    r = client.put("/api/v1/catalogue", json={"services": [new]}, headers=sup)
    assert r.status_code == 409, r.text
    assert r.json()["prefix"] == "A" and r.json()["held_by"] == "general" and "visa" in r.json()["detail"]
    swapped = SAMPLE_CATALOGUE.model_dump()
    swapped["services"][0]["prefix"], swapped["services"][1]["prefix"] = "R", "A"  # general <-> report
    assert client.put("/api/v1/catalogue", json=swapped, headers=sup).status_code == 409
    assert client.get("/api/v1/services", headers=sup).json() == before
    assert (
        client.post("/api/v1/tickets", json={"service": "general"}, headers=auth(tokens["kiosk"])).json()["number"]
        == "A001"
    )


def test_a_catalogue_that_contradicts_itself_is_422(client, tokens):
    sup = auth(tokens["supervisor"])
    body = SAMPLE_CATALOGUE.model_dump()
    body["counters"][0]["services"] = ["general", "general"]
    assert client.put("/api/v1/catalogue", json=body, headers=sup).status_code == 422
    body = SAMPLE_CATALOGUE.model_dump()
    body["counters"].append(dict(body["counters"][0]))
    assert client.put("/api/v1/catalogue", json=body, headers=sup).status_code == 422
