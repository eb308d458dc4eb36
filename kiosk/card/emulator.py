"""A virtual eMRTD of our own plugged into Debian's vpcd: ISO 7816-4 files, BAC, 3DES secure messaging, insert/remove."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric import ec

from kiosk.card import icao_crypto as ic
from kiosk.card import pace, tlv
from kiosk.card.apdu import (
    SW_AUTH_FAILED,
    SW_CLA_NOT_SUPPORTED,
    SW_CONDITIONS_NOT_SATISFIED,
    SW_FILE_NOT_FOUND,
    SW_INS_NOT_SUPPORTED,
    SW_OK,
    SW_SECURITY_NOT_SATISFIED,
    SW_SM_OBJECTS_INCORRECT,
    SW_WRONG_DATA,
    SW_WRONG_LENGTH,
    SW_WRONG_P1P2,
    ApduFormatError,
    CommandAPDU,
    ResponseAPDU,
)
from kiosk.card.bac import BacKeys, session_keys
from kiosk.card.capabilities import EF_ATR_INFO, READER_MAX_RESPONSE, build_atr_info, extended_historical_bytes
from kiosk.card.card_access import EF_CARD_ACCESS, PaceInfo, build_card_access
from kiosk.card.chip_auth import CA_SUITES, ID_CA_ECDH, sign_challenge
from kiosk.card.datagroups import EMRTD_AID
from kiosk.card.pace import PaceSuite
from kiosk.card.pace_chip import ChipPace
from kiosk.card.passwords import CanSource, PacePassword, PasswordRef
from kiosk.card.personalisation import EmrtdProfile
from kiosk.card.pki import TestPki
from kiosk.card.secure_messaging import CardSideSecureMessaging, ChipSecureMessaging, SecureMessagingFault

log = logging.getLogger(__name__)


class AccessMode(StrEnum):
    """Which access protocols a virtual chip offers."""

    BAC = "bac"
    PACE = "pace"
    BOTH = "both"


class Chaining(StrEnum):
    """How a virtual chip hands out its answers at the transmission level (ISO 7816-3 T=0 habits some chips and
    readers keep): all at once, in parts fetched with GET RESPONSE (61xx), or only when Le is exact (6Cxx)."""

    NONE = "none"
    GET_RESPONSE = "get_response"
    EXACT_LE = "exact_le"


class ExtendedRefusal(StrEnum):
    """What happens to an extended APDU on a chip (or reader driver) that announced extended length but cannot do it:
    nothing (it works), the chip answers 6700, or the reader's driver fails the transmission."""

    NONE = "none"
    WRONG_LENGTH = "6700"
    TRANSPORT = "transport"


# vpcd control bytes (reader -> card)
_POWER_OFF, _POWER_ON, _RESET, _GET_ATR = 0, 1, 2, 4
_SFI_TO_FID = {
    0x01: 0x0101,
    0x02: 0x0102,
    0x03: 0x0103,
    0x0B: 0x010B,
    0x0C: 0x010C,
    0x0E: 0x010E,
    0x0F: 0x010F,
    0x1D: 0x011D,
    0x1E: 0x011E,
}


def contactless_atr(historical: bytes) -> bytes:
    """The ATR a PC/SC reader builds for an ISO 14443-4 card: 3B 8n 80 01, historical bytes, TCK."""
    body = bytes([0x80 | len(historical), 0x80, 0x01]) + historical
    tck = 0
    for byte in body:
        tck ^= byte
    return b"\x3b" + body + bytes([tck])


EMRTD_ATR = contactless_atr(bytes.fromhex("0000000000000000"))
FOREIGN_ATR = contactless_atr(b"MARKAZ-BANK")


def _sw(sw: int, data: bytes = b"") -> ResponseAPDU:
    return ResponseAPDU(data, sw)


class Applet(Protocol):
    """What sits on the virtual chip: answers APDUs, forgets its session on power off or reset."""

    atr: bytes

    def reset(self) -> None: ...

    def process(self, command: bytes) -> bytes: ...


