"""The visitor's chip photo, camera frames and MRZ data live in the agent's memory for one session only: after a real
visit nothing of them is in any file the agent could write, in its log, or in the browser's storage."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.kiosk.conftest import TD3_FIELDS
from tests.kiosk.ui.test_visits import FACES, Visit, _agent, chip_photo, new_number

pytestmark = pytest.mark.slow


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_nothing_of_the_visitor_outlives_the_session(
    page: Page,
    tmp_path: Path,
    station,
    videos,
    pki_dir,
    pcscd,
    pki,
    insert,
) -> None:
    from kiosk.card.emulator import EmrtdApplet
    from kiosk.card.mrz import compose_td3
    from kiosk.card.personalisation import personalise
    from kiosk.hardware.escpos_sink import EscposSink

    photo = chip_photo(FACES / "obama_1.jpg")
    frame_bytes = (FACES / "obama_2.jpg").read_bytes()
    number = new_number()
    with EscposSink() as sink:
        agent = _agent(tmp_path / "agent", station, sink, videos["holder"], pki_dir, pcscd)
        try:
            agent.wait_health("availability", "open")
            visit = Visit(page, agent)
            insert(EmrtdApplet(personalise(compose_td3(**{**TD3_FIELDS, "document_number": number}), photo, pki)))
            visit.screen("choose", check=False)
            visit.tap("choose", "ticket")
            visit.screen("mrz_entry", check=False)
            visit.key_in(number)
            visit.tap("submit")
            visit.screen("confirm_identity", timeout=60_000, check=False)
            assert agent.health()["holding_personal_data"] is True  # the photo is held during the visit ...
            visit.tap("confirm")
            visit.screen("choose_service", check=False)
            visit.tap("service", "general")
            page.wait_for_selector('[data-screen="ticket"][data-print="printed"]', timeout=20_000)
            visit.tap("done")
            visit.screen("attract", check=False)
            assert agent.health()["holding_personal_data"] is False  # ... and wiped at its end
            storage = page.evaluate(
                """async () => ({
                    local: localStorage.length, session: sessionStorage.length,
                    idb: (await indexedDB.databases()).length, caches: (await caches.keys()).length,
                    cookies: document.cookie.length })"""
            )
            assert storage == {"local": 0, "session": 0, "idb": 0, "caches": 0, "cookies": 0}
            html = page.content()
            assert number not in html and TD3_FIELDS["surname"] not in html
        finally:
            agent.stop()

    needles = {
        "chip photo": photo[len(photo) // 2 : len(photo) // 2 + 48],
        "camera frame": frame_bytes[len(frame_bytes) // 2 : len(frame_bytes) // 2 + 48],
        "document number": number.encode(),
        "surname": TD3_FIELDS["surname"].encode(),
        "given names": TD3_FIELDS["given_names"].encode(),
        "birth date": TD3_FIELDS["birth_date"].encode(),
    }
    written = _files(tmp_path / "agent")
    assert any(p.name.endswith(".log") for p in written)  # the search covers the agent's log
    for path in written:
        data = path.read_bytes()
        for what, needle in needles.items():
            assert needle not in data, f"{what} found in {path}"
