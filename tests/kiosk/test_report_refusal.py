"""A report the edge refuses because its date is in the future (a kiosk clock ahead of the station's, beyond the
allowed skew) comes back to the visitor's review with the edge's reason in the visitor's language: the kiosk's
own EdgeClient against the real edge app and node, then the session and the screen."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from edge.api.app import create_app
from kiosk.edge_client import API, EdgeClient, EdgeRefused
from kiosk.session.messages import Identity, ReportRefused
from kiosk.session.vocabulary import Action, Notice, Screen
from kiosk.ui.screens import KioskScreens
from markaz.web.languages import Language
from tests.kiosk.test_session import keys, verified_for_report
from tests.reports.conftest import THEFT, verified_at_kiosk

VISITOR = Identity("Al-Mansour", "Huda", "P98765432", "SAU", "1990-04-12", "P")


@pytest.fixture
def edge(make_node, station_template, tmp_path):
    template, tokens = station_template
    shutil.copytree(template, tmp_path / "edge")
    node = make_node(data_dir=tmp_path / "edge", reports={"station_code": "OLY"})
    verified_at_kiosk(node, VISITOR.document_number, "kiosk-1")
    client = EdgeClient("http://testserver", tokens["kiosk"])
    with TestClient(create_app(node), base_url="http://testserver" + API) as http:
        http.headers["Authorization"] = f"Bearer {tokens['kiosk']}"
        client._http = http  # the kiosk's client code over the edge app itself
        yield client, node


def test_the_edge_refuses_a_future_date_and_the_kiosk_shows_why_in_arabic_or_english(edge) -> None:
    client, node = edge
    later = (datetime.now(UTC) + timedelta(hours=3)).isoformat(timespec="seconds")
    with pytest.raises(EdgeRefused) as refused:
        client.file_report("theft", {**THEFT, "occurred_at": later}, VISITOR)
    assert "future" in str(refused.value) and "المستقبل" in refused.value.detail_ar
    assert node.store.query_one("SELECT count(*) AS n FROM reports")["n"] == 0
    for language, shown in ((Language.AR, refused.value.detail_ar), (Language.EN, str(refused.value))):
        k = verified_for_report()
        k.tap(Action.LANGUAGE, language.value)
        k.tap(Action.REPORT_TYPE, "theft")
        k.tap(Action.QUICK_DATE, "today")
        k.tap(Action.NEXT)
        keys(k, "phone")
        k.tap(Action.NEXT)
        k.tap(Action.NEXT)
        k.tap(Action.ANSWER, "yes")
        keys(k, "gone")
        k.tap(Action.NEXT)
        (file,) = k.tap(Action.SUBMIT)
        k(ReportRefused(file.job, str(refused.value), reachable=True, detail_ar=refused.value.detail_ar))
        assert k.screen == Screen.REPORT_REVIEW and k.session.visit.notice == Notice.REPORT_REFUSED
        html = KioskScreens("مركز العليا", "Olaya station").fragment(k.session.view(k.now))
        (detail,) = re.findall(r'<p class="muted"[^>]*id="refused-detail">(.*?)</p>', html, re.S)
        assert detail.replace("&#39;", "'").replace("&#34;", '"') == shown
