"""The verification upload, parsed from the body as it streams in, entirely in memory, refused as soon as it is too large.

Starlette's form parser spools file parts over 1 MiB to temporary files: biometric data must never touch the disk, so
the body is fed chunk by chunk to python-multipart here. Nothing beyond the limits is ever held: the whole body, each
part and the number of parts are checked on every chunk, and an unknown or surplus field is refused at its headers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header

from edge.verify.limits import FORM_OVERHEAD

# the text field's own cap: a document number is at most 64 characters, a few bytes each in UTF-8
TEXT_PART_LIMIT = 1024


class UploadTooLarge(Exception):
    """The body or one of its parts is over its limit (HTTP 413)."""


class UploadInvalid(Exception):
    """The body is not the form this endpoint takes (HTTP 422); the message names the field, never the data."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UploadTimedOut(Exception):
    """The body did not arrive within the time allowed (HTTP 408)."""


@dataclass(frozen=True)
class UploadLimits:
    part_bytes: int  # each image
    live_frames: int
    timeout_s: float

    @property
    def body_bytes(self) -> int:
        """The whole body: every image at its limit, plus the framing and the text field."""
        return (1 + self.live_frames) * self.part_bytes + FORM_OVERHEAD


@dataclass
class Part:
    name: str = ""
    filename: str | None = None
    content_type: str = ""
    data: bytearray = field(default_factory=bytearray)


@dataclass
class VerificationUpload:
    """The form of one verification: the card photo, the live frames in the order sent, the document number as sent."""

    card_photo: bytearray
    live: list[bytearray]
    document_number: str


def declared_length(header: str | None) -> int | None:
    return int(header) if header and header.isdigit() else None


class _FormParser:
    """python-multipart callbacks that keep each part in one growing buffer and enforce the limits as bytes arrive."""

    FILES = ("card_photo", "live")

    def __init__(self, boundary: bytes, limits: UploadLimits) -> None:
        self.limits = limits
        self.parts: list[Part] = []
        self._field = b""
        self._value = b""
        self.parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
            },
        )

    def _count(self, name: str) -> int:
        return sum(1 for p in self.parts if p.name == name)

    def _part_begin(self) -> None:
        if len(self.parts) >= 2 + self.limits.live_frames:
            raise UploadInvalid(f"too many parts (at most {2 + self.limits.live_frames})")
        self.parts.append(Part())

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        name, value = self._field.lower(), self._value
        self._field, self._value = b"", b""
        part = self.parts[-1]
        if name == b"content-disposition":
            _, opts = parse_options_header(value)
            part.name = opts.get(b"name", b"").decode("utf-8", "replace")
            if b"filename" in opts:
                part.filename = opts[b"filename"].decode("utf-8", "replace")
        elif name == b"content-type":
            part.content_type = value.decode("latin-1")

    def _headers_finished(self) -> None:
        # the field is known before its first byte: refuse what cannot belong to the form before reading it
        name = self.parts[-1].name
        if name not in ("card_photo", "live", "document_number"):
            raise UploadInvalid(f"unknown form field: {name or '(unnamed)'}")
        at_most = {"card_photo": 1, "document_number": 1, "live": self.limits.live_frames}[name]
        if self._count(name) > at_most:
            if name == "live":
                raise UploadInvalid(f"between 1 and {at_most} live frames are required, got more", field=name)
            raise UploadInvalid(f"only one {name} may be sent")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        part = self.parts[-1]
        limit = self.limits.part_bytes if part.name in self.FILES else TEXT_PART_LIMIT
        if len(part.data) + (end - start) > limit:
            raise UploadTooLarge(f"{part.name} exceeds {limit} bytes")
        part.data += data[start:end]

    def form(self) -> VerificationUpload:
        cards = [p for p in self.parts if p.name == "card_photo"]
        lives = [p for p in self.parts if p.name == "live"]
        numbers = [p for p in self.parts if p.name == "document_number"]
        if len(cards) != 1:
            raise UploadInvalid("exactly one card_photo file is required", field="card_photo")
        if not lives:
            raise UploadInvalid(
                f"between 1 and {self.limits.live_frames} live frames are required, got 0", field="live"
            )
        if len(numbers) != 1:
            raise UploadInvalid("document_number is required", field="document_number")
        return VerificationUpload(
            cards[0].data, [p.data for p in lives], bytes(numbers[0].data).decode("utf-8", "replace")
        )


def _boundary(content_type: str) -> bytes:
    ctype, params = parse_options_header(content_type)
    if ctype != b"multipart/form-data":
        raise UploadInvalid("expected a multipart/form-data body")
    boundary = params.get(b"boundary")
    if not boundary or len(boundary) > 70:  # RFC 2046: 1-70 characters
        raise UploadInvalid("multipart body without a valid boundary")
    return boundary


async def read_upload(
    stream: AsyncIterator[bytes], content_type: str, declared: int | None, limits: UploadLimits
) -> VerificationUpload:
    """The verification form from a request body, read no further than its limits allow.

    A Content-Length over the limit is refused before any byte is read; otherwise each chunk is checked as it arrives
    and the first one past a limit ends the read."""
    parser = _FormParser(_boundary(content_type), limits)
    if declared is not None and declared > limits.body_bytes:
        raise UploadTooLarge(f"request body of {declared} bytes exceeds the limit of {limits.body_bytes}")
    received = 0
    try:
        async with asyncio.timeout(limits.timeout_s):
            async for chunk in stream:
                received += len(chunk)
                if received > limits.body_bytes:
                    raise UploadTooLarge(f"request body exceeds the limit of {limits.body_bytes} bytes")
                parser.parser.write(chunk)
        parser.parser.finalize()
    except TimeoutError:
        raise UploadTimedOut(f"the upload did not arrive within {limits.timeout_s:g} s") from None
    except (UploadTooLarge, UploadInvalid):
        raise
    except Exception as exc:  # python-multipart's parse errors; the message names the syntax, never the data
        raise UploadInvalid(f"malformed multipart body ({type(exc).__name__})") from None
    return parser.form()
