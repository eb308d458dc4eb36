"""ISO 7816-4 command and response APDUs (short and extended length) and the status words the eMRTD code relies on."""

from __future__ import annotations

from dataclasses import dataclass, field

SW_OK = 0x9000
SW_WRONG_LENGTH = 0x6700
SW_SECURITY_NOT_SATISFIED = 0x6982
SW_AUTH_FAILED = 0x6300
SW_SM_OBJECTS_MISSING = 0x6987
SW_SM_OBJECTS_INCORRECT = 0x6988
SW_WRONG_DATA = 0x6A80
SW_FILE_NOT_FOUND = 0x6A82
SW_WRONG_P1P2 = 0x6B00
SW_END_OF_FILE = 0x6282
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00
SW_CONDITIONS_NOT_SATISFIED = 0x6985


class ApduFormatError(ValueError):
    """Bytes that do not form an APDU."""


SHORT_LC, SHORT_LE = 255, 256
EXTENDED_LC, EXTENDED_LE = 65535, 65536


@dataclass(frozen=True)
class CommandAPDU:
    """A command; `extended` forces the extended encoding (Lc/Le on 2 bytes after a 00), which is also chosen by
    itself when the data or Le does not fit a short APDU. Only send extended APDUs to a card that announced them."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None  # expected response length, 1..256 (short) or 1..65536 (extended); None: no data expected
    extended: bool = False

    @property
    def header(self) -> bytes:
        return bytes([self.cla, self.ins, self.p1, self.p2])

    @property
    def is_extended(self) -> bool:
        return self.extended or len(self.data) > SHORT_LC or (self.le is not None and self.le > SHORT_LE)

    def to_bytes(self) -> bytes:
        if len(self.data) > EXTENDED_LC:
            raise ApduFormatError("command data longer than an extended Lc")
        if self.le is not None and not 1 <= self.le <= EXTENDED_LE:
            raise ApduFormatError("Le out of range")
        out = self.header
        if not self.is_extended:
            if self.data:
                out += bytes([len(self.data)]) + self.data
            if self.le is not None:
                out += bytes([self.le & 0xFF])  # 256 is written 00
            return out
        # Extended: one 00 byte, then Lc on 2 bytes (if data), then Le on 2 bytes (65536 is written 0000).
        if self.data:
            out += b"\x00" + len(self.data).to_bytes(2, "big") + self.data
        if self.le is not None:
            out += (b"" if self.data else b"\x00") + (self.le & 0xFFFF).to_bytes(2, "big")
        elif not self.data:
            raise ApduFormatError("an extended APDU needs data or Le")
        return out

    @classmethod
    def from_bytes(cls, raw: bytes) -> CommandAPDU:
        if len(raw) < 4:
            raise ApduFormatError("APDU shorter than its header")
        cla, ins, p1, p2 = raw[:4]
        body = raw[4:]
        if not body:
            return cls(cla, ins, p1, p2)
        if len(body) == 1:
            return cls(cla, ins, p1, p2, le=body[0] or 256)
        lc = body[0]
        if lc == 0:
            return cls._extended(cla, ins, p1, p2, body)
        if len(body) == 1 + lc:
            return cls(cla, ins, p1, p2, bytes(body[1:]))
        if len(body) == 2 + lc:
            return cls(cla, ins, p1, p2, bytes(body[1 : 1 + lc]), body[-1] or 256)
        raise ApduFormatError("Lc does not match the APDU length")

    @classmethod
    def _extended(cls, cla: int, ins: int, p1: int, p2: int, body: bytes) -> CommandAPDU:
        if len(body) == 3:  # case 2E: 00 Le Le
            return cls(cla, ins, p1, p2, le=int.from_bytes(body[1:3], "big") or EXTENDED_LE, extended=True)
        if len(body) < 3:
            raise ApduFormatError("extended length field truncated")
        lc = int.from_bytes(body[1:3], "big")
        if lc == 0:
            raise ApduFormatError("extended Lc of zero")
        if len(body) == 3 + lc:  # case 3E
            return cls(cla, ins, p1, p2, bytes(body[3:]), extended=True)
        if len(body) == 5 + lc:  # case 4E
            le = int.from_bytes(body[-2:], "big") or EXTENDED_LE
            return cls(cla, ins, p1, p2, bytes(body[3 : 3 + lc]), le, extended=True)
        raise ApduFormatError("extended Lc does not match the APDU length")


@dataclass(frozen=True)
class ResponseAPDU:
    data: bytes
    sw: int
    # On a secure channel: True when the MAC was checked; False for a status word the chip answered in plain (an
    # error such as 6A82 without DO'99'/DO'8E': take it as that status, but nothing it says is authenticated).
    # None outside secure messaging.
    authenticated: bool | None = field(default=None, compare=False)

    @classmethod
    def from_bytes(cls, raw: bytes) -> ResponseAPDU:
        if len(raw) < 2:
            raise ApduFormatError("response shorter than a status word")
        return cls(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))

    def to_bytes(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")

    @property
    def ok(self) -> bool:
        return self.sw == SW_OK
