"""Read an eMRTD: learn its APDU length (EF.ATR/INFO, ATR), open access (PACE when EF.CardAccess offers it, else BAC),
select the ICAO application, read EF.COM, EF.SOD, DG1, DG2, check passive authentication."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from kiosk.card import tlv
from kiosk.card.access import AccessProtocol, ApduChannel, PlainChannel, ReopeningChannel, SecureChannel
from kiosk.card.apdu import (
    EXTENDED_LC,
    SW_END_OF_FILE,
    SW_FILE_NOT_FOUND,
    SW_OK,
    SW_WRONG_LENGTH,
    CommandAPDU,
    ResponseAPDU,
)
from kiosk.card.bac import BasicAccessControl
from kiosk.card.capabilities import (
    EF_ATR_INFO,
    READER_MAX_RESPONSE,
    SHORT_ONLY,
    CardCapabilities,
    from_atr_info,
    from_historical_bytes,
    historical_bytes,
)
from kiosk.card.card_access import EF_CARD_ACCESS, CardAccessError, PaceInfo, parse_card_access
from kiosk.card.chip_auth import authenticate_chip
from kiosk.card.datagroups import DG_FILES, EF_COM, EF_SOD, EMRTD_AID, parse_com, parse_dg1, parse_dg2
from kiosk.card.errors import (
    CardError,
    CardRemoved,
    DataGroupError,
    ReaderUnavailable,
    SecureMessagingError,
    UnsupportedCard,
)
from kiosk.card.pace import PaceAccess, choose
from kiosk.card.passive_auth import passive_authentication
from kiosk.card.passwords import AccessSource
from kiosk.card.reader import CardConnection
from kiosk.card.result import CardReadResult
from kiosk.card.trust_store import TrustStore

# Largest READ BINARY whose protected answer (DO'87' + DO'99' + DO'8E' + SW) still fits a short response.
CHUNK = 0xDF
log = logging.getLogger(__name__)
# The read's progress: access and the small files first, then the photo (DG2, most of the bytes) by bytes read.
PHOTO_FROM, PHOTO_TO = 0.3, 0.95
_HEADER = 5  # enough for a one-byte tag (every LDS file) and a length of up to 83 xx xx xx (a DG2 beyond 64 KB)
_MAX_FILE = 1 << 20  # more than any LDS file; a chip claiming more is refused rather than read for minutes
_MAX_EVEN_OFFSET = 0x7FFF  # READ BINARY (B0) carries the offset in 15 bits; beyond, READ BINARY with odd INS (B1)
_SM_TRAILER = 4 + 10  # DO'99' (status) and DO'8E' (MAC) after the data object


def _tlv_header(length: int) -> int:
    return 2 if length < 0x80 else 3 if length <= 0xFF else 4 if length <= 0xFFFF else 5


def protected_size(length: int, odd: bool) -> int:
    """Bytes of a secure-messaging answer carrying `length` bytes of READ BINARY data, for the worst padding (AES
    blocks): B0 data goes in DO'87' (a padding-indicator byte first), B1's DO'53' in DO'85'."""
    plain = length + _tlv_header(length) if odd else length
    cryptogram = (plain // 16 + 1) * 16 + (0 if odd else 1)
    return cryptogram + _tlv_header(cryptogram) + _SM_TRAILER


def chunk_for(max_response: int, odd: bool) -> int:
    """The largest READ BINARY length whose protected answer fits the chip's (and reader's) response size."""
    low, high = 1, max_response
    while low < high:
        middle = (low + high + 1) // 2
        if protected_size(middle, odd) <= max_response:
            low = middle
        else:
            high = middle - 1
    return low


# What cards without the application answer: file/application not found, wrong P1-P2, INS or CLA not supported.
_NO_APPLICATION = {0x6A82, 0x6A81, 0x6A86, 0x6A88, 0x6B00, 0x6D00, 0x6E00, 0x6999}


class _FileNotFound(CardError):
    pass


def select_application(channel: ApduChannel) -> None:
    answer = channel.transmit(CommandAPDU(0x00, 0xA4, 0x04, 0x0C, EMRTD_AID))
    if answer.sw in _NO_APPLICATION:
        raise UnsupportedCard(f"unsupported card: no ICAO eMRTD application (SELECT answered {answer.sw:04X})")
    if answer.sw != SW_OK:
        raise CardError(f"SELECT of the eMRTD application refused ({answer.sw:04X})")


class LengthChoice:
    """The APDU length of one card session: what the chip announced, until an extended APDU is refused (6700 from the
    chip, or a failed transmission from a reader driver that carries only short APDUs); from then on short APDUs with
    chained reads, for the rest of the session, as a document reader does with such a chip/reader pair."""

    def __init__(self, announced: CardCapabilities = SHORT_ONLY) -> None:
        self.announced = announced
        self.capabilities = announced
        self.fell_back: str | None = None  # why extended length was given up, if it was

    def fall_back(self, why: str) -> None:
        log.info("extended length refused (%s): short APDUs for the rest of the session", why)
        self.capabilities, self.fell_back = SHORT_ONLY, why


class _ExtendedRefused(CardError):
    pass


def read_file(
    channel: ApduChannel,
    fid: int,
    capabilities: CardCapabilities | LengthChoice = SHORT_ONLY,
    on_bytes: Callable[[int, int], None] | None = None,
) -> bytes:
    """SELECT the EF, then READ BINARY in chunks: the first few bytes give the TLV length, the rest follows. Chunks are
    as long as the chip's announced response size allows (one extended READ BINARY per ~64 KB, else short ones); an
    extended READ BINARY refused makes a `LengthChoice` fall back to short ones and the chunk is read again.
    `on_bytes(read, total)` hears of each chunk (the kiosk's progress bar over the photo)."""
    choice = capabilities if isinstance(capabilities, LengthChoice) else LengthChoice(capabilities)
    _select_ef(channel, fid)
    content = _read_binary(channel, 0, _HEADER)
    try:
        total = tlv.header_length(content)
    except tlv.TLVError as exc:
        raise DataGroupError(f"EF {fid:04X} does not start with a TLV header: {exc}") from None
    if total > _MAX_FILE:
        raise DataGroupError(f"EF {fid:04X} claims {total} bytes")
    while len(content) < total:
        caps = choice.capabilities
        chunk = chunk_for(caps.max_response, odd=len(content) > _MAX_EVEN_OFFSET)
        try:
            part = _read_binary(channel, len(content), min(chunk, total - len(content)), caps.extended_length)
        except _ExtendedRefused as exc:
            if not caps.extended_length:
                raise CardError(str(exc)) from None
            choice.fall_back(str(exc))
            if isinstance(channel, ReopeningChannel):
                channel.reopen()  # the secure session did not survive the refusal: access again, then go on
            _select_ef(channel, fid)
            continue
        if not part:
            raise DataGroupError(f"EF {fid:04X} ended after {len(content)} of {total} bytes")
        content += part
        if on_bytes is not None:
            on_bytes(min(len(content), total), total)
    return content[:total]


def _select_ef(channel: ApduChannel, fid: int) -> None:
    answer = channel.transmit(CommandAPDU(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big")))
    if answer.sw == SW_FILE_NOT_FOUND:
        raise _FileNotFound(f"EF {fid:04X} not found")
    if answer.sw != SW_OK:
        raise CardError(f"SELECT EF {fid:04X} refused ({answer.sw:04X})")


def _send(channel: ApduChannel, command: CommandAPDU, extended_allowed: bool) -> ResponseAPDU:
    """The command's answer; an extended command refused (6700, or the transmission failing) raises _ExtendedRefused
    so that the caller can go short."""
    if not command.is_extended:
        return channel.transmit(command)
    if not extended_allowed:
        raise _ExtendedRefused("extended APDU needed but not announced")
    try:
        answer = channel.transmit(command)
    except (CardRemoved, ReaderUnavailable, SecureMessagingError) as exc:
        raise _ExtendedRefused(f"extended APDU failed in transmission: {exc}") from None
    if answer.sw == SW_WRONG_LENGTH:
        raise _ExtendedRefused("extended APDU answered 6700")
    return answer


def _read_binary(channel: ApduChannel, offset: int, length: int, extended_allowed: bool = True) -> bytes:
    if offset > _MAX_EVEN_OFFSET:
        return _read_binary_odd(channel, offset, length, extended_allowed)
    answer = _send(channel, CommandAPDU(0x00, 0xB0, offset >> 8, offset & 0xFF, le=length), extended_allowed)
    if answer.sw not in (SW_OK, SW_END_OF_FILE):
        raise CardError(f"READ BINARY at {offset} refused ({answer.sw:04X})")
    return answer.data


def _read_binary_odd(channel: ApduChannel, offset: int, length: int, extended_allowed: bool = True) -> bytes:
    """READ BINARY with odd INS (ISO 7816-4): the offset in DO'54', the data back in DO'53'."""
    offset_bytes = offset.to_bytes(max(1, (offset.bit_length() + 7) // 8), "big")
    le = length + _tlv_header(length)
    command = CommandAPDU(0x00, 0xB1, 0x00, 0x00, tlv.encode(0x54, offset_bytes), le)
    answer = _send(channel, command, extended_allowed)
    if answer.sw not in (SW_OK, SW_END_OF_FILE):
        raise CardError(f"READ BINARY (odd INS) at {offset} refused ({answer.sw:04X})")
    if not answer.data:
        return b""
    try:
        element = tlv.parse(answer.data)
    except tlv.TLVError as exc:
        raise DataGroupError(f"READ BINARY (odd INS) answer malformed: {exc}") from None
    if element.tag != 0x53:
        raise DataGroupError(f"READ BINARY (odd INS) answered tag {element.tag:X}, expected 53")
    return element.value


def read_capabilities(channel: ApduChannel, atr: bytes) -> CardCapabilities:
    """Extended length when EF.ATR/INFO (read unprotected from the master file) or the ATR's historical bytes
    announce it; short APDUs otherwise. EF.ATR/INFO's DO'7F66' gives the sizes; without it the reader's own limit."""
    try:
        content = read_file(channel, EF_ATR_INFO)
    except (CardRemoved, ReaderUnavailable):
        raise
    except CardError:
        content = b""  # most chips have none
    found = from_atr_info(content) if content else None
    if found is not None:
        return found
    if from_historical_bytes(historical_bytes(atr)):
        return CardCapabilities.extended(EXTENDED_LC, READER_MAX_RESPONSE, "historical bytes")
    return SHORT_ONLY


def read_card_access(channel: ApduChannel) -> list[PaceInfo]:
    """EF.CardAccess from the master file, unprotected: the PACE protocols the chip offers; none on BAC-only chips."""
    try:
        content = read_file(channel, EF_CARD_ACCESS)
    except (CardRemoved, ReaderUnavailable):
        raise
    except CardError:
        return []  # not found, or refused: a chip without PACE
    try:
        return parse_card_access(content)
    except CardAccessError:
        return []  # unreadable: BAC, as for a chip without PACE; passive authentication still checks the data


def choose_access(channel: ApduChannel) -> AccessProtocol:
    """PACE when the chip offers a PACE we run, else BAC (ICAO 9303-11: PACE first, BAC only without it)."""
    infos = read_card_access(channel)
    info = choose(infos)
    if info is None:
        return BasicAccessControl()
    return PaceAccess(info, send_parameter_id=len(infos) > 1)


class EmrtdSession:
    """One read of one card. Create it per card presentation: it holds no state across cards."""

    def __init__(
        self,
        connection: CardConnection,
        access: AccessProtocol | None = None,
        trust_store: TrustStore | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> None:
        self.connection = connection
        self.progress = progress  # hears 0..1 as the read goes: stages, then the photo's bytes (most of the time)
        self.access = access  # None: chosen from the chip's EF.CardAccess
        self.trust_store = trust_store
        self.channel = PlainChannel(connection)
        self.length = LengthChoice()  # learnt from the chip at the start of each read; short after a refusal

    @property
    def capabilities(self) -> CardCapabilities:
        """The APDU length in use: as announced, or short once an extended APDU was refused in this session."""
        return self.length.capabilities

    def read(self, source: AccessSource) -> CardReadResult:
        """Raises only CardError subclasses: whatever a hostile or broken card sends, the kiosk agent keeps running."""
        try:
            return self._read(source)
        except CardError:
            raise
        except Exception as exc:  # whatever the card sent, the agent gets a CardError
            raise CardError(f"card read failed: {type(exc).__name__}") from exc

    def _read(self, source: AccessSource) -> CardReadResult:
        timings: dict[str, float] = {}
        started = mark = time.perf_counter()

        def lap(name: str) -> None:
            # Stages add up: file reads happen before and after chip authentication.
            nonlocal mark
            now = time.perf_counter()
            timings[name] = timings.get(name, 0.0) + (now - mark) * 1000
            mark = now

        caps = self.length = LengthChoice(read_capabilities(self.channel, self.connection.atr))
        access = self.access or choose_access(self.channel)

        def open_access() -> SecureChannel:
            if access.before_application:  # PACE runs in the master file; the application is selected under it
                secure = access.establish(self.channel, source)
                select_application(secure)
                return secure
            # Selecting again is harmless while the application is selected, and needed by chips that dropped it
            # when they ended a session.
            select_application(self.channel)
            return access.establish(self.channel, source)

        secure = ReopeningChannel(open_access)
        lap("access")
        self._tell(0.05)
        com = parse_com(read_file(secure, EF_COM, caps))
        # EF.SOD before the data groups: it says which groups exist and how they are hashed; a chip without one may
        # answer that in plain, which ends its session, and access is opened again for the data groups.
        try:
            sod: bytes | None = read_file(secure, EF_SOD, caps)
        except _FileNotFound:
            sod = None
        # Clone detection before the data groups the kiosk relies on: after Chip Authentication they are read under
        # the keys only the genuine chip can know.
        security = {n: self._optional_file(secure, n, caps) for n in (14, 15) if n in com.data_groups}
        lap("read")
        chip = authenticate_chip(secure, security.get(14), security.get(15), extended=caps.capabilities.extended_length)
        lap("chip_auth")
        self._tell(PHOTO_FROM - 0.05)
        dg1 = read_file(secure, DG_FILES[1], caps)
        self._tell(PHOTO_FROM)
        dg2 = read_file(secure, DG_FILES[2], caps, self._photo_bytes)
        lap("read")
        mrz = parse_dg1(dg1)
        photo = parse_dg2(dg2)
        lap("parse")
        hashed = {1: dg1, 2: dg2} | {n: content for n, content in security.items() if content is not None}
        pa = passive_authentication(sod, hashed, self.trust_store)
        lap("passive_auth")
        self._tell(1.0)
        timings["total"] = (time.perf_counter() - started) * 1000
        return CardReadResult.build(
            mrz,
            photo,
            pa,
            self.channel.apdu_count,
            timings,
            com.data_groups,
            access=access.name.lower(),
            chip_auth=chip,
        )

    def _tell(self, done: float) -> None:
        if self.progress is not None:
            try:
                self.progress(done)
            except Exception:  # a listener's fault must not fail the read
                log.debug("progress listener failed", exc_info=True)

    def _photo_bytes(self, read: int, total: int) -> None:
        self._tell(PHOTO_FROM + (PHOTO_TO - PHOTO_FROM) * read / total)

    @staticmethod
    def _optional_file(channel: ApduChannel, number: int, caps: LengthChoice) -> bytes | None:
        try:
            return read_file(channel, DG_FILES[number], caps)
        except _FileNotFound:
            return None  # listed in EF.COM but missing: chip authentication is then absent or fails
