"""Multipart upload parsing entirely in memory, with size caps enforced while the body streams in.

Starlette's form parser spools file parts over 1 MiB to temporary files: biometric data must never touch the disk,
so the body is read here (capped) and parsed with python-multipart into bytes objects."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header


class UploadTooLarge(Exception):
    pass


class UploadInvalid(Exception):
    pass


@dataclass
class Part:
    name: str = ""
    filename: str | None = None
    content_type: str = ""
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)


async def read_body(stream: AsyncIterator[bytes], limit: int, declared: int | None) -> bytes:
    """The request body, refusing more than `limit` bytes (before reading, when Content-Length says so)."""
    if declared is not None and declared > limit:
        raise UploadTooLarge(f"request body of {declared} bytes exceeds the limit of {limit}")
    chunks, size = [], 0
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            raise UploadTooLarge(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_multipart(body: bytes, content_type: str, part_limit: int, max_parts: int) -> list[Part]:
    """The parts of a multipart/form-data body; a part over `part_limit` bytes raises UploadTooLarge naming it."""
    ctype, params = parse_options_header(content_type)
    if ctype != b"multipart/form-data":
        raise UploadInvalid("expected a multipart/form-data body")
    boundary = params.get(b"boundary")
    if not boundary:
        raise UploadInvalid("multipart body without a boundary")
    parts: list[Part] = []
    header = {"field": b"", "value": b""}
    current: dict[str, Part] = {}

    def on_part_begin() -> None:
        if len(parts) >= max_parts:
            raise UploadInvalid(f"too many parts (at most {max_parts})")
        current["p"] = Part()
        parts.append(current["p"])

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header["value"] += data[start:end]

    def on_header_end() -> None:
        name, value = header["field"].lower(), header["value"]
        header["field"], header["value"] = b"", b""
        part = current["p"]
        if name == b"content-disposition":
            _, opts = parse_options_header(value)
            part.name = opts.get(b"name", b"").decode("utf-8", "replace")
            if b"filename" in opts:
                part.filename = opts[b"filename"].decode("utf-8", "replace")
        elif name == b"content-type":
            part.content_type = value.decode("latin-1")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        part = current["p"]
        part.size += end - start
        if part.size > part_limit:
            raise UploadTooLarge(f"{part.name or 'a part'} exceeds {part_limit} bytes")
        part.chunks.append(data[start:end])

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except (UploadTooLarge, UploadInvalid):
        raise
    except Exception as exc:  # python-multipart's parse errors; the message names the syntax, never the data
        raise UploadInvalid(f"malformed multipart body ({type(exc).__name__})") from None
    return parts
