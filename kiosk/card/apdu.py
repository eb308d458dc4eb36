"""ISO 7816-4 command and response APDUs (short length only) and the status words the eMRTD code relies on."""

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
    """Bytes that do not form a short APDU."""


@dataclass(frozen=True)
class CommandAPDU:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None  # expected response length, 1..256; None when no data is expected

    @property
    def header(self) -> bytes:
        return bytes([self.cla, self.ins, self.p1, self.p2])

    def to_bytes(self) -> bytes:
        if len(self.data) > 255:
            raise ApduFormatError("extended length is not used")
        out = self.header
        if self.data:
            out += bytes([len(self.data)]) + self.data
        if self.le is not None:
            if not 1 <= self.le <= 256:
                raise ApduFormatError("Le out of range")
            out += bytes([self.le & 0xFF])  # 256 is written 00
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
            raise ApduFormatError("extended length is not supported")
        if len(body) == 1 + lc:
            return cls(cla, ins, p1, p2, bytes(body[1:]))
        if len(body) == 2 + lc:
            return cls(cla, ins, p1, p2, bytes(body[1 : 1 + lc]), body[-1] or 256)
        raise ApduFormatError("Lc does not match the APDU length")


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
