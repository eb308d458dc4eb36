"""The few DER building blocks EF.SOD needs: OIDs, INTEGERs, SEQUENCE/SET, algorithm identifiers, on top of tlv."""

from __future__ import annotations

from kiosk.card import tlv

SEQUENCE, SET, INTEGER, OCTET_STRING, OID, NULL = 0x30, 0x31, 0x02, 0x04, 0x06, 0x05


class DerError(ValueError):
    """Not the DER structure expected."""


def encode_oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    body = bytearray([40 * parts[0] + parts[1]])
    for part in parts[2:]:
        chunk = [part & 0x7F]
        part >>= 7
        while part:
            chunk.append(0x80 | (part & 0x7F))
            part >>= 7
        body.extend(reversed(chunk))
    return tlv.encode(OID, bytes(body))


def decode_oid(value: bytes) -> str:
    if not value or value[-1] & 0x80:
        raise DerError("malformed OID")
    first = value[0]
    parts = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    acc = 0
    for byte in value[1:]:
        acc = (acc << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(acc)
            acc = 0
    return ".".join(map(str, parts))


def encode_int(value: int) -> bytes:
    size = max(1, (value.bit_length() + 8) // 8)  # room for the sign bit
    return tlv.encode(INTEGER, value.to_bytes(size, "big", signed=True))


def decode_int(element: tlv.TLV) -> int:
    expect(element, INTEGER)
    if not element.value:
        raise DerError("empty INTEGER")
    return int.from_bytes(element.value, "big", signed=True)


def seq(*parts: bytes) -> bytes:
    return tlv.encode(SEQUENCE, b"".join(parts))


def set_of(*parts: bytes) -> bytes:
    return tlv.encode(SET, b"".join(sorted(parts)))  # DER orders SET OF by encoding


def octets(value: bytes) -> bytes:
    return tlv.encode(OCTET_STRING, value)


def explicit(number: int, content: bytes) -> bytes:
    return tlv.encode(0xA0 | number, content)


def algorithm(oid: str, null_params: bool = False) -> bytes:
    return seq(encode_oid(oid), tlv.encode(NULL, b"") if null_params else b"")


def expect(element: tlv.TLV, tag: int) -> tlv.TLV:
    if element.tag != tag:
        raise DerError(f"expected tag {tag:02X}, found {element.tag:02X}")
    return element


def children(element: tlv.TLV, tag: int | None = None) -> list[tlv.TLV]:
    if tag is not None:
        expect(element, tag)
    return element.children()


def read_oid(element: tlv.TLV) -> str:
    return decode_oid(expect(element, OID).value)


def read_algorithm(element: tlv.TLV) -> tuple[str, tlv.TLV | None]:
    """AlgorithmIdentifier: (OID, parameters or None)."""
    parts = children(element, SEQUENCE)
    if not parts:
        raise DerError("empty AlgorithmIdentifier")
    params = parts[1] if len(parts) > 1 and parts[1].tag != NULL else None
    return read_oid(parts[0]), params
