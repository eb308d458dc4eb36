"""The workbench in Chromium against a real `markaz edge serve`: a supervisor's list and filters, a report's page
with the supervisor's forms, and an agency user's read-only view, each axe-clean in Arabic and English.
With MARKAZ_REPORT_SCREENSHOTS=docs/reports the pictures of the manual are (re)made."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD, ServerProcess, auth
from tests.reports.conftest import THEFT
from tests.ui.axe import assert_accessible

pytestmark = pytest.mark.slow
SHOTS = os.environ.get("MARKAZ_REPORT_SCREENSHOTS")
AGENCIES = (
    '[edge.reports]\nstation_code = "OLY"\n'
    '[edge.reports.agencies.prosecution]\nname_en = "Public Prosecution"\nsees = "procedure"\nusers = ["agency_viewer"]\n'
)


@pytest.fixture(scope="module")
def desk(station_template, tmp_path_factory) -> Iterator[tuple[ServerProcess, dict[str, str], list[str]]]:
    template, tokens = station_template
    folder = tmp_path_factory.mktemp("workbench")
    data = folder / "node"
    shutil.copytree(template, data)
    config = folder / "edge.toml"
    config.write_text(AGENCIES, encoding="utf-8")
    server = ServerProcess(data, "--config", str(config), "--sample-data").start()
    officer, supervisor = auth(tokens["officer"]), auth(tokens["supervisor"])
    refs = []
    with httpx.Client(base_url=server.base, timeout=30) as c:
        for kind, details in (("theft", THEFT), ("general", {"subject": "Noise at night", "description": "Loud music"}),
                              ("theft", THEFT), ("theft", THEFT)):  # fmt: skip
            r = c.post("/api/v1/reports", headers=officer,
                       json={"type": kind, "details": details, "complainant": {"name": "Huda Al-Mansour"}})  # fmt: skip
            assert r.status_code == 201, r.text
            refs.append(r.json()["reference"])

        def move(ref: str, action: str, who=officer) -> None:
            r = c.post(
                f"/api/v1/reports/{ref}/transitions", json={"action": action, "reason": "as it came"}, headers=who
            )
            assert r.status_code == 200, r.text

        for ref in refs[1:]:
            move(ref, "receive")
            c.post(f"/api/v1/reports/{ref}/assign", json={"officer": "officer", "reason": "on duty"}, headers=officer)
        for ref in refs[2:]:
            move(ref, "investigate")
        until = (datetime.now(UTC) + timedelta(days=3)).isoformat()
        r = c.post(f"/api/v1/reports/{refs[3]}/shares", headers=supervisor,
                   json={"agency_user": "agency_viewer", "purpose": "case review", "until": until})  # fmt: skip
        assert r.status_code == 201, r.text
    yield server, tokens, refs
    server.stop()


def sign_in(page: Page, base: str, user: str, lang: str = "ar") -> None:
    page.goto(f"{base}/reports?lang={lang}")
    page.wait_for_selector('[data-screen="signin"]')
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_selector('section[data-screen="reports"]')


def shoot(page: Page, name: str) -> None:
    page.evaluate("document.fonts.ready")
    assert_accessible(page, name)
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_supervisor_filters_the_list_and_sees_the_supervisors_forms(page: Page, desk, lang: str) -> None:
    server, _, refs = desk
    sign_in(page, server.base, "supervisor", lang)
    expect(page.locator("html")).to_have_attribute("dir", "rtl" if lang == "ar" else "ltr")
    expect(page.locator("section[data-screen=reports]")).to_have_attribute("data-count", "4")
    shoot(page, f"{lang}-workbench-list")
    page.select_option("#f-state", "under_investigation")
    page.locator("form.filters button[type=submit]").click()
    page.wait_for_selector('section[data-screen="reports"][data-count="2"]')
    assert sorted(
        page.locator("tr[data-reference]").evaluate_all("rows => rows.map(r => r.dataset.reference)")
    ) == sorted(refs[2:])
    page.locator("#language-toggle").click()  # the other language keeps the filter
    other = "en" if lang == "ar" else "ar"
    page.wait_for_selector(f'html[lang="{other}"] section[data-screen="reports"][data-count="2"]')
    page.locator(f'a[href^="/reports/{refs[2]}"]').click()
    page.wait_for_selector('section[data-screen="report"][data-state="under_investigation"]')
    options = page.locator("#move-action option").evaluate_all("os => os.map(o => o.value)")
    assert options == ["return", "refer", "close"]
    expect(page.locator("#share-form")).to_be_visible()
    expect(page.locator("#assign-officer")).to_be_visible()
    shoot(page, f"{other}-report-supervisor")


def test_an_agency_user_sees_only_the_shared_report_read_only(page: Page, desk) -> None:
    server, _, refs = desk
    sign_in(page, server.base, "agency_viewer")
    expect(page.locator("section[data-screen=reports]")).to_have_attribute("data-count", "1")
    expect(page.locator(f'tr[data-reference="{refs[3]}"]')).to_have_count(1)
    page.locator(f'a[href^="/reports/{refs[3]}"]').click()
    page.wait_for_selector(f'section[data-screen="report"][data-reference="{refs[3]}"]')
    expect(page.locator("#parties")).to_contain_text("غير متاح لجهتك")  # "procedure" agencies see roles only
    expect(page.locator("#screen")).not_to_contain_text("Huda")
    expect(page.locator("form")).to_have_count(0)
    shoot(page, "ar-report-agency")
    response = page.goto(f"{server.base}/reports/{refs[0]}")
    assert response is not None and response.status == 403
    page.wait_for_selector('section[data-screen="refused"]')
    shoot(page, "ar-refused")
