"""The comparison page in Debian's Chromium against real parts: three simulated stations publish their business days
(waits, outcomes, verification and report counts) through Mosquitto with their own certificates to a real
`markaz central serve`. The page's figures, ranks and best marks equal the JSON API's for the same period, ties
share a rank, the period choice changes the figures, the CSV link gives the API's CSV, and the language toggle keeps
the choice. axe-core in Arabic and English; screenshots with MARKAZ_CENTRAL_SCREENSHOTS=docs/central."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect

from central.comparison import MEASURES
from markaz.contracts import mqtt as contract
from tests.central.process import CentralProcess, poll
from tests.central.staff import PASSWORDS
from tests.central.test_alarm_pages_ui import Station
from tests.central.test_dashboard_ui import _shot, _sign_in
from tests.ui.axe import assert_accessible


def _day(station: Station, day, waits: list[float], served: int, no_shows: int, verdicts: tuple[int, int, int],
         reports: tuple[int, int]) -> None:  # fmt: skip
    """One business day of a station, as its edge publishes it (the newest message of a day counts)."""
    ts = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=12)
    sim = station.sim
    svc = contract.ServiceDay(service="passports", target_wait_s=600, waits_s=waits, served=served, no_shows=no_shows)
    station.send(*sim._envelope("telemetry.queue_day", contract.QueueDayMessage, ts,
                                contract.QueueDay(business_day=day.isoformat(), services=[svc])))  # fmt: skip
    match, no_match, spoof = verdicts
    counters = contract.VerificationCounters(business_day=day.isoformat(), match=match, no_match=no_match, retry=1,
                                             spoof=spoof, latency_ms_p50=20.0, latency_ms_p95=40.0)  # fmt: skip
    station.send(*sim._envelope("telemetry.verification", contract.VerificationMessage, ts, counters))
    open_reports, breaches = reports
    counts = contract.ReportCounts(reason="periodic", by_type_state=[{"type": "theft", "state": "submitted",
                                   "count": open_reports}], sla_breaches=breaches, referrals_pending=0)  # fmt: skip
    station.send(*sim._envelope("telemetry.reports", contract.ReportsMessage, ts, counts))


def _page_figures(page: Page) -> dict[str, dict]:
    """What the page shows, read from its table: per station the rank, each measure's value and the best marks."""
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll("table.comparison tr[data-station]")]
        .map(tr => [tr.dataset.station, {
            rank: tr.dataset.rank === "" ? null : Number(tr.dataset.rank),
            values: Object.fromEntries([...tr.querySelectorAll("td[data-measure]")].map(td =>
                [td.dataset.measure, td.dataset.value === "" ? null : Number(td.dataset.value)])),
            best: [...tr.querySelectorAll("td[data-best]")].map(td => td.dataset.measure).sort(),
        }]))""")


def _api_figures(body: dict) -> dict[str, dict]:
    return {
        s["station"]: {"rank": s["rank"], "values": {m.name: s[m.name] for m in MEASURES}, "best": sorted(s["best"])}
        for s in body["stations"]
    }


def test_the_comparison_page_shows_the_apis_figures_ranked_with_ties_and_a_csv(tmp_path, broker, page: Page):
    central = CentralProcess(broker, tmp_path / "central.sqlite", {"vera": "central_viewer"}).start()
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    stations = {name: Station(broker, name) for name in ("st-a", "st-b", "st-c")}
    try:
        for s in stations.values():
            s.status("online")
        _day(stations["st-a"], yesterday, [100, 200, 900, 1000], 3, 1, (90, 5, 5), (10, 1))
        _day(stations["st-a"], today, [50, 700], 2, 0, (40, 0, 0), (10, 0))
        _day(stations["st-b"], today, [300, 300, 300], 3, 0, (45, 5, 0), (4, 0))
        _day(stations["st-c"], today, [300, 300, 300], 2, 1, (30, 10, 0), (4, 2))  # ties st-b within target
        http = central.client("vera")
        params = {"from": yesterday.isoformat(), "to": today.isoformat()}
        week = poll(lambda: http.get("/api/comparison", params=params).json(),
                    lambda b: sum(s["days"] for s in b["stations"]) == 4)  # fmt: skip

        # -- the period chosen on the page: from yesterday to today, Arabic first
        url = f"{central.base}/comparison?period=custom&start={yesterday}&end={today}"
        _sign_in(page, central.base, "vera", PASSWORDS["central_viewer"], "/comparison")
        expect(page.locator('section[data-screen="comparison"]')).to_be_visible()
        page.goto(url)
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        expect(page.locator('section[data-screen="comparison"]')).to_have_attribute("data-from", yesterday.isoformat())
        assert _page_figures(page) == _api_figures(week)
        ranks = {k: v["rank"] for k, v in _page_figures(page).items()}
        assert ranks == {"st-b": 1, "st-c": 1, "st-a": 3}  # within target: b and c tie (1.0), a third
        expect(page.locator('tr[data-station="st-a"] td[data-measure="served"]')).to_contain_text("5")
        assert_accessible(page, "comparison (ar)")
        _shot(page, "comparison-ar")

        # -- the CSV link gives the API's CSV for the same choice
        href = page.locator("a[data-csv]").get_attribute("href")
        got = page.request.get(central.base + href)
        assert got.status == 200 and got.text() == http.get("/api/comparison/csv", params=params).text
        assert got.text().splitlines()[1].startswith("1,st-b,")

        # -- another measure to rank by, and English one tap away keeping the choice
        page.select_option("#c-rank", "served")
        page.click('form.filters button[type="submit"]')
        expect(page.locator('section[data-screen="comparison"]')).to_have_attribute("data-rank-by", "served")
        page.click(".lang-toggle")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        section = page.locator('section[data-screen="comparison"]')
        expect(section).to_have_attribute("data-rank-by", "served")
        expect(section).to_have_attribute("data-from", yesterday.isoformat())
        served = http.get("/api/comparison", params={**params, "rank_by": "served"}).json()
        assert _page_figures(page) == _api_figures(served)
        assert served["stations"][0]["station"] == "st-a"
        expect(page.locator('tr[data-station="st-a"] td[data-measure="served"] strong')).to_contain_text("best")
        expect(page.locator('tr[data-station="st-b"] td[data-measure="p90_wait_s"]')).to_contain_text("5.0 min")
        assert_accessible(page, "comparison (en)")
        _shot(page, "comparison-en")

        # -- today only: st-a's figures are today's alone
        page.select_option("#c-period", "today")
        page.click('form.filters button[type="submit"]')
        expect(section).to_have_attribute("data-from", today.isoformat())
        day = http.get("/api/comparison", params={"from": today.isoformat(), "to": today.isoformat(),
                                                  "rank_by": "served"}).json()  # fmt: skip
        shown = _page_figures(page)
        assert shown == _api_figures(day)
        assert shown["st-a"]["values"]["served"] == 2 and shown["st-a"]["values"]["p90_wait_s"] == 700

        # -- a period that ends before it begins is said so, not an error page
        page.goto(f"{central.base}/comparison?lang=en&period=custom&start={today}&end={yesterday}")
        expect(page.locator("#screen .notice.error")).to_contain_text("must end after it begins")
        assert_accessible(page, "comparison with a refused period (en)")
    finally:
        for s in stations.values():
            s.close()
        central.stop()
