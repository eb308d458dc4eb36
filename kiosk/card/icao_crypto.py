"""ICAO 9303 Part 11 primitives for BAC: key derivation, 3DES-CBC, the retail MAC and ISO 9797-1 padding."""

from __future__ import annotations

import hashlib
import hmac
import warnings

from cryptography.hazmat.primitives.ciphers import Cipher, modes

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # 3DES is deprecated in general, and still what BAC uses
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES

ENC_COUNTER = 1
MAC_COUNTER = 2
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


def encrypt(key16: bytes, data: bytes, iv: bytes = _ZERO_IV) -> bytes:
    enc = Cipher(_triple(key16), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def decrypt(key16: bytes, data: bytes, iv: bytes = _ZERO_IV) -> bytes:
    dec = Cipher(_triple(key16), modes.CBC(iv)).decryptor()
    return dec.update(data) + dec.finalize()


def pad(data: bytes) -> bytes:
    """ISO 9797-1 padding method 2: 0x80 then zeros to a multiple of 8."""
    data = data + b"\x80"
    return data + bytes(-len(data) % 8)


def unpad(data: bytes) -> bytes:
    stripped = data.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80 or len(data) - len(stripped) > 7:
        raise ValueError("bad ISO 9797-1 padding")
    return stripped[:-1]


def retail_mac(key16: bytes, data: bytes) -> bytes:
    """ISO 9797-1 MAC algorithm 3 with DES (the 'retail MAC'); data must already be padded."""
    if len(data) % 8 or not data:
        raise ValueError("MAC input must be a non-empty multiple of 8 bytes")
    k1 = key16[:8]
    # Single DES CBC with K1 over all but the last block (K1||K1||K1 is single DES)...
    chain = _ZERO_IV
    if len(data) > 8:
        enc = Cipher(TripleDES(k1 * 3), modes.CBC(_ZERO_IV)).encryptor()
        chain = (enc.update(data[:-8]) + enc.finalize())[-8:]
    last = bytes(a ^ b for a, b in zip(chain, data[-8:]))
    # ...then the last block through E(K1) D(K2) E(K1), which is two-key 3DES in ECB.
    enc = Cipher(_triple(key16), modes.ECB()).encryptor()
    return enc.update(last) + enc.finalize()


def mac_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)
