"""The counter page follows the counter terminal it is opened on: a technician saves the terminal's device token in
its browser once (/counter/terminal); staff then sign in as usual, and the page takes the terminal's profile in force
(applied at this check-in, as the node applies a served device's profile): its pinned counter, its first language.
A browser that is no terminal still chooses its counter; a token that is not a counter terminal's is refused."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import PASSWORD, auth
from tests.hall.conftest import Hall
from tests.ui.axe import assert_accessible

pytestmark = pytest.mark.slow
SHOTS = os.environ.get("MARKAZ_PROVISION_SCREENSHOTS")  # docs/provisioning: the technician's guide


def _shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


def _terminal(hall: Hall, device: str, layer: str) -> str:
    """Register a counter terminal, give it a device layer and make its effective profile the desired one."""
    with hall.api() as c:
        r = c.post(
            "/api/v1/devices", json={"id": device, "type": "counter_terminal"}, headers=auth(hall.tokens["admin"])
        )
        assert r.status_code in (200, 201), r.text
        token = str(r.json()["token"])
        path = hall.server.data / "profiles" / "devices" / f"{device}.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(layer)
        r = c.put(f"/api/v1/profiles/{device}/desired", json={}, headers=auth(hall.tokens["technician"]))
        assert r.status_code == 200, r.text
    return token


def _sign_in(page) -> None:
    page.fill("#username", "officer")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


def test_the_counter_page_follows_the_terminal_it_is_opened_on(chromium: Browser, hall: Hall) -> None:
    token = _terminal(hall, "term-2", 'counter = "2"\nlanguages = ["en", "ar"]\n')
    terminal = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = terminal.new_page()
    page.goto(f"{hall.base}/counter/terminal")
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    assert_accessible(page, "terminal set-up (ar)")
    _shot(page, "ar-counter-terminal-setup")
    page.fill("#token", token)
    page.click("button[type=submit]")
    # the terminal checked in: its profile is in force, and its first language is the sign-in's
    expect(page.locator("html")).to_have_attribute("lang", "en")
    _sign_in(page)
    screen = page.locator('#screen [data-screen="counter"]')
    expect(screen).to_have_attribute("data-counter", "2")  # no choice of counter: the terminal's own
    expect(page.locator("#screen [data-terminal]")).to_have_attribute("data-terminal", "term-2")
    page.wait_for_function("window.markazLive && window.markazLive.connected")
    assert_accessible(page, "counter on a terminal (en)")
    # Arabic one tap away; the live screen keeps the terminal and its counter
    page.click(".lang-toggle")
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    expect(screen).to_have_attribute("data-counter", "2")
    expect(page.locator("#screen [data-terminal]")).to_have_attribute("data-terminal", "term-2")
    _shot(page, "ar-counter-on-terminal")
    page.goto(f"{hall.base}/counter?counter=1")  # another counter asked for: the pinned terminal keeps its own
    expect(page.locator('#screen [data-screen="counter"]')).to_have_attribute("data-counter", "2")
    with hall.api() as c:
        rows = c.get("/api/v1/enrolment/inventory", headers=auth(hall.tokens["technician"])).json()["devices"]
    row = next(d for d in rows if d["id"] == "term-2")
    assert row["reported_outcome"] == "applied" and row["profile_version"] == row["desired_version"]
    terminal.close()

    # a browser that is no terminal: Arabic first, the counter is chosen after sign-in, nothing pinned
    plain = chromium.new_context()
    other = plain.new_page()
    other.goto(f"{hall.base}/counter")
    expect(other.locator("html")).to_have_attribute("lang", "ar")
    _sign_in(other)
    expect(other.locator("a[data-counter]")).to_have_count(3)
    plain.close()


def test_only_a_counter_terminals_token_makes_a_browser_a_terminal(hall: Hall) -> None:
    with httpx.Client(base_url=hall.base, timeout=30) as c:
        for wrong in ("no-such-token", hall.display_token, hall.tokens["officer"]):
            r = c.post("/counter/terminal", data={"token": wrong, "lang": "en"})
            assert r.status_code == 400 and "not the token of an enabled counter terminal" in r.text
            assert "markaz_terminal" not in c.cookies
        token = _terminal(hall, "term-1", "")
        r = c.post("/counter/terminal", data={"token": token}, headers={"origin": "https://elsewhere.example"})
        assert r.status_code == 400 and "markaz_terminal" not in c.cookies  # only from the node's own page
        r = c.post("/counter/terminal", data={"token": token})
        assert r.status_code == 303 and c.cookies.get("markaz_terminal") == token
        # a disabled terminal is no terminal any more: its page is a plain counter page again
        disabled = c.patch("/api/v1/devices/term-1", json={"enabled": False}, headers=auth(hall.tokens["admin"]))
        assert disabled.status_code == 200, disabled.text
        page = c.get("/counter/terminal")
        assert 'data-terminal=""' in page.text


def test_a_terminals_profile_warns_idle_staff_then_signs_them_out(chromium: Browser, hall: Hall) -> None:
    """`idle_sign_out_min` of the terminal's profile: the page's own clock (Playwright's, moved forward) passes the
    warning point, staff may stay, and once idle for the whole time they are signed out (the node ends the session)."""
    token = _terminal(hall, "term-3", 'counter = "1"\nidle_sign_out_min = 1\nlanguages = ["en"]\n')
    context = chromium.new_context()
    page = context.new_page()
    page.clock.install()
    page.goto(f"{hall.base}/counter/terminal")
    page.fill("#token", token)
    page.click("button[type=submit]")
    _sign_in(page)
    expect(page.locator('#screen [data-screen="counter"]')).to_have_attribute("data-counter", "1")
    warning = page.locator("[data-idle-warning]")
    expect(warning).to_have_count(0)
    page.clock.fast_forward(41_000)  # idle past 60 - 20 s
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("signed out in 20 seconds")
    assert_accessible(page, "idle warning (en)")
    page.click("[data-idle-warning] button")  # stay signed in
    expect(warning).to_have_count(0)
    page.clock.fast_forward(41_000)
    expect(warning).to_be_visible()
    page.clock.fast_forward(20_000)  # the whole minute idle
    expect(page.locator('[data-screen="signin"]')).to_be_visible()
    page.goto(f"{hall.base}/counter")  # the staff session really ended at the node
    expect(page.locator('[data-screen="signin"]')).to_be_visible()
    context.close()

    # a browser that is no terminal has no idle sign-out of the terminal's profile
    plain = chromium.new_context()
    other = plain.new_page()
    other.goto(f"{hall.base}/counter?lang=en")
    _sign_in(other)
    other.click('a[data-counter="1"]')
    expect(other.locator('#screen [data-screen="counter"]')).to_have_attribute("data-counter", "1")
    assert other.locator('meta[name="markaz-idle-sign-out-s"]').count() == 0
    plain.close()


def test_a_terminal_beeps_when_its_counter_calls_a_ticket_unless_its_profile_says_not(
    chromium: Browser, hall: Hall
) -> None:
    """`beep_on_call`: the terminal's page sounds a tone for each ticket its counter calls (counted in data-beeps);
    a terminal whose profile turns it off stays silent."""
    first, second = hall.issue("general", 2)
    for device, layer, ticket in (
        ("term-4", 'counter = "1"\n', first),  # the schema's default: beep
        ("term-5", 'counter = "1"\nbeep_on_call = false\n', second),
    ):
        token = _terminal(hall, device, layer)
        context = chromium.new_context()
        page = context.new_page()
        page.goto(f"{hall.base}/counter/terminal?lang=en")
        page.fill("#token", token)
        page.click("button[type=submit]")
        _sign_in(page)
        screen = page.locator('#screen [data-screen="counter"]')
        expect(screen).to_have_attribute("data-counter", "1")
        page.wait_for_function("window.markazLive && window.markazLive.connected")
        beeping = device == "term-4"
        assert page.locator('meta[name="markaz-beep-on-call"]').count() == (1 if beeping else 0)
        if beeping:
            expect(page.locator("body")).to_have_attribute("data-beeps", "0")
        page.click("#act-call_next")
        expect(screen).to_have_attribute("data-ticket", ticket["number"])
        expect(screen).to_have_attribute("data-ticket-status", "called")
        if beeping:
            expect(page.locator("body")).to_have_attribute("data-beeps", "1")
            page.click("#act-no_show")  # the call ends: no tone for that
            expect(screen).to_have_attribute("data-ticket", "")
            assert page.locator("body").get_attribute("data-beeps") == "1"
        else:
            assert page.locator("body").get_attribute("data-beeps") is None
        context.close()


def test_an_enrolled_terminal_is_a_terminal_by_its_certificate_with_device_tokens_off(
    chromium: Browser, station_template, tmp_path: Path
) -> None:
    """A terminal enrolled with a certificate (claim code, key kept on the terminal) opens the counter page on the
    device listener: its client certificate says which terminal it is, on the page and on its live socket, with no
    token saved and device tokens switched off on the station."""
    import shutil

    from typer.testing import CliRunner

    from markaz.cli import app
    from tests.conftest import ServerProcess, free_port
    from tests.provisioning.edgeproc import install_station_ca

    def cli(*args: str) -> str:
        res = CliRunner().invoke(app, list(args))
        assert res.exit_code == 0, res.output
        return res.output

    template, tokens = station_template
    data = tmp_path / "node"
    shutil.copytree(template, data)
    install_station_ca(tmp_path, data)
    port = free_port()
    server = ServerProcess(
        data, "--sample-data", "--station", "st-1", "--device-port", str(port),
        env={"MARKAZ_PROVISIONING__DEVICE_TOKENS": "false"},
    ).start()  # fmt: skip
    identity = tmp_path / "terminal-identity"
    try:
        code = cli("provision", "claim", "--device", "term-m", "--type", "counter_terminal", "--data", str(data))
        cli(
            "provision",
            "enrol",
            "--edge",
            server.base,
            "--claim",
            code.strip().splitlines()[-1],
            "--out",
            str(identity),
        )
        layer = data / "profiles" / "devices" / "term-m.toml"
        layer.parent.mkdir(parents=True, exist_ok=True)
        layer.write_text('counter = "2"\nlanguages = ["en", "ar"]\n')
        with httpx.Client(base_url=server.base, timeout=30) as c:
            r = c.put("/api/v1/profiles/term-m/desired", json={}, headers=auth(tokens["technician"]))
            assert r.status_code == 200, r.text
            r = c.post("/api/v1/tickets", json={"service": "general"}, headers=auth(tokens["officer"]))
            assert r.status_code in (200, 201), r.text
            number = r.json()["number"]

        listener = f"https://127.0.0.1:{port}"
        context = chromium.new_context(
            ignore_https_errors=True,  # the station's own CA, not one the browser knows
            client_certificates=[
                {"origin": listener, "certPath": str(identity / "device.crt"), "keyPath": str(identity / "device.key")}
            ],
        )
        page = context.new_page()
        page.goto(f"{listener}/counter/terminal")
        expect(page.locator('[data-screen="terminal-setup"]')).to_have_attribute("data-terminal", "term-m")
        page.goto(f"{listener}/counter")
        expect(page.locator("html")).to_have_attribute("lang", "en")  # the terminal's first language
        _sign_in(page)
        screen = page.locator('#screen [data-screen="counter"]')
        expect(screen).to_have_attribute("data-counter", "2")
        expect(page.locator("#screen [data-terminal]")).to_have_attribute("data-terminal", "term-m")
        page.wait_for_function("window.markazLive && window.markazLive.connected")
        page.click("#act-call_next")  # answered over the live socket, which knows the terminal by its certificate too
        expect(screen).to_have_attribute("data-ticket", number)
        expect(page.locator("#screen [data-terminal]")).to_have_attribute("data-terminal", "term-m")
        assert_accessible(page, "counter on a certificate terminal (en)")
        context.close()

        # the same page without the certificate: the device listener refuses the connection itself
        bare = chromium.new_context(ignore_https_errors=True)
        with pytest.raises(Exception, match="ERR_"):
            bare.new_page().goto(f"{listener}/counter")
        bare.close()
    finally:
        server.stop()