class ForeignApplet:
    """A card that is not an eMRTD (a payment or loyalty card): it knows no ICAO application."""

    atr = FOREIGN_ATR

    def reset(self) -> None:
        pass

    def process(self, command: bytes) -> bytes:
        try:
            apdu = CommandAPDU.from_bytes(command)
        except ApduFormatError:
            return _sw(SW_WRONG_LENGTH).to_bytes()
        return _sw(SW_FILE_NOT_FOUND if apdu.ins == 0xA4 else SW_INS_NOT_SUPPORTED).to_bytes()


class EmrtdApplet:
    """The eMRTD application: SELECT, GET CHALLENGE, EXTERNAL AUTHENTICATE (BAC), MSE:Set AT and GENERAL AUTHENTICATE
    (PACE) and READ BINARY, with every LDS file behind BAC or PACE and secure messaging, answering with the status words
    real chips use.

    `access` makes it a BAC-only chip (no EF.CardAccess), a PACE-only chip (BAC commands unknown to it) or one that
    offers both; `pace_infos` are the PACE protocols its EF.CardAccess lists, `can` the card access number printed on
    it (PACE with the MRZ works without one).

    `extended_length` makes it take extended Lc/Le (and READ BINARY answers up to `max_response` bytes), announced in
    its ATR historical bytes and/or EF.ATR/INFO (`announce`); a short-only chip answers any extended APDU 6700. Both
    read files past offset 32767 with READ BINARY odd INS (B1)."""

    def __init__(
        self,
        profile: EmrtdProfile,
        max_read: int = 0xE7,
        random: Callable[[int], bytes] = os.urandom,
        plain_errors: bool = False,
        access: str = AccessMode.BAC,
        pace_infos: list[PaceInfo] | None = None,
        can: str | None = None,
        extended_length: bool = False,
        max_response: int = READER_MAX_RESPONSE,
        announce: tuple[str, ...] = ("atr", "atr_info"),
        chaining: str = Chaining.NONE,
        chain_part: int = 64,
        refuse_extended: str = ExtendedRefusal.NONE,
    ) -> None:
        self.profile = profile
        # Transmission habits: `chaining` (61xx parts of `chain_part` bytes, or 6Cxx until Le is exact), and
        # `refuse_extended`, a chip announcing extended length that refuses extended APDUs (6700) or whose reader
        # driver mangles them (a broken frame comes back).
        self.chaining = Chaining(chaining)
        self.chain_part = chain_part
        self.refuse_extended = ExtendedRefusal(refuse_extended)
        self._pending: bytes = b""  # the rest of a chained answer, for GET RESPONSE
        self._pending_sw = SW_OK
        self._exact: tuple[tuple[int, int, int, int, bytes], bytes] | None = None  # (command, answer) after a 6Cxx
        self.get_responses = 0
        self.wrong_le_answers = 0
        self.extended_length = extended_length
        self.atr = EMRTD_ATR
        self.mf_files: dict[int, bytes] = {}  # readable in the master file without access control
        if extended_length:
            if "atr" in announce:
                self.atr = contactless_atr(extended_historical_bytes())
            if "atr_info" in announce:
                self.mf_files[EF_ATR_INFO] = build_atr_info(0x1000, max_response)
        # Counters for tests: extended APDUs received (refused on a short-only chip), commands by INS under SM.
        self.extended_apdus = 0
        self.secured_commands: Counter[int] = Counter()
        self._random = random
        self.access = AccessMode(access)
        self.pace: ChipPace | None = None
        self.card_access: bytes | None = None
        if self.access != AccessMode.BAC:
            infos = pace_infos or [PaceInfo(pace.ECDH_GM + ".2", 2, pace.BRAINPOOL_P256R1)]
            information = profile.key.information().encode("ascii")
            passwords = {PasswordRef.MRZ: PacePassword(PasswordRef.MRZ, hashlib.sha1(information).digest())}
            if can is not None:
                passwords[PasswordRef.CAN] = PacePassword(PasswordRef.CAN, CanSource(can).can().encode("ascii"))
            self.pace = ChipPace(infos, passwords, random)
            self.card_access = build_card_access(infos)
            self.mf_files[EF_CARD_ACCESS] = self.card_access
        # Some issued chips answer an error under secure messaging in plain (6A82 without DO'99'/DO'8E') and drop
        # the session with it; plain_errors=True makes this chip one of them.
        self.plain_errors = plain_errors
        self._bac = BacKeys.from_mrz(profile.key)
        self.max_read = max_read
        # Counters tests look at (e.g. "exactly one BAC attempt").
        self.external_authenticate_count = 0
        self.reset()

    def reset(self) -> None:
        self._app_selected = False
        self._current: int | None = None
        self._rnd_ic: bytes | None = None
        self._sm: ChipSecureMessaging | None = None
        self._mf_current: int | None = None
        self._ca_suite: PaceSuite | None = None
        self._next_sm: ChipSecureMessaging | None = None
        if self.pace is not None:
            self.pace.reset()
        self._pending, self._exact = b"", None

    def process(self, command: bytes) -> bytes:
        """One APDU in, its answer out, through the chip's transmission habits (`chaining`)."""
        try:
            apdu = CommandAPDU.from_bytes(command)
        except ApduFormatError:
            return _sw(SW_WRONG_LENGTH).to_bytes()
        if self.chaining == Chaining.GET_RESPONSE:
            return self._chained(apdu)
        if self.chaining == Chaining.EXACT_LE:
            return self._exact_le(apdu)
        return self._process(apdu)

    def _chained(self, apdu: CommandAPDU) -> bytes:
        if apdu.ins == 0xC0 and apdu.cla & 0x0C == 0:  # GET RESPONSE: the next part of the pending answer
            self.get_responses += 1
            if not self._pending:
                return _sw(SW_CONDITIONS_NOT_SATISFIED).to_bytes()
            part, self._pending = self._pending[: apdu.le or 256], self._pending[apdu.le or 256 :]
            return self._with_more(part)
        self._pending = b""  # any other command drops what was not fetched
        raw = self._process(apdu)
        if len(raw) < 2:
            return raw
        answer = ResponseAPDU.from_bytes(raw)
        if apdu.is_extended or len(answer.data) <= self.chain_part:
            return answer.to_bytes()
        self._pending, self._pending_sw = answer.data[self.chain_part :], answer.sw
        return self._with_more(answer.data[: self.chain_part])

    def _with_more(self, part: bytes) -> bytes:
        if self._pending:
            return part + bytes([0x61, min(len(self._pending), 256) & 0xFF])
        return part + self._pending_sw.to_bytes(2, "big")

    def _exact_le(self, apdu: CommandAPDU) -> bytes:
        key = (apdu.cla, apdu.ins, apdu.p1, apdu.p2, apdu.data)
        if self._exact is not None and self._exact[0] == key:
            cached = self._exact[1]
            if apdu.le == len(cached) - 2:
                self._exact = None
                return cached
        self._exact = None
        answer = self._process(apdu)
        size = len(answer) - 2
        if apdu.is_extended or apdu.le is None or size <= 0 or apdu.le == size or size > 256:
            return answer
        self.wrong_le_answers += 1
        self._exact = (key, answer)  # kept, not run again: the command already changed the chip's state (SSC)
        return _sw(0x6C00 | (size & 0xFF)).to_bytes()

    def _process(self, apdu: CommandAPDU) -> bytes:
        if apdu.cla & 0xE0 or apdu.cla & 0x03:  # 0x10 is command chaining (PACE's GENERAL AUTHENTICATE)
            return _sw(SW_CLA_NOT_SUPPORTED).to_bytes()
        if apdu.is_extended:
            self.extended_apdus += 1
            if not self.extended_length or self.refuse_extended != ExtendedRefusal.NONE:
                # What short-only chips answer an extended APDU, in plain, which ends a secure session; or, when the
                # reader's driver is what cannot carry it, a mangled frame (one byte, no status word) and the chip's
                # session lost with it. (An empty vpcd frame would model a silent driver, but pcscd then blocks.)
                self._sm = None
                broken = self.refuse_extended == ExtendedRefusal.TRANSPORT
                return b"\x6f" if broken else _sw(SW_WRONG_LENGTH).to_bytes()
        if self._sm is None:
            return self._plain(apdu).to_bytes()
        if apdu.cla & 0x0C != 0x0C:
            # A plain command during a secure session ends the session, as ICAO 9303-11 secure messaging requires.
            self._sm = None
            return _sw(SW_SECURITY_NOT_SATISFIED).to_bytes()
        try:
            inner = self._sm.open_command(apdu)
        except SecureMessagingFault:
            self._sm = None  # wrong MAC or missing objects: keys are discarded, the plain 6988 is the answer
            return _sw(SW_SM_OBJECTS_INCORRECT).to_bytes()
        answer = self._secured(inner)
        if self.plain_errors and answer.sw != SW_OK and not answer.data:
            self._sm = None
            return answer.to_bytes()
        protected = self._sm.protect_response(answer, odd=bool(inner.ins & 1)).to_bytes()
        if self._next_sm is not None:  # Chip Authentication: new keys from the next command on
            self._sm, self._next_sm = self._next_sm, None
        return protected

    # -- before BAC or PACE ---------------------------------------------------------------------------------------
    def _plain(self, apdu: CommandAPDU) -> ResponseAPDU:
        if apdu.ins == 0xA4 and apdu.p1 == 0x04:
            if apdu.data == EMRTD_AID:
                self._app_selected = True
                self._current = None
                return _sw(SW_OK)
            return _sw(SW_FILE_NOT_FOUND)
        if self.pace is not None and apdu.ins in (0x22, 0x86):
            return self._pace(apdu)
        if not self._app_selected and self.mf_files and apdu.ins in (0xA4, 0xB0):
            return self._master_file(apdu)
        if not self._app_selected:
            return _sw(SW_FILE_NOT_FOUND if apdu.ins == 0xA4 else SW_CONDITIONS_NOT_SATISFIED)
        if apdu.ins in (0x82, 0x84) and self.access == AccessMode.PACE:
            return _sw(SW_INS_NOT_SUPPORTED)  # a PACE-only chip knows no BAC
        if apdu.ins == 0x84:
            if apdu.le != 8:
                return _sw(SW_WRONG_LENGTH)
            self._rnd_ic = self._random(8)
            return _sw(SW_OK, self._rnd_ic)
        if apdu.ins == 0x82:
            return self._external_authenticate(apdu)
        if apdu.ins in (0xA4, 0xB0):
            return _sw(SW_SECURITY_NOT_SATISFIED)  # every LDS file needs BAC
        return _sw(SW_INS_NOT_SUPPORTED)

    def _master_file(self, apdu: CommandAPDU) -> ResponseAPDU:
        """The master file holds EF.CardAccess (PACE chips) and EF.ATR/INFO (extended length), readable without any
        access protocol."""
        if apdu.ins == 0xA4:
            fid = int.from_bytes(apdu.data, "big") if len(apdu.data) == 2 else None
            if apdu.p1 == 0x00 and fid == 0x3F00:
                self._mf_current = None
                return _sw(SW_OK)
            if apdu.p1 in (0x00, 0x02) and fid in self.mf_files:
                self._mf_current = fid
                return _sw(SW_OK)
            return _sw(SW_FILE_NOT_FOUND)
        if apdu.p1 & 0x80:
            fid = next((f for f in self.mf_files if f & 0x1F == apdu.p1 & 0x1F), None)
            if fid is None:
                return _sw(SW_FILE_NOT_FOUND)
            self._mf_current, offset = fid, apdu.p2
        else:
            offset = (apdu.p1 << 8) | apdu.p2
        if self._mf_current not in self.mf_files:
            return _sw(0x6986)
        content = self.mf_files[self._mf_current]
        if offset >= len(content):
            return _sw(SW_WRONG_P1P2)
        return _sw(SW_OK, content[offset : offset + min(apdu.le or 256, self.max_read)])

    def _pace(self, apdu: CommandAPDU) -> ResponseAPDU:
        assert self.pace is not None
        if apdu.ins == 0x22:
            if (apdu.p1, apdu.p2) != (0xC1, 0xA4):
                return _sw(SW_WRONG_P1P2)
            return self.pace.mse_set_at(apdu)
        answer, session = self.pace.general_authenticate(apdu)
        if session is not None:
            self._sm = session.secure_messaging()
            self._current = None
        return answer

    def _external_authenticate(self, apdu: CommandAPDU) -> ResponseAPDU:
        self.external_authenticate_count += 1
        rnd_ic, self._rnd_ic = self._rnd_ic, None  # one answer per challenge
        if rnd_ic is None:
            return _sw(SW_CONDITIONS_NOT_SATISFIED)
        if len(apdu.data) != 40:
            return _sw(SW_WRONG_LENGTH)
        e_ifd, m_ifd = apdu.data[:32], apdu.data[32:]
        if not ic.mac_equal(ic.retail_mac(self._bac.k_mac, ic.pad(e_ifd)), m_ifd):
            return _sw(SW_AUTH_FAILED)
        s = ic.decrypt(self._bac.k_enc, e_ifd)
        rnd_ifd, echoed, k_ifd = s[:8], s[8:16], s[16:32]
        if echoed != rnd_ic:
            return _sw(SW_AUTH_FAILED)
        k_ic = self._random(16)
        e_ic = ic.encrypt(self._bac.k_enc, rnd_ic + rnd_ifd + k_ic)
        keys = session_keys(k_ifd, k_ic, rnd_ic, rnd_ifd)
        self._sm = CardSideSecureMessaging(keys.ks_enc, keys.ks_mac, keys.ssc)
        self._current = None
        return _sw(SW_OK, e_ic + ic.retail_mac(self._bac.k_mac, ic.pad(e_ic)))

    # -- inside the secure session ------------------------------------------------------------------------------
    def _secured(self, apdu: CommandAPDU) -> ResponseAPDU:
        self.secured_commands[apdu.ins] += 1
        if apdu.ins == 0xA4:
            if apdu.p1 == 0x04:
                if apdu.data != EMRTD_AID:
                    return _sw(SW_FILE_NOT_FOUND)
                self._app_selected, self._current = True, None  # after PACE in the master file
                return _sw(SW_OK)
            if not self._app_selected:
                return _sw(SW_FILE_NOT_FOUND)  # LDS files live in the eMRTD application
            if apdu.p1 not in (0x00, 0x02) or len(apdu.data) != 2:
                return _sw(SW_WRONG_P1P2)
            fid = int.from_bytes(apdu.data, "big")
            if fid not in self.profile.files:
                return _sw(SW_FILE_NOT_FOUND)
            self._current = fid
            return _sw(SW_OK)
        if apdu.ins == 0xB0:
            if apdu.p1 & 0x80:  # short EF identifier in P1, offset in P2
                short_fid = _SFI_TO_FID.get(apdu.p1 & 0x1F)
                if short_fid is None or short_fid not in self.profile.files:
                    return _sw(SW_FILE_NOT_FOUND)
                self._current, offset = short_fid, apdu.p2
            else:
                offset = (apdu.p1 << 8) | apdu.p2
            if self._current is None:
                return _sw(0x6986)  # command not allowed: no current EF
            content = self.profile.files[self._current]
            if offset >= len(content):
                return _sw(SW_WRONG_P1P2)
            return _sw(SW_OK, content[offset : offset + self._answer_length(apdu)])
        if apdu.ins == 0xB1:
            return self._read_binary_odd(apdu)
        if apdu.ins == 0x84:
            return _sw(SW_CONDITIONS_NOT_SATISFIED)
        if apdu.ins in (0x22, 0x86) and self.profile.chip_key is not None:
            return self._chip_authentication(apdu, self.profile.chip_key)
        if apdu.ins == 0x88 and self.profile.aa_key is not None:
            if not 1 <= len(apdu.data) <= 16:
                return _sw(SW_WRONG_LENGTH)
            return _sw(SW_OK, sign_challenge(self.profile.aa_key, apdu.data))
        return _sw(SW_INS_NOT_SUPPORTED if apdu.ins not in (0x82, 0x88) else SW_WRONG_DATA)

    def _answer_length(self, apdu: CommandAPDU) -> int:
        """Short READ BINARY answers stop at `max_read` (as real chips do); extended ones give what Le asks."""
        return (apdu.le or 256) if apdu.is_extended else min(apdu.le or 256, self.max_read)

    def _read_binary_odd(self, apdu: CommandAPDU) -> ResponseAPDU:
        """READ BINARY with odd INS: offset in DO'54' (any length), data back in DO'53', within Le."""
        if self._current is None or apdu.p1 or apdu.p2:
            return _sw(0x6986 if self._current is None else SW_WRONG_P1P2)  # SFI selection by B1 not offered
        try:
            element = tlv.parse(apdu.data)
        except tlv.TLVError:
            return _sw(SW_WRONG_DATA)
        if element.tag != 0x54 or not 1 <= len(element.value) <= 4:
            return _sw(SW_WRONG_DATA)
        offset = int.from_bytes(element.value, "big")
        content = self.profile.files[self._current]
        if offset >= len(content):
            return _sw(SW_WRONG_P1P2)
        room = self._answer_length(apdu)
        size = room - 2
        while size > 0 and len(tlv.encode(0x53, bytes(size))) > room:
            size -= 1
        return _sw(SW_OK, tlv.encode(0x53, content[offset : offset + max(size, 1)]))

    def _chip_authentication(self, apdu: CommandAPDU, key: ec.EllipticCurvePrivateKey) -> ResponseAPDU:
        """MSE:Set AT (AES) then GENERAL AUTHENTICATE, or MSE:Set KAT (3DES): ECDH with the terminal's ephemeral key;
        this answer goes out under the old keys, everything after under the new ones, SSC from zero."""
        try:
            objects = {e.tag: e for e in tlv.parse_all(apdu.data)}
        except tlv.TLVError:
            return _sw(SW_WRONG_DATA)
        if apdu.ins == 0x22 and (apdu.p1, apdu.p2) == (0x41, 0xA4) and 0x80 in objects:
            self._ca_suite = next((s for s in CA_SUITES.values() if s.oid_bytes == objects[0x80].value), None)
            return _sw(SW_OK if self._ca_suite is not None else 0x6A80)
        if apdu.ins == 0x22 and (apdu.p1, apdu.p2) == (0x41, 0xA6) and 0x91 in objects:
            self._ca_suite, public = CA_SUITES[ID_CA_ECDH + ".1"], objects[0x91].value
            answer = _sw(SW_OK)
        elif apdu.ins == 0x86 and self._ca_suite is not None and 0x7C in objects:
            inner = objects[0x7C].find(0x80)
            if inner is None:
                return _sw(SW_WRONG_DATA)
            public, answer = inner.value, _sw(SW_OK, tlv.encode(0x7C, b""))
        else:
            return _sw(SW_CONDITIONS_NOT_SATISFIED)
        try:
            terminal = ec.EllipticCurvePublicKey.from_encoded_point(key.curve, public)
        except ValueError:
            return _sw(SW_WRONG_DATA)
        k = key.exchange(ec.ECDH(), terminal)
        suite, self._ca_suite = self._ca_suite, None
        self._next_sm = suite.chip_secure_messaging(suite.kdf(k, 1), suite.kdf(k, 2))
        return answer


