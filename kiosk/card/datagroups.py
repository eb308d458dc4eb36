"""LDS data groups: parse EF.COM, DG1 (MRZ) and DG2 (face image inside the biometric template); build them too."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from kiosk.card import tlv
from kiosk.card.errors import DataGroupError
from kiosk.card.mrz import MrzData, MrzError, parse_mrz

EMRTD_AID = bytes.fromhex("A0000002471001")  # ICAO LDS1 eMRTD application
COM_TAG, DG1_TAG, DG2_TAG = 0x60, 0x61, 0x75
# Files of the eMRTD application: EF identifiers and the LDS tag each file starts with.
EF_COM, EF_SOD = 0x011E, 0x011D
DG_FILES = {1: 0x0101, 2: 0x0102, 3: 0x0103, 11: 0x010B, 12: 0x010C, 14: 0x010E, 15: 0x010F}
DG_TAGS = {0x61: 1, 0x75: 2, 0x63: 3, 0x6B: 11, 0x6C: 12, 0x6E: 14, 0x6F: 15}

JPEG, JPEG2000 = "jpeg", "jpeg2000"
_JPEG_MAGIC = b"\xff\xd8\xff"
_JP2_MAGIC = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
_J2K_MAGIC = b"\xff\x4f\xff\x51"


@dataclass(frozen=True)
class Com:
    lds_version: str
    unicode_version: str
    data_groups: list[int]


@dataclass(frozen=True)
class FaceImage:
    format: str  # "jpeg" or "jpeg2000"
    data: bytes
    width: int
    height: int

    def __repr__(self) -> str:  # no biometric bytes in logs or tracebacks
        return f"FaceImage({self.format}, {self.width}x{self.height}, {len(self.data)} bytes)"


def _outer(content: bytes, tag: int, name: str) -> tlv.TLV:
    try:
        element = tlv.parse(content)
    except tlv.TLVError as exc:
        raise DataGroupError(f"{name} malformed: {exc}") from None
    if element.tag != tag:
        raise DataGroupError(f"{name} starts with tag {element.tag:X}, expected {tag:X}")
    return element


def parse_com(content: bytes) -> Com:
    com = _outer(content, COM_TAG, "EF.COM")
    try:
        lds = com.find(0x5F01)
        uni = com.find(0x5F36)
        tags = com.require(0x5C).value
    except tlv.TLVError as exc:
        raise DataGroupError(f"EF.COM malformed: {exc}") from None
    groups = sorted({DG_TAGS[t] for t in tags if t in DG_TAGS})
    return Com(
        lds.value.decode("ascii", "replace") if lds else "", uni.value.decode("ascii", "replace") if uni else "", groups
    )


def parse_dg1(content: bytes) -> MrzData:
    dg1 = _outer(content, DG1_TAG, "DG1")
    try:
        mrz = dg1.require(0x5F1F).value.decode("ascii")
        return parse_mrz(mrz)
    except (tlv.TLVError, UnicodeDecodeError) as exc:
        raise DataGroupError(f"DG1 malformed: {exc}") from None
    except MrzError as exc:
        raise DataGroupError(f"DG1 MRZ invalid: {exc}") from None


def image_format(data: bytes) -> str | None:
    if data.startswith(_JPEG_MAGIC):
        return JPEG
    if data.startswith(_JP2_MAGIC) or data.startswith(_J2K_MAGIC):
        return JPEG2000
    return None


def _face_record(record: bytes) -> FaceImage:
    """ISO/IEC 19794-5:2005 facial record: general header, one facial record header, feature points, image info."""
    if not record.startswith(b"FAC\x00") or len(record) < 14 + 20 + 12:
        raise DataGroupError("DG2 biometric data is not an ISO 19794-5 face record")
    pos = 14  # 'FAC\0', version, record length (4), number of images (2)
    block_length, points = struct.unpack(">IH", record[pos : pos + 6])
    pos += 20 + 8 * points
    if pos + 12 > len(record):
        raise DataGroupError("DG2 face record truncated")
    _, data_type, width, height = struct.unpack(">BBHH", record[pos : pos + 6])
    image = record[pos + 12 : 14 + block_length]
    fmt = image_format(image)
    if fmt is None or (data_type in (0, 1) and fmt != (JPEG, JPEG2000)[data_type]):
        raise DataGroupError("DG2 holds no JPEG or JPEG 2000 image")
    return FaceImage(fmt, image, width, height)


def parse_dg2(content: bytes) -> FaceImage:
    """The first face image of DG2 (75 > 7F61 > 7F60 > 5F2E/7F2E > ISO 19794-5 record)."""
    dg2 = _outer(content, DG2_TAG, "DG2")
    try:
        group = dg2.require(0x7F61)
        instances = [c for c in group.children() if c.tag == 0x7F60]
        if not instances:
            raise DataGroupError("DG2 has no biometric information template")
        bit = instances[0]
        block = bit.find(0x5F2E) or bit.find(0x7F2E)
    except tlv.TLVError as exc:
        raise DataGroupError(f"DG2 malformed: {exc}") from None
    if block is None:
        raise DataGroupError("DG2 has no biometric data block")
    return _face_record(block.value)


def build_com(data_groups: list[int]) -> bytes:
    tags = bytes(tag for tag, number in sorted(DG_TAGS.items(), key=lambda kv: kv[1]) if number in data_groups)
    return tlv.encode(COM_TAG, tlv.encode(0x5F01, b"0107") + tlv.encode(0x5F36, b"040000") + tlv.encode(0x5C, tags))


def build_dg1(mrz: str) -> bytes:
    return tlv.encode(DG1_TAG, tlv.encode(0x5F1F, mrz.encode("ascii")))


def build_dg2(image: bytes, width: int, height: int, fmt: str | None = None) -> bytes:
    fmt = fmt or image_format(image)
    data_type = 1 if fmt == JPEG2000 else 0
    block_length = 20 + 12 + len(image)
    header = b"FAC\x00" + b"010\x00" + struct.pack(">IH", 14 + block_length, 1)
    facial = struct.pack(">IHBBB3sH3s3s", block_length, 0, 0, 0, 0, b"\x00\x00\x00", 0, b"\x00" * 3, b"\x00" * 3)
    info = struct.pack(">BBHHBBHH", 1, data_type, width, height, 1, 2, 0, 0)
    record = header + facial + info + image
    bht = tlv.encode(
        0xA1,
        tlv.encode(0x80, b"\x01\x01")
        + tlv.encode(0x81, b"\x02")
        + tlv.encode(0x87, b"\x01\x01")
        + tlv.encode(0x88, b"\x00\x08"),
    )
    bit = tlv.encode(0x7F60, bht + tlv.encode(0x5F2E, record))
    return tlv.encode(DG2_TAG, tlv.encode(0x7F61, tlv.encode(0x02, b"\x01") + bit))
