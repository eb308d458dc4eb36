"""What length of APDU a chip takes: ISO 7816-4 card capabilities in the ATR/ATS historical bytes or in EF.ATR/INFO,
and the extended length information DO'7F66' (ICAO 9303-10: a chip with extended length says so in one of them)."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.card import tlv
from kiosk.card.apdu import EXTENDED_LC, SHORT_LC, SHORT_LE

EF_ATR_INFO = 0x2F01  # in the master file, readable without access control
CARD_CAPABILITIES_TAG = 0x47  # BER-TLV in EF.ATR/INFO; compact-TLV tag 7 in the historical bytes
EXTENDED_LENGTH_INFO_TAG = 0x7F66
_EXTENDED_LC_LE = 0x40  # third byte of the card capabilities, bit b7: "extended Lc and Le fields"
# What a PC/SC reader carries in one response here: vpcd frames a response with a 2-byte length (65535 bytes with the
# status word, measured through pcscd in tests/kiosk/test_extended_length.py); pcscd itself takes 65536 + 2.
READER_MAX_RESPONSE = 0xFFFF - 2


@dataclass(frozen=True)
class CardCapabilities:
    """The longest command data and response data the chip takes; short APDUs unless it announced extended ones."""

    extended_length: bool = False
    max_command: int = SHORT_LC
    max_response: int = SHORT_LE
    announced_in: str | None = None  # "historical bytes" or "EF.ATR/INFO"

    @classmethod
    def extended(cls, max_command: int, max_response: int, announced_in: str) -> CardCapabilities:
        return cls(
            True,
            max(SHORT_LC, min(max_command, EXTENDED_LC)),
            max(SHORT_LE, min(max_response, READER_MAX_RESPONSE)),
            announced_in,
        )


SHORT_ONLY = CardCapabilities()


def historical_bytes(atr: bytes) -> bytes:
    """The historical bytes of an ATR (ISO 7816-3: T0's low nibble counts them; TA..TD interface bytes come first)."""
    if len(atr) < 2:
        return b""
    count = atr[1] & 0x0F
    pos, y = 2, atr[1] >> 4
    while True:
        pos += bin(y).count("1")
        if not y & 0x8 or pos > len(atr):
            break
        y = atr[pos - 1] >> 4  # TDi: its high nibble says which interface bytes follow
    return atr[pos : pos + count] if pos + count <= len(atr) else b""


def _extended_bit(capabilities: bytes) -> bool:
    return len(capabilities) >= 3 and bool(capabilities[2] & _EXTENDED_LC_LE)


def from_historical_bytes(historical: bytes) -> bool:
    """True when the compact-TLV card capabilities (tag 7, category indicator 80 or 00) announce extended length."""
    if not historical or historical[0] not in (0x00, 0x80):
        return False
    body = historical[1:-3] if historical[0] == 0x00 else historical[1:]  # 00: a 3-byte status indicator ends it
    pos = 0
    while pos < len(body):
        tag, length = body[pos] >> 4, body[pos] & 0x0F
        value = body[pos + 1 : pos + 1 + length]
        if tag == 0x7:
            return _extended_bit(value)
        pos += 1 + length
    return False


def from_atr_info(content: bytes) -> CardCapabilities | None:
    """Capabilities from the BER-TLV objects of EF.ATR/INFO; None when it says nothing about length."""
    try:
        objects = {element.tag: element for element in tlv.parse_all(content)}
    except tlv.TLVError:
        return None
    info = objects.get(EXTENDED_LENGTH_INFO_TAG)
    announced = CARD_CAPABILITIES_TAG in objects and _extended_bit(objects[CARD_CAPABILITIES_TAG].value)
    if info is None:
        return CardCapabilities.extended(EXTENDED_LC, READER_MAX_RESPONSE, "EF.ATR/INFO") if announced else None
    try:
        sizes = [int.from_bytes(e.value, "big") for e in info.children() if e.tag == 0x02]
    except tlv.TLVError:
        return None
    if len(sizes) < 2 or min(sizes[:2]) <= SHORT_LE:
        return None  # a DO'7F66' that allows nothing beyond short APDUs
    return CardCapabilities.extended(sizes[0], sizes[1], "EF.ATR/INFO")


def build_atr_info(max_command: int, max_response: int) -> bytes:
    """EF.ATR/INFO of a chip with extended length: card capabilities (bit b7 of the third byte) and DO'7F66'."""
    sizes = tlv.encode(0x02, max_command.to_bytes(2, "big")) + tlv.encode(0x02, max_response.to_bytes(3, "big"))
    return tlv.encode(CARD_CAPABILITIES_TAG, bytes([0x00, 0x00, _EXTENDED_LC_LE])) + tlv.encode(
        EXTENDED_LENGTH_INFO_TAG, sizes
    )


def extended_historical_bytes() -> bytes:
    """Historical bytes announcing extended length: category 80, card capabilities 73 00 00 40."""
    return bytes([0x80, 0x73, 0x00, 0x00, _EXTENDED_LC_LE])