# pcscd polls vpcd for presence about every 0.4 s. A card put back faster than that after leaving is never seen as
# removed, and pcscd's view of the slot goes stale; so a virtual card stays out at least this long, per vpcd port.
MIN_ABSENCE_SECONDS = 1.0
_last_removal: dict[tuple[str, int], float] = {}
_removal_lock = threading.Lock()


def _note_removal(host: str, port: int) -> None:
    with _removal_lock:
        _last_removal[(host, port)] = time.monotonic()


def _quick(sock: socket.socket) -> None:
    # Without these Debian's vpcd waits ~40 ms per APDU (Nagle + delayed ACK); QUICKACK resets itself, so re-arm it.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if hasattr(socket, "TCP_QUICKACK"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < size:
        chunk = sock.recv(size - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


class VirtualCard:
    """A virtual card in a vpcd reader: `insert()` connects to vpcd (the reader sees a card), `remove()` disconnects.

    Runs its protocol loop in a thread, so tests and the demo drive it in-process. `pull_after` simulates a visitor
    pulling the card: after that many APDUs the card vanishes without answering.
    """

    def __init__(self, applet: Applet, port: int = 0x8C7B, host: str = "127.0.0.1") -> None:
        self.applet = applet
        self.port = port
        self.host = host
        self.apdus = 0
        self.pull_after: int | None = None
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @classmethod
    def for_document(
        cls, mrz: str, photo: bytes, pki: TestPki | None = None, port: int = 0x8C7B, host: str = "127.0.0.1"
    ) -> VirtualCard:
        """A virtual eMRTD personalised from a full MRZ, a photo and a TestPki (EF.SOD left out when pki is None)."""
        from kiosk.card.personalisation import personalise

        return cls(EmrtdApplet(personalise(mrz, photo, pki)), port=port, host=host)

    @property
    def inserted(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def insert(self, timeout: float = 10.0) -> VirtualCard:
        if self.inserted:
            return self
        with _removal_lock:
            last = _last_removal.get((self.host, self.port))
        if last is not None:
            time.sleep(max(0.0, last + MIN_ABSENCE_SECONDS - time.monotonic()))
        deadline = time.monotonic() + timeout
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)  # vpcd not listening yet (pcscd starting)
        sock.settimeout(None)
        _quick(sock)
        self.applet.reset()
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, args=(sock,), name="virtual-card", daemon=True)
        self._thread.start()
        return self

    def remove(self) -> None:
        with self._lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def wait_removed(self, timeout: float | None = None) -> bool:
        """Block until the reader side closes the link (pcscd stopped) or remove() is called."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.inserted

    def _serve(self, sock: socket.socket) -> None:
        try:
            while True:
                header = _recv_exact(sock, 2)
                if header is None:
                    break
                (length,) = struct.unpack(">H", header)
                payload = _recv_exact(sock, length)
                if payload is None:
                    break
                answer = self._handle(payload)
                if answer is None:
                    if length > 1:  # pulled mid-APDU
                        break
                    continue
                _quick(sock)
                sock.sendall(struct.pack(">H", len(answer)) + answer)
                _quick(sock)
        except OSError:
            pass  # removed from another thread, or vpcd went away
        finally:
            with self._lock:
                if self._sock is sock:
                    self._sock = None
            with contextlib.suppress(OSError):
                sock.close()
            _note_removal(self.host, self.port)

    def _handle(self, payload: bytes) -> bytes | None:
        if len(payload) == 1:
            control = payload[0]
            if control == _GET_ATR:
                return self.applet.atr
            if control in (_POWER_OFF, _POWER_ON, _RESET):
                self.applet.reset()
            return None
        if self.pull_after is not None and self.apdus >= self.pull_after:
            return None
        self.apdus += 1
        return self.applet.process(payload)


class DirectConnection:
    """A CardConnection straight to an applet in the same process, no PC/SC: for crypto vectors and fuzzing only;
    everything else goes through pcscd and vpcd."""

    reader = "direct"

    def __init__(self, applet: Applet) -> None:
        self.applet = applet
        self.atr = applet.atr
        self.log: list[tuple[bytes, bytes]] = []

    def transmit(self, apdu: bytes) -> bytes:
        answer = self.applet.process(apdu)
        self.log.append((apdu, answer))
        return answer

    def close(self) -> None:
        self.applet.reset()
