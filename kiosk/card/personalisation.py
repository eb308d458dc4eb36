"""Personalise a virtual eMRTD: the LDS files (EF.COM, DG1, DG2, DG14, DG15, EF.SOD) from an MRZ, a face photo, a test
PKI and the chip's own keys."""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from kiosk.card.datagroups import DG_FILES, EF_COM, EF_SOD, build_com, build_dg1, build_dg2, image_format
from kiosk.card.mrz import MrzKey, parse_mrz
from kiosk.card.pki import TestPki
from kiosk.card.sod import build_sod


@dataclass
class EmrtdProfile:
    """What the virtual chip holds: its BAC key, its files by EF identifier, and the private keys that never leave a
    real chip (Chip Authentication, Active Authentication). A clone has the files but other keys."""

    key: MrzKey
    files: dict[int, bytes] = field(default_factory=dict)
    chip_key: ec.EllipticCurvePrivateKey | None = None
    aa_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None

    def __repr__(self) -> str:
        return f"EmrtdProfile(files={sorted(hex(f) for f in self.files)})"


def prepare_photo(photo: bytes) -> tuple[bytes, int, int]:
    """Keep JPEG / JPEG 2000 as they are (chips store them so); re-encode anything else as JPEG."""
    import cv2
    import numpy as np

    image = cv2.imdecode(np.frombuffer(photo, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("the photo is not an image OpenCV can read")
    height, width = image.shape[:2]
    if image_format(photo) is None:
        _, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
        photo = encoded.tobytes()
    return photo, width, height


def personalise(
    mrz: str,
    photo: bytes,
    pki: TestPki | None,
    *,
    dg2: bytes | None = None,
    validate: bool = True,
    chip_key: ec.EllipticCurvePrivateKey | None = None,
    aa_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None,
) -> EmrtdProfile:
    """Files for a chip holding this MRZ and photo, with an EF.SOD signed by the PKI's Document Signer (no EF.SOD when
    pki is None). `dg2` replaces the built DG2 before signing; validate=False allows deliberately broken MRZs.
    `chip_key` adds DG14 (Chip Authentication), `aa_key` DG15 (Active Authentication, ECDSA or RSA)."""
    from kiosk.card.chip_auth import build_dg14, build_dg15

    text = "".join(mrz.split())
    if validate:
        key = parse_mrz(text).key()
    else:  # take the BAC fields by position, check digits or not
        if len(text) == 88:
            key = MrzKey(text[44:53].rstrip("<"), text[57:63], text[65:71])
        elif len(text) == 72:
            key = MrzKey(text[36:45].rstrip("<"), text[49:55], text[57:63])
        else:
            key = MrzKey(text[5:14].rstrip("<"), text[30:36], text[38:44])
    if dg2 is None:
        image, width, height = prepare_photo(photo)
        dg2 = build_dg2(image, width, height)
    groups = {1: build_dg1(text), 2: dg2}
    ecdsa_aa = isinstance(aa_key, ec.EllipticCurvePrivateKey)
    if chip_key is not None or ecdsa_aa:  # RSA Active Authentication needs no DG14
        groups[14] = build_dg14(chip_key.public_key() if chip_key else None, aa_ecdsa=ecdsa_aa)
    if aa_key is not None:
        groups[15] = build_dg15(aa_key.public_key())
    files = {EF_COM: build_com(sorted(groups))}
    files.update({DG_FILES[n]: content for n, content in groups.items()})
    if pki is not None:
        files[EF_SOD] = build_sod(groups, pki.ds_key, pki.ds_cert)
    return EmrtdProfile(key, files, chip_key, aa_key)
