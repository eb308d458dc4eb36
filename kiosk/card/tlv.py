"""BER-TLV as used by ISO 7816-4 and ICAO 9303 (tags up to 3 bytes, definite lengths up to 4 bytes): parse and build."""

from __future__ import annotations

from dataclasses import dataclass, field


class TLVError(ValueError):
    """Malformed BER-TLV: truncated, indefinite or oversized lengths, bad tags."""


@dataclass(frozen=True)
class TLV:
    tag: int
    value: bytes
    # Where the whole element sat in the input, so callers can hash or re-encode exactly what was read.
    raw: bytes = field(default=b"", repr=False, compare=False)

    def children(self) -> list[TLV]:
        return parse_all(self.value)

    def find(self, tag: int) -> TLV | None:
        for child in self.children():
            if child.tag == tag:
                return child
        return None

    def require(self, tag: int) -> TLV:
        found = self.find(tag)
        if found is None:
            raise TLVError(f"tag {tag:X} missing inside {self.tag:X}")
        return found


def tag_size(tag: int) -> int:
    return max(1, (tag.bit_length() + 7) // 8)


def read_tag(data: bytes, pos: int) -> tuple[int, int]:
    """Return (tag, next position)."""
    if pos >= len(data):
        raise TLVError("truncated: tag expected")
    first = data[pos]
    tag = first
    pos += 1
    if first & 0x1F == 0x1F:  # multi-byte tag: more bytes follow while bit 8 is set
        for count in range(3):
            if pos >= len(data):
                raise TLVError("truncated multi-byte tag")
            byte = data[pos]
            tag = (tag << 8) | byte
            pos += 1
            if not byte & 0x80:
                break
            if count == 2:
                raise TLVError("tag longer than 4 bytes")
    return tag, pos


def read_length(data: bytes, pos: int) -> tuple[int, int]:
    """Return (length, next position); only definite lengths exist in ICAO 9303 and DER."""
    if pos >= len(data):
        raise TLVError("truncated: length expected")
    first = data[pos]
    pos += 1
    if first < 0x80:
        return first, pos
    count = first & 0x7F
    if count == 0:
        raise TLVError("indefinite length not allowed")
    if count > 4:
        raise TLVError(f"length field of {count} bytes")
    if pos + count > len(data):
        raise TLVError("truncated length field")
    return int.from_bytes(data[pos : pos + count], "big"), pos + count


def parse_one(data: bytes, pos: int = 0) -> tuple[TLV, int]:
    """Parse the element starting at pos; return it and the position after it."""
    start = pos
    tag, pos = read_tag(data, pos)
    length, pos = read_length(data, pos)
    end = pos + length
    if end > len(data):
        raise TLVError(f"tag {tag:X} claims {length} bytes, only {len(data) - pos} present")
    return TLV(tag, bytes(data[pos:end]), bytes(data[start:end])), end


def parse(data: bytes) -> TLV:
    """Exactly one element, nothing after it."""
    element, end = parse_one(data)
    if end != len(data):
        raise TLVError(f"{len(data) - end} trailing bytes after tag {element.tag:X}")
    return element


def parse_all(data: bytes) -> list[TLV]:
    out = []
    pos = 0
    while pos < len(data):
        element, pos = parse_one(data, pos)
        out.append(element)
    return out


def header_length(data: bytes) -> int:
    """Total size of an element from its first bytes (tag + length header + value); used to size a file read."""
    _, pos = read_tag(data, 0)
    length, pos = read_length(data, pos)
    return pos + length


def encode_length(length: int) -> bytes:
    if length < 0:
        raise TLVError("negative length")
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    if len(body) > 4:
        raise TLVError("length too large")
    return bytes([0x80 | len(body)]) + body


def encode(tag: int, value: bytes) -> bytes:
    return tag.to_bytes(tag_size(tag), "big") + encode_length(len(value)) + value
