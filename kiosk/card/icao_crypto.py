"""ICAO 9303 Part 11 primitives: key derivation, 3DES-CBC and the retail MAC (BAC, PACE-3DES), AES-CBC and CMAC (PACE),
ISO 9797-1 padding."""

from __future__ import annotations

import hashlib
import hmac
import warnings

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # 3DES is deprecated in general, and still what BAC uses
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES

ENC_COUNTER = 1
MAC_COUNTER = 2
PASSWORD_COUNTER = 3  # K_pi, the PACE password key
_ZERO_IV = bytes(8)


def adjust_parity(key: bytes) -> bytes:
    """Set each byte's lowest bit so the byte has odd parity, as DES keys expect."""
    out = bytearray()
    for byte in key:
        high = byte & 0xFE
        out.append(high | (bin(high).count("1") + 1) % 2)
    return bytes(out)


def derive_key(seed: bytes, counter: int) -> bytes:
    """KDF of ICAO 9303-11 9.7.1 for 3DES: SHA-1(seed || counter), first 16 bytes, parity adjusted."""
    digest = hashlib.sha1(seed + counter.to_bytes(4, "big")).digest()
    return adjust_parity(digest[:16])


def key_seed(mrz_information: str) -> bytes:
    return hashlib.sha1(mrz_information.encode("ascii")).digest()[:16]


def _triple(key16: bytes) -> TripleDES:
    # Two-key 3DES written out as K1||K2||K1: avoids the library's warning about 16-byte keys.
    return TripleDES(key16 + key16[:8])


class TripleDesKey:
    """One two-key 3DES key with its cipher objects built once: secure messaging encrypts and MACs every APDU, and
    building the cipher objects dominated the cost. Lives as long as the session that owns it."""

    def __init__(self, key16: bytes) -> None:
        if len(key16) != 16:
            raise ValueError("two-key 3DES needs 16 bytes")
        self._cbc = Cipher(_triple(key16), modes.CBC(_ZERO_IV))
        self._ecb = Cipher(_triple(key16), modes.ECB())
        # K1||K1||K1 is single DES with K1: the chaining part of the retail MAC.
        self._des1_cbc = Cipher(TripleDES(key16[:8] * 3), modes.CBC(_ZERO_IV))

    def encrypt(self, data: bytes) -> bytes:
        enc = self._cbc.encryptor()
        return enc.update(data) + enc.finalize()

    def decrypt(self, data: bytes) -> bytes:
        dec = self._cbc.decryptor()
        return dec.update(data) + dec.finalize()

    def retail_mac(self, data: bytes) -> bytes:
        """ISO 9797-1 MAC algorithm 3 with DES (the 'retail MAC'); data must already be padded."""
        if len(data) % 8 or not data:
            raise ValueError("MAC input must be a non-empty multiple of 8 bytes")
        chain = _ZERO_IV
        if len(data) > 8:  # single DES CBC with K1 over all but the last block...
            enc = self._des1_cbc.encryptor()
            chain = (enc.update(data[:-8]) + enc.finalize())[-8:]
        last = (int.from_bytes(chain, "big") ^ int.from_bytes(data[-8:], "big")).to_bytes(8, "big")
        # ...then the last block through E(K1) D(K2) E(K1), which is two-key 3DES in ECB.
        enc = self._ecb.encryptor()
        return enc.update(last) + enc.finalize()


def encrypt(key16: bytes, data: bytes) -> bytes:
    """3DES-CBC with a zero IV, as BAC and its secure messaging use."""
    return TripleDesKey(key16).encrypt(data)


def decrypt(key16: bytes, data: bytes) -> bytes:
    return TripleDesKey(key16).decrypt(data)


def pad(data: bytes, block: int = 8) -> bytes:
    """ISO 9797-1 padding method 2: 0x80 then zeros to a multiple of the block size (8 for 3DES, 16 for AES)."""
    data = data + b"\x80"
    return data + bytes(-len(data) % block)


def unpad(data: bytes, block: int = 8) -> bytes:
    stripped = data.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80 or len(data) - len(stripped) > block - 1:
        raise ValueError("bad ISO 9797-1 padding")
    return stripped[:-1]


def derive_aes_key(seed: bytes, counter: int, size: int) -> bytes:
    """KDF of ICAO 9303-11 9.7.1 for AES: SHA-1 for 128-bit keys, SHA-256 for 192 and 256 bits, truncated."""
    data = seed + counter.to_bytes(4, "big")
    digest = hashlib.sha1(data).digest() if size == 16 else hashlib.sha256(data).digest()
    return digest[:size]


class AesKey:
    """One AES key with its cipher objects built once, as TripleDesKey (PACE secure messaging)."""

    block = 16

    def __init__(self, key: bytes) -> None:
        if len(key) not in (16, 24, 32):
            raise ValueError("AES needs a 16, 24 or 32-byte key")
        self._key = key
        self._ecb = Cipher(algorithms.AES(key), modes.ECB())

    def encrypt_block(self, block: bytes) -> bytes:
        enc = self._ecb.encryptor()
        return enc.update(block) + enc.finalize()

    def encrypt(self, data: bytes, iv: bytes = bytes(16)) -> bytes:
        enc = Cipher(algorithms.AES(self._key), modes.CBC(iv)).encryptor()
        return enc.update(data) + enc.finalize()

    def decrypt(self, data: bytes, iv: bytes = bytes(16)) -> bytes:
        dec = Cipher(algorithms.AES(self._key), modes.CBC(iv)).decryptor()
        return dec.update(data) + dec.finalize()

    def cmac(self, data: bytes) -> bytes:
        """AES-CMAC (NIST SP 800-38B), truncated to the 8 bytes ICAO 9303 uses."""
        mac = cmac.CMAC(algorithms.AES(self._key))
        mac.update(data)
        return mac.finalize()[:8]


def retail_mac(key16: bytes, data: bytes) -> bytes:
    return TripleDesKey(key16).retail_mac(data)


def mac_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)
