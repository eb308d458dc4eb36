"""ICAO 9303 secure messaging with 3DES (BAC, PACE-3DES) or AES (PACE): protect commands, check and open responses,
both sides."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Protocol

from kiosk.card import icao_crypto as ic
from kiosk.card import tlv
from kiosk.card.apdu import CommandAPDU, ResponseAPDU

SM_CLA = 0x0C  # bits b4 b3 of CLA: SM with the header authenticated


class SecureMessagingFault(ValueError):
    """A protected message failed a check: wrong MAC, missing data object, bad padding."""


class PlainStatus(SecureMessagingFault):
    """The chip answered a bare status word where a protected answer was due."""

    def __init__(self, sw: int) -> None:
        super().__init__(f"unprotected response {sw:04X}")
        self.sw = sw


# Bare status words that mean the secure session itself is gone (security status not satisfied, SM data objects
# missing or incorrect): the channel is broken. Any other bare error is that error, unauthenticated.
SESSION_LOST = frozenset({0x6982, 0x6987, 0x6988})


def is_plain_error(sw: int) -> bool:
    """An error or warning status a chip may answer without secure messaging (never 9000 or 61xx: those carry data)."""
    return sw >> 8 in range(0x62, 0x70) and sw not in SESSION_LOST


class SecureMessaging(Protocol):
    """What a secure channel needs from a cipher suite: 3DES after BAC, AES (or 3DES) after PACE."""

    def protect(self, command: CommandAPDU) -> CommandAPDU: ...

    def unprotect(self, response: ResponseAPDU) -> ResponseAPDU: ...


class _Suite(ABC):
    """The cipher half of secure messaging: the send-sequence counter, encryption and the MAC."""

    block: int

    def __init__(self, ssc: bytes) -> None:
        self.size = len(ssc)
        self.ssc = int.from_bytes(ssc, "big")

    def next_ssc(self) -> bytes:
        # The send-sequence counter goes up before every command and every response, on both sides.
        self.ssc = (self.ssc + 1) % (1 << (8 * self.size))
        return self.ssc.to_bytes(self.size, "big")

    @abstractmethod
    def encrypt(self, ssc: bytes, data: bytes) -> bytes: ...

    @abstractmethod
    def decrypt(self, ssc: bytes, data: bytes) -> bytes: ...

    @abstractmethod
    def mac(self, ssc: bytes, data: bytes) -> bytes: ...


class _TripleDesSuite(_Suite):
    """BAC and PACE-3DES: 3DES-CBC with a zero IV, the retail MAC, an 8-byte SSC."""

    block = 8

    def __init__(self, ks_enc: bytes, ks_mac: bytes, ssc: bytes) -> None:
        super().__init__(ssc)
        self.enc = ic.TripleDesKey(ks_enc)
        self.mac_key = ic.TripleDesKey(ks_mac)

    def encrypt(self, ssc: bytes, data: bytes) -> bytes:
        return self.enc.encrypt(data)

    def decrypt(self, ssc: bytes, data: bytes) -> bytes:
        return self.enc.decrypt(data)

    def mac(self, ssc: bytes, data: bytes) -> bytes:
        return self.mac_key.retail_mac(ic.pad(ssc + data))


class _AesSuite(_Suite):
    """PACE with AES (ICAO 9303-11 9.8.6.3): a 16-byte SSC, AES-CBC with IV = E(KS_enc, SSC), AES-CMAC over the padded
    data, truncated to 8 bytes."""

    block = 16

    def __init__(self, ks_enc: bytes, ks_mac: bytes, ssc: bytes) -> None:
        super().__init__(ssc)
        self.enc = ic.AesKey(ks_enc)
        self.mac_key = ic.AesKey(ks_mac)

    def encrypt(self, ssc: bytes, data: bytes) -> bytes:
        return self.enc.encrypt(data, self.enc.encrypt_block(ssc))

    def decrypt(self, ssc: bytes, data: bytes) -> bytes:
        return self.enc.decrypt(data, self.enc.encrypt_block(ssc))

    def mac(self, ssc: bytes, data: bytes) -> bytes:
        return self.mac_key.cmac(ic.pad(ssc + data, 16))


def _do87(keys: _Suite, ssc: bytes, data: bytes) -> bytes:
    return tlv.encode(0x87, b"\x01" + keys.encrypt(ssc, ic.pad(data, keys.block)))


def _open_do87(keys: _Suite, ssc: bytes, value: bytes) -> bytes:
    if not value or value[0] != 0x01 or (len(value) - 1) % keys.block:
        raise SecureMessagingFault("DO'87' malformed")
    try:
        return ic.unpad(keys.decrypt(ssc, value[1:]), keys.block)
    except ValueError as exc:
        raise SecureMessagingFault(str(exc)) from None


def _do85(keys: _Suite, ssc: bytes, data: bytes) -> bytes:
    # Odd INS (READ BINARY B1): the data field is BER-TLV, so its cryptogram goes in DO'85', with no indicator byte.
    return tlv.encode(0x85, keys.encrypt(ssc, ic.pad(data, keys.block)))


def _open_do85(keys: _Suite, ssc: bytes, value: bytes) -> bytes:
    if not value or len(value) % keys.block:
        raise SecureMessagingFault("DO'85' malformed")
    try:
        return ic.unpad(keys.decrypt(ssc, value), keys.block)
    except ValueError as exc:
        raise SecureMessagingFault(str(exc)) from None


def _data_object(keys: _Suite, ssc: bytes, data: bytes, odd: bool) -> bytes:
    return _do85(keys, ssc, data) if odd else _do87(keys, ssc, data)


def _open_data(keys: _Suite, ssc: bytes, objects: dict[int, tlv.TLV]) -> bytes:
    if 0x87 in objects and 0x85 in objects:
        raise SecureMessagingFault("both DO'85' and DO'87'")
    if 0x87 in objects:
        return _open_do87(keys, ssc, objects[0x87].value)
    if 0x85 in objects:
        return _open_do85(keys, ssc, objects[0x85].value)
    return b""


def _le_object(command: CommandAPDU) -> bytes:
    """DO'97': Le on one byte (00 = 256) for short commands, on two (0000 = 65536) for extended ones."""
    assert command.le is not None
    if command.is_extended:
        return tlv.encode(0x97, (command.le & 0xFFFF).to_bytes(2, "big"))
    return tlv.encode(0x97, bytes([command.le & 0xFF]))


def _objects(data: bytes) -> dict[int, tlv.TLV]:
    try:
        elements = tlv.parse_all(data)
    except tlv.TLVError as exc:
        raise SecureMessagingFault(f"protected data malformed: {exc}") from None
    found: dict[int, tlv.TLV] = {}
    for element in elements:
        if element.tag in found:
            raise SecureMessagingFault(f"DO'{element.tag:X}' repeated")
        found[element.tag] = element
    return found


class _TerminalSide:
    """Terminal side: protect each command (DO'87'/DO'97' + MAC) and check each response (DO'99' + MAC)."""

    def __init__(self, keys: _Suite) -> None:
        self._keys = keys

    @property
    def ssc(self) -> bytes:
        return self._keys.ssc.to_bytes(self._keys.size, "big")

    def protect(self, command: CommandAPDU) -> CommandAPDU:
        keys = self._keys
        ssc = keys.next_ssc()
        header = bytes([command.cla | SM_CLA, command.ins, command.p1, command.p2])
        body = b""
        if command.data:
            body += _data_object(keys, ssc, command.data, odd=bool(command.ins & 1))
        if command.le is not None:
            body += _le_object(command)
        cc = keys.mac(ssc, ic.pad(header, keys.block) + body)
        data = body + tlv.encode(0x8E, cc)
        if command.is_extended:  # extended inside, extended outside: the answer may be as long as the chip allows
            return CommandAPDU(header[0], header[1], header[2], header[3], data, 65536, extended=True)
        return CommandAPDU(header[0], header[1], header[2], header[3], data, 256)

    def unprotect(self, response: ResponseAPDU) -> ResponseAPDU:
        keys = self._keys
        ssc = keys.next_ssc()
        if not response.data:
            # A plain status word where a protected answer was due; the channel decides what it means.
            raise PlainStatus(response.sw)
        objects = _objects(response.data)
        if 0x8E not in objects or 0x99 not in objects:
            raise SecureMessagingFault("response lacks DO'99' or DO'8E'")
        covered = b"".join(o.raw for tag, o in objects.items() if tag in (0x85, 0x87, 0x99))
        if not ic.mac_equal(keys.mac(ssc, covered), objects[0x8E].value):
            raise SecureMessagingFault("response MAC wrong")
        status = objects[0x99].value
        if len(status) != 2:
            raise SecureMessagingFault("DO'99' malformed")
        data = _open_data(keys, ssc, objects)
        return ResponseAPDU(data, int.from_bytes(status, "big"), authenticated=True)


class TripleDesSecureMessaging(_TerminalSide):
    """Terminal side with 3DES session keys (BAC; PACE with 3DES)."""

    def __init__(self, ks_enc: bytes, ks_mac: bytes, ssc: bytes) -> None:
        super().__init__(_TripleDesSuite(ks_enc, ks_mac, ssc))


class AesSecureMessaging(_TerminalSide):
    """Terminal side with AES session keys (PACE); the SSC starts at zero after PACE."""

    def __init__(self, ks_enc: bytes, ks_mac: bytes, ssc: bytes = bytes(16)) -> None:
        super().__init__(_AesSuite(ks_enc, ks_mac, ssc))


class ChipSecureMessaging:
    """Chip side of the same scheme, for the virtual card: open protected commands, protect answers."""

    def __init__(self, keys: _Suite) -> None:
        self._keys = keys

    def open_command(self, command: CommandAPDU) -> CommandAPDU:
        keys = self._keys
        if command.cla & SM_CLA != SM_CLA:
            raise SecureMessagingFault("command not protected")
        ssc = keys.next_ssc()
        objects = _objects(command.data)
        if 0x8E not in objects:
            raise SecureMessagingFault("command lacks DO'8E'")
        covered = b"".join(o.raw for tag, o in objects.items() if tag in (0x85, 0x87, 0x97))
        if not ic.mac_equal(keys.mac(ssc, ic.pad(command.header, keys.block) + covered), objects[0x8E].value):
            raise SecureMessagingFault("command MAC wrong")
        data = _open_data(keys, ssc, objects)
        le, extended = None, False
        if 0x97 in objects:
            raw_le = objects[0x97].value
            if len(raw_le) == 2:  # extended: 0000 is 65536
                le, extended = int.from_bytes(raw_le, "big") or 65536, True
            else:
                le = (raw_le[-1] or 256) if raw_le else 256
        return CommandAPDU(command.cla & ~SM_CLA & 0xFF, command.ins, command.p1, command.p2, data, le, extended)

    def protect_response(self, response: ResponseAPDU, odd: bool = False) -> ResponseAPDU:
        """`odd`: the answer to an odd-INS command, whose data goes in DO'85'."""
        keys = self._keys
        ssc = keys.next_ssc()
        body = (_data_object(keys, ssc, response.data, odd) if response.data else b"") + tlv.encode(
            0x99, response.sw.to_bytes(2, "big")
        )
        return ResponseAPDU(body + tlv.encode(0x8E, keys.mac(ssc, body)), response.sw)


class CardSideSecureMessaging(ChipSecureMessaging):
    """Chip side with 3DES session keys."""

    def __init__(self, ks_enc: bytes, ks_mac: bytes, ssc: bytes) -> None:
        super().__init__(_TripleDesSuite(ks_enc, ks_mac, ssc))


class CardSideAesSecureMessaging(ChipSecureMessaging):
    """Chip side with AES session keys."""

    def __init__(self, ks_enc: bytes, ks_mac: bytes, ssc: bytes = bytes(16)) -> None:
        super().__init__(_AesSuite(ks_enc, ks_mac, ssc))
