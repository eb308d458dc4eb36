"""PACE through pcscd + vpcd against the virtual chip: PACE-only, BAC-only and both; MRZ and CAN passwords; a wrong CAN;
every cipher and both curves the issue names; BAC fallback; the CLI's --can and JSON `access`."""

from __future__ import annotations

import json

import pytest

from kiosk.card import pace
from kiosk.card.card_access import ID_PACE, PaceInfo
from kiosk.card.emrtd import EmrtdSession
from kiosk.card.emulator import EmrtdApplet
from kiosk.card.errors import AccessDenied
from kiosk.card.mrz import KeyedMrzSource
from kiosk.card.passwords import CanSource
from kiosk.card.personalisation import personalise

from .test_cli import card_cli, one_line

RIGHT = KeyedMrzSource("L898902C3", "740812", "340415")
CAN = "123456"
BRAINPOOL_AES128 = PaceInfo(pace.ECDH_GM + ".2", 2, pace.BRAINPOOL_P256R1)


def read(reader, source=RIGHT, trust_store=None):
    connection = reader.wait_for_card(10)
    try:
        return EmrtdSession(connection, trust_store=trust_store).read(source)
    finally:
        connection.close()


@pytest.fixture
def chip(insert, pki, face, td3):
    """chip(access=..., pace_infos=..., **applet kwargs) inserts a virtual eMRTD with a CAN and returns its applet."""

    def _make(access="pace", mrz=None, pki_=pki, **kwargs):
        applet = EmrtdApplet(personalise(mrz or td3, face, pki_), access=access, can=CAN, **kwargs)
        insert(applet)
        return applet

    return _make


def test_pace_only_chip_with_mrz(chip, reader, trust_store, face):
    applet = chip("pace")
    result = read(reader, trust_store=trust_store)
    assert (result.access, result.to_json()["access"]) == ("pace", "pace")
    assert result.passive_auth.status == "valid" and result.photo.data == face
    assert (applet.pace.attempts, applet.pace.failures, applet.external_authenticate_count) == (1, 0, 0)


def test_pace_with_the_can(chip, reader, trust_store):
    chip("pace")
    result = read(reader, CanSource(CAN), trust_store)
    assert (result.access, result.document_number, result.passive_auth.status) == ("pace", "L898902C3", "valid")


def test_chip_offering_both_is_opened_with_pace(chip, reader):
    applet = chip("both")
    assert read(reader).access == "pace"
    assert applet.external_authenticate_count == 0


def test_bac_only_chip_falls_back_to_bac(chip, reader):
    applet = chip("bac")
    assert read(reader).access == "bac"
    assert applet.external_authenticate_count == 1


def test_can_on_a_bac_only_chip_is_refused_with_a_clear_reason(chip, reader):
    chip("bac")
    with pytest.raises(AccessDenied, match="offers no PACE") as refused:
        read(reader, CanSource(CAN))
    assert "document number" in refused.value.visitor_message


def test_unsupported_pace_falls_back_to_bac(chip, reader):
    # PACE with DH (not ECDH) Generic Mapping and ECDH Integrated Mapping: offered, but not what we run.
    offered = [PaceInfo(ID_PACE + ".1.2", 2, 0), PaceInfo(ID_PACE + ".4.2", 2, pace.BRAINPOOL_P256R1)]
    applet = chip("both", pace_infos=offered)
    assert read(reader).access == "bac"
    assert applet.pace.attempts == 0


def test_wrong_can_is_refused_once_without_locking_the_visitor_out(chip, reader):
    applet = chip("pace")
    with pytest.raises(AccessDenied, match="CAN does not match") as refused:
        read(reader, CanSource("654321"))
    assert refused.value.exit_code == 2 and "six digits" in refused.value.visitor_message
    assert (applet.pace.attempts, applet.pace.failures) == (1, 1)  # one attempt per presentation, counted by the chip
    assert read(reader, CanSource(CAN)).access == "pace"
    assert (applet.pace.attempts, applet.pace.failures) == (2, 1)


def test_wrong_mrz_on_a_pace_chip_is_access_denied(chip, reader):
    chip("pace")
    with pytest.raises(AccessDenied, match="MRZ does not match"):
        read(reader, KeyedMrzSource("L898902C4", "740812", "340415"))


@pytest.mark.parametrize("cipher", ["3des", "aes128", "aes192", "aes256"])
@pytest.mark.parametrize("curve", ["brainpoolP256r1", "P-256"])
def test_every_cipher_on_both_curves(chip, reader, trust_store, cipher, curve):
    info = PaceInfo(pace.PACE_CIPHERS[cipher], 2, pace.PACE_CURVE_NAMES[curve])
    chip("pace", pace_infos=[info])
    result = read(reader, CanSource(CAN), trust_store)
    assert (result.access, result.passive_auth.status) == ("pace", "valid")


def test_several_offers_send_the_parameter_id(chip, reader):
    offered = [PaceInfo(pace.PACE_CIPHERS["aes256"], 2, pace.NIST_P256), BRAINPOOL_AES128]
    applet = chip("pace", pace_infos=offered)
    assert read(reader).access == "pace"
    assert applet.pace.attempts == 1


def test_pace_reopened_after_a_plain_error(insert, reader, face, td3):
    applet = EmrtdApplet(personalise(td3, face, None), access="pace", plain_errors=True)
    insert(applet)
    result = read(reader)
    assert (result.access, result.passive_auth.status) == ("pace", "absent")
    assert applet.pace.attempts == 2


# -- the CLI ---------------------------------------------------------------------------------------------------------
def test_cli_read_with_can_prints_access(chip, pki_dir):
    chip("pace")
    result = card_cli("read", "--can", CAN, "--csca", str(pki_dir), "--json", "--timeout", "10")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["access"], data["passive_auth"]["status"], data["surname"]) == ("pace", "valid", "ERIKSSON")


def test_cli_wrong_can_exits_2(chip):
    chip("pace")
    result = card_cli("read", "--can", "000000", "--json", "--timeout", "10")
    assert result.returncode == 2 and result.stdout == ""
    assert "PACE refused" in one_line(result.stderr)


@pytest.mark.parametrize(
    "args,message",
    [
        ([], "give --doc-number"),
        (["--can", "12345"], "6 digits"),
        (["--can", CAN, "--doc-number", "L898902C3"], "not both"),
        (["--doc-number", "L898902C3", "--birth", "740812"], "give --doc-number"),
    ],
)
def test_cli_bad_access_input(args, message):
    result = card_cli("read", *args, "--timeout", "1")
    assert result.returncode == 1 and message in one_line(result.stderr)


def test_card_access_round_trip_and_garbage():
    from kiosk.card.card_access import CardAccessError, build_card_access, parse_card_access

    infos = [PaceInfo(pace.PACE_CIPHERS["aes256"], 2, pace.NIST_P256), PaceInfo(pace.ECDH_GM + ".2", 2, None)]
    parsed = parse_card_access(build_card_access(infos))
    assert sorted(parsed, key=repr) == sorted(infos, key=repr)  # DER sorts a SET OF
    assert pace.choose(parsed) == infos[0] and pace.choose([infos[1]]) is None  # no parameter ID: not runnable
    with pytest.raises(CardAccessError):
        parse_card_access(b"\x31\x03\x02\x01")
