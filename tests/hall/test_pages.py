"""The hall pages' sign-in and sockets, in-process: cookies, roles, origin checks, catalogues complete."""

from __future__ import annotations

import pytest
from starlette.websockets import WebSocketDisconnect

from edge.hall import screens
from markaz.web.catalogues import missing_messages
from markaz.web.extract import template_messages
from markaz.web.languages import Language
from tests.conftest import PASSWORD, auth

ORIGIN = {"origin": "http://testserver"}


def sign_in(client, user="officer", target="/counter", password=PASSWORD):
    return client.post("/signin", data={"username": user, "password": password, "next": target, "lang": "en"},
                       follow_redirects=False)  # fmt: skip


def test_every_hall_string_has_its_arabic():
    ids = template_messages(screens.TEMPLATES)
    assert "Call next" in ids
    assert missing_messages(Language.AR, [screens.CATALOGUES], ids) == []


def test_sign_in_sets_a_strict_http_only_cookie_and_opens_the_counter_chooser(client, tokens):
    r = sign_in(client)
    assert r.status_code == 303 and r.headers["location"] == "/counter?lang=en"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    page = client.get("/counter?lang=en")
    assert 'data-screen="choose-counter"' in page.text and page.headers["cache-control"] == "no-store"


def test_a_wrong_password_and_the_lock_out_are_said_in_words(client, tokens, node):
    r = sign_in(client, password="wrong-password-x")
    assert r.status_code == 200 and "Wrong user name or password." in r.text
    for _ in range(node.settings.auth.lock_after_failures):
        r = sign_in(client, password="wrong-password-x")
    assert "Too many failed sign-ins" in r.text
    assert "markaz_staff" not in r.headers.get("set-cookie", "")


def test_roles_decide_which_screens_a_sign_in_opens(client, tokens):
    r = sign_in(client, user="technician")
    assert "Your role may not use this screen." in r.text
    assert "Your role may not use this screen." in sign_in(client, user="officer", target="/supervisor").text
    assert sign_in(client, user="supervisor", target="/supervisor").status_code == 303
    page = client.get("/supervisor?lang=en")
    assert 'data-screen="supervisor"' in page.text and "Through the day" in page.text


def test_the_counter_socket_refuses_another_origin_and_a_signed_out_page(client, tokens):
    sign_in(client)
    evil = {"origin": "http://evil.example"}
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect("/counter/live?counter=1", headers=evil) as ws,
    ):
        ws.receive_text()
    assert refused.value.code == 4403
    with client.websocket_connect("/counter/live?counter=1&lang=en", headers=ORIGIN) as ws:
        assert '"type":"screen"' in ws.receive_text()
    client.get("/signout")
    with (
        pytest.raises(WebSocketDisconnect) as out,
        client.websocket_connect("/counter/live?counter=1", headers=ORIGIN) as ws,
    ):
        ws.receive_text()
    assert out.value.code == 4401


def test_a_display_is_set_up_once_with_its_device_token(client, tokens, node):
    assert 'data-screen="display-setup"' in client.get("/display").text
    r = client.post("/display/setup", data={"token": tokens["kiosk"], "lang": "en"}, follow_redirects=False)
    assert r.status_code == 200 and "This is not the token of an enabled display device." in r.text
    token = node.auth.add_device("display-1", "display")
    r = client.post("/display/setup", data={"token": token}, follow_redirects=False)
    assert r.status_code == 303 and "max-age=3162" in r.headers["set-cookie"].lower()
    assert 'data-screen="display"' in client.get("/display").text
    assert client.post("/display/heartbeat").status_code == 204
    devices = client.get("/api/v1/devices", headers=auth(tokens["technician"])).json()["devices"]
    assert next(d for d in devices if d["id"] == "display-1")["last_seen_at"]


def test_announcement_audio_needs_a_sign_in_and_serves_only_known_keys(client, tokens, node):
    assert client.get("/api/v1/hall/audio/chime.wav").status_code == 401
    assert client.get("/display/audio/chime.wav").status_code == 401
    r = client.get("/api/v1/hall/audio/chime.wav", headers=auth(tokens["officer"]))
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    client.post("/display/setup", data={"token": node.auth.add_device("display-1", "display")})
    assert client.get("/display/audio/chime.wav").headers["content-type"] == "audio/wav"
    assert client.get("/display/audio/" + "0" * 32 + ".wav").status_code == 404
    assert client.get("/display/audio/..%2F..%2Fedge.sqlite.wav").status_code in (404, 422)
