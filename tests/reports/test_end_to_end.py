"""A real `markaz edge serve` whose referral worker delivers to a real `markaz prosecution serve` that comes up
late: the visitor sees "referral pending", then the prosecution's case number."""

from __future__ import annotations

import shutil
import time

import httpx
import pytest

from edge.reports.referral import ReferralSigner
from tests.conftest import auth, free_port
from tests.reports.conftest import THEFT
from tests.reports.test_referral import Prosecution

pytestmark = pytest.mark.slow


def test_referral_waits_for_the_prosecution_then_the_visitor_sees_the_case_number(
    station_template, server_factory, tmp_path
):
    template, tokens = station_template
    data = tmp_path / "node"
    shutil.copytree(template, data)
    signer = ReferralSigner(data / "keys")
    _ = signer.key
    pp_port = free_port()
    config = tmp_path / "edge.toml"
    config.write_text(
        '[edge.reports]\nstation_code = "OLY"\n'
        f'[edge.reports.prosecution]\nurl = "http://127.0.0.1:{pp_port}/referrals"\n'
        "backoff_base_s = 0.2\nbackoff_max_s = 0.5\npoll_interval_s = 0.1\ntimeout_s = 2\n",
        encoding="utf-8",
    )
    srv = server_factory(data, "--config", str(config), "--sample-data")
    officer, kiosk = auth(tokens["officer"]), auth(tokens["kiosk"])
    with httpx.Client(base_url=srv.base, timeout=30) as c:
        filed = c.post(
            "/api/v1/reports",
            json={"type": "theft", "details": THEFT, "complainant": {"name": "Desk Visitor"}},
            headers=officer,
        ).json()
        ref = filed["reference"]
        c.post(
            f"/api/v1/reports/{ref}/transitions", json={"action": "receive", "reason": "at the desk"}, headers=officer
        )
        c.post(f"/api/v1/reports/{ref}/assign", json={"officer": "officer", "reason": "mine"}, headers=officer)
        c.post(f"/api/v1/reports/{ref}/transitions", json={"action": "investigate", "reason": "open"}, headers=officer)
        party = c.get(f"/api/v1/reports/{ref}", headers=officer).json()["parties"][0]["id"]
        assert (
            c.post(
                f"/api/v1/reports/{ref}/statements",
                json={"party_id": party, "text": "It was gone at ten.", "acknowledgement": "read_back"},
                headers=officer,
            ).status_code
            == 201
        )
        assert (
            c.post(
                f"/api/v1/reports/{ref}/transitions", json={"action": "refer", "reason": "complete"}, headers=officer
            ).json()["state"]
            == "referred"
        )

        def track():
            return c.post("/api/v1/reports/track", json={"reference": ref, "pin": filed["pin"]}, headers=kiosk).json()

        assert track()["referral"] == "pending" and track()["case_number"] is None
        prosecution = Prosecution(tmp_path, signer.public_path, pp_port)
        try:
            deadline = time.monotonic() + 60
            while track()["case_number"] is None:
                assert time.monotonic() < deadline, "the referral was never acknowledged"
                time.sleep(0.2)
            view = track()
            assert view["referral"] == "acknowledged" and view["case_number"].startswith("PP-")
            assert prosecution.received() == 1
        finally:
            prosecution.stop()
