"""Clone detection through pcscd + vpcd: Chip Authentication (DG14) and Active Authentication (DG15) against genuine and
cloned virtual chips, over BAC and PACE."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from kiosk.card.chip_auth import ID_CA_ECDH, build_dg14, parse_dg14
from kiosk.card.emrtd import EmrtdSession
from kiosk.card.emulator import EmrtdApplet
from kiosk.card.mrz import KeyedMrzSource
from kiosk.card.personalisation import personalise

RIGHT = KeyedMrzSource("L898902C3", "740812", "340415")


def read(reader, trust_store=None):
    connection = reader.wait_for_card(10)
    try:
        return EmrtdSession(connection, trust_store=trust_store).read(RIGHT)
    finally:
        connection.close()


@pytest.fixture
def chip(insert, pki, face, td3):
    def _make(access="bac", clone=False, chip_key=True, aa_key=False, curve=ec.SECP256R1()):
        profile = personalise(
            td3,
            face,
            pki,
            chip_key=ec.generate_private_key(curve) if chip_key else None,
            aa_key=ec.generate_private_key(curve) if aa_key else None,
        )
        if clone:  # the data groups and EF.SOD copied byte for byte onto a chip with keys of its own
            profile = dataclasses.replace(
                profile,
                chip_key=ec.generate_private_key(curve) if chip_key else None,
                aa_key=ec.generate_private_key(curve) if aa_key else None,
            )
        applet = EmrtdApplet(profile, access=access)
        insert(applet)
        return applet

    return _make


@pytest.mark.parametrize("access", ["bac", "pace"])
def test_genuine_chip_passes_chip_authentication(chip, reader, trust_store, face, access):
    chip(access)
    result = read(reader, trust_store)
    assert (result.chip_auth.status, result.chip_auth.method) == ("valid", "chip_authentication")
    assert result.passive_auth.status == "valid" and result.data_groups == [1, 2, 14]
    assert result.photo.data == face  # read under the Chip Authentication keys
    assert not result.clone_suspected
    assert result.to_json()["chip_auth"] == {"status": "valid", "reason": None, "method": "chip_authentication"}


@pytest.mark.parametrize("access", ["bac", "pace"])
def test_cloned_chip_fails_chip_authentication_but_hashes_pass(chip, reader, trust_store, access):
    applet = chip(access, clone=True)
    result = read(reader, trust_store)
    assert result.chip_auth.status == "invalid" and "private key" in result.chip_auth.reason
    assert result.passive_auth.status == "valid"  # the copied data groups hash fine: a clone, for the kiosk flow
    assert result.surname == "ERIKSSON"  # the rest was read under a fresh session
    assert result.clone_suspected
    opened = applet.pace.attempts if access == "pace" else applet.external_authenticate_count
    assert opened == 2


def test_brainpool_chip_key(chip, reader):
    chip("pace", curve=ec.BrainpoolP256R1())
    assert read(reader).chip_auth.status == "valid"


def test_active_authentication_when_dg14_has_no_chip_authentication(chip, reader, trust_store):
    chip("bac", chip_key=False, aa_key=True)
    result = read(reader, trust_store)
    assert (result.chip_auth.status, result.chip_auth.method) == ("valid", "active_authentication")
    assert result.data_groups == [1, 2, 14, 15] and result.passive_auth.status == "valid"


def test_cloned_chip_fails_active_authentication(chip, reader, trust_store):
    chip("pace", chip_key=False, aa_key=True, clone=True)
    result = read(reader, trust_store)
    assert result.chip_auth.status == "invalid" and "does not verify" in result.chip_auth.reason
    assert result.passive_auth.status == "valid"


@pytest.mark.parametrize("clone", [False, True])
def test_rsa_active_authentication_iso9796_2(insert, pki, face, td3, reader, trust_store, clone):
    from cryptography.hazmat.primitives.asymmetric import rsa

    profile = personalise(td3, face, pki, aa_key=rsa.generate_private_key(65537, 2048))
    if clone:
        profile = dataclasses.replace(profile, aa_key=rsa.generate_private_key(65537, 2048))
    insert(EmrtdApplet(profile, access="pace"))
    result = read(reader, trust_store)
    assert result.data_groups == [1, 2, 15] and result.passive_auth.status == "valid"
    assert result.chip_auth.method == "active_authentication"
    assert result.chip_auth.status == ("invalid" if clone else "valid")


def test_chip_without_dg14_or_dg15_is_absent(chip, reader):
    chip("bac", chip_key=False)
    assert read(reader).chip_auth.status == "absent"


def test_dg14_with_a_replaced_key_fails_passive_authentication(insert, pki, face, td3, reader, trust_store):
    """A forger who swaps DG14 for his own chip's key breaks the SOD hash: CA passes, passive authentication does not."""
    own = ec.generate_private_key(ec.SECP256R1())
    profile = personalise(td3, face, pki, chip_key=ec.generate_private_key(ec.SECP256R1()))
    profile.files[0x010E] = build_dg14(own.public_key())
    insert(EmrtdApplet(dataclasses.replace(profile, chip_key=own)))
    result = read(reader, trust_store)
    assert result.chip_auth.status == "valid"
    assert (result.passive_auth.status, result.passive_auth.reason) == ("invalid", "DG14 hash mismatch")
    assert not result.clone_suspected  # a forgery, refused by passive authentication instead


def test_dg14_round_trip():
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    parsed = parse_dg14(build_dg14(key, aa_ecdsa=True))
    assert [i.protocol for i in parsed.chip_authentication] == [ID_CA_ECDH + ".2"]
    assert parsed.chip_authentication[0].public_key.public_numbers() == key.public_numbers()
    assert parsed.aa_signature_algorithm == "1.2.840.10045.4.3.2"
