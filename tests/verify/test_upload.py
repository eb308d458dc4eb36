"""The upload is admitted before it is read and read no further than its limits: driven at the ASGI level, where the
test hands the body to the application chunk by chunk and counts how much of it the application asked for."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from tests.verify.conftest import photo
from tests.verify.test_api import URL

BOUNDARY = "verify-test-boundary"
CHUNK = 64 * 1024


def part(name: str, data: bytes, filename: str | None = "f.jpg") -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"


def streamed_part(name: str, size: int) -> Iterator[bytes]:
    """A file part of `size` bytes, produced chunk by chunk (never held whole by the test either)."""
    yield f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="big.jpg"\r\n\r\n'.encode()
    sent = 0
    while sent < size:
        n = min(CHUNK, size - sent)
        yield b"\xff" * n
        sent += n
    yield b"\r\n"


def body(*pieces: bytes | Iterator[bytes]) -> Iterator[bytes]:
    for piece in pieces:
        if isinstance(piece, bytes):
            yield piece
        else:
            yield from piece
    yield f"--{BOUNDARY}--\r\n".encode()


class Sent:
    """What the application pulled from the body and what it answered."""

    def __init__(self) -> None:
        self.pulled = 0
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.body = b""


def post(app, token: str, chunks: Iterator[bytes], content_length: int | None = None, stall_after: int | None = None):
    """POST chunks to the ASGI app (a fresh event loop in this thread); `stall_after` bytes, the sender goes quiet."""
    sent = Sent()
    chunks = iter(chunks)

    async def receive():
        if stall_after is not None and sent.pulled >= stall_after:
            await asyncio.sleep(3600)
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        sent.pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message):
        if message["type"] == "http.response.start":
            sent.status = message["status"]
            sent.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            sent.body += message.get("body", b"")

    headers = [
        (b"authorization", f"Bearer {token}".encode()),
        (b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode()),
    ]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": URL,
        "raw_path": URL.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    # its own thread: Playwright's sync API (browser tests earlier in this process) keeps an event loop running here
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(app(scope, receive, send))
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if failure:
        raise failure[0]
    return sent


def genuine() -> list[bytes]:
    return [
        part("card_photo", photo("obama_1.jpg")),
        part("live", photo("obama_2.jpg")),
        part("document_number", b"A1234567", filename=None),
    ]


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].split()[1]


def test_busy_node_answers_503_before_reading_a_byte(kiosk):
    client, node, headers = kiosk(workers=1, queue_limit=0, retry_after_s=3)
    gate = threading.Event()
    held = node.verifier.pool.submit(gate.wait)  # the only slot is taken
    try:
        sent = post(client.app, token_of(headers), body(streamed_part("card_photo", 4 * 1024 * 1024)))
        assert sent.status == 503 and sent.headers["retry-after"] == "3"
        assert sent.pulled == 0
    finally:
        gate.set()
        held.result(timeout=30)
    # the slot is back: the next upload is read and verified
    sent = post(client.app, token_of(headers), body(*genuine()))
    assert sent.status == 200 and b'"decision":"match"' in sent.body


def test_part_over_its_limit_is_refused_as_it_passes_it(kiosk):
    limit = 1024 * 1024
    client, node, headers = kiosk(max_image_bytes=limit)
    sent = post(client.app, token_of(headers), body(streamed_part("card_photo", 40 * 1024 * 1024)))
    assert sent.status == 413 and b"card_photo" in sent.body
    assert sent.pulled <= limit + 2 * CHUNK  # the part's limit and the chunk that passed it, never the rest
    # the same for a live frame after a small card photo, and the slot is freed after each refusal
    sent = post(
        client.app, token_of(headers), body(part("card_photo", photo("obama_1.jpg")), streamed_part("live", 10 * limit))
    )
    assert sent.status == 413 and sent.pulled <= limit + len(photo("obama_1.jpg")) + 3 * CHUNK
    assert node.store.query("SELECT count(*) AS n FROM verification_attempts")[0]["n"] == 0


def test_declared_length_over_the_limit_is_refused_unread(kiosk):
    client, node, headers = kiosk()
    limit = node.verifier.upload_limits.body_bytes
    sent = post(client.app, token_of(headers), body(streamed_part("card_photo", 1024)), content_length=limit + 1)
    assert sent.status == 413 and sent.pulled == 0


def test_unknown_or_surplus_fields_are_refused_at_their_headers(kiosk):
    client, _, headers = kiosk()
    sent = post(client.app, token_of(headers), body(streamed_part("photo", 20 * 1024 * 1024)))
    assert sent.status == 422 and b"unknown form field: photo" in sent.body and sent.pulled <= 2 * CHUNK
    two_cards = body(part("card_photo", photo("obama_1.jpg")), streamed_part("card_photo", 20 * 1024 * 1024))
    sent = post(client.app, token_of(headers), two_cards)
    assert sent.status == 422 and sent.pulled <= len(photo("obama_1.jpg")) + 2 * CHUNK


def test_an_upload_that_stalls_gets_408_and_frees_its_slot(kiosk):
    client, _, headers = kiosk(workers=1, queue_limit=0, upload_timeout_s=0.3)
    sent = post(client.app, token_of(headers), body(streamed_part("card_photo", 4 * 1024 * 1024)), stall_after=CHUNK)
    assert sent.status == 408 and b"timeout" in sent.body
    sent = post(client.app, token_of(headers), body(*genuine()))
    assert sent.status == 200


@pytest.mark.parametrize("junk", [b"not multipart at all", b"--" + BOUNDARY.encode() + b"\r\nbroken"])
def test_malformed_bodies_are_422_and_count_no_attempt(kiosk, junk):
    client, node, headers = kiosk()
    sent = post(client.app, token_of(headers), iter([junk]))
    assert sent.status == 422
    assert node.store.query("SELECT count(*) AS n FROM verification_attempts")[0]["n"] == 0


def test_an_endless_part_header_is_refused_as_it_grows(kiosk):
    client, _, headers = kiosk()

    def endless_header() -> Iterator[bytes]:
        yield f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="card_photo"; filename="'.encode()
        for _ in range(1000):
            yield b"x" * CHUNK  # 64 MB of file name, never ended

    sent = post(client.app, token_of(headers), endless_header())
    assert sent.status == 422 and sent.pulled <= 2 * CHUNK
