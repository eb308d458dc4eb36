"""CRL freshness in passive authentication: a CSCA CRL past its nextUpdate makes the Document Signer's revocation
unknown; the trust store's policy refuses such a read (default) or flags it, and the result says which. Real CRLs from
`cryptography`, signed by the test CSCA; the SOD is the virtual chip's own, read through pcscd where it matters."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from cryptography.hazmat.primitives import serialization

from kiosk.card.datagroups import DG_FILES, EF_SOD
from kiosk.card.passive_auth import passive_authentication
from kiosk.card.personalisation import personalise
from kiosk.card.pki import CSCA_CERT, create_crl
from kiosk.card.trust_store import CrlFreshness, StaleCrlPolicy, TrustStore

from .test_cli import RIGHT, card_cli
from .test_trust import read

NOW = dt.datetime.now(dt.UTC)
STALE = dict(last_update=NOW - dt.timedelta(days=120), next_update=NOW - dt.timedelta(days=30))


@pytest.fixture(scope="module")
def chip_files(pki, face, td3):
    files = personalise(td3, face, pki).files
    return files[EF_SOD], {1: files[DG_FILES[1]], 2: files[DG_FILES[2]]}


def check(chip_files, store, now=NOW):
    sod, groups = chip_files
    return passive_authentication(sod, groups, store, now)


def store_with(pki, *crls, policy=StaleCrlPolicy.REFUSE):
    store = TrustStore([pki.csca_cert], stale_crl=policy)
    for crl in crls:
        store.add_crl(crl)
    return store


def test_stale_crl_refuses_by_default_and_says_since_when(pki, chip_files):
    pa = check(chip_files, store_with(pki, create_crl(pki, [], **STALE)))
    since = STALE["next_update"].strftime("%Y-%m-%d")
    assert (pa.status, pa.crl) == ("invalid", CrlFreshness.STALE)
    assert pa.reason == f"CSCA CRL out of date since {since}: the Document Signer's revocation is unknown"


def test_stale_crl_with_flag_policy_is_valid_and_flagged(pki, chip_files):
    pa = check(chip_files, store_with(pki, create_crl(pki, [], **STALE), policy=StaleCrlPolicy.FLAG))
    assert (pa.status, pa.crl) == ("valid", CrlFreshness.STALE)
    assert pa.reason is not None and "out of date" in pa.reason


def test_fresh_crl_is_valid_and_fresh(pki, chip_files):
    pa = check(chip_files, store_with(pki, create_crl(pki, [])))
    assert (pa.status, pa.reason, pa.crl) == ("valid", None, CrlFreshness.FRESH)


def test_no_crl_is_valid_and_reported_missing(pki, chip_files):
    pa = check(chip_files, store_with(pki))
    assert (pa.status, pa.reason, pa.crl) == ("valid", None, CrlFreshness.MISSING)


def test_the_same_crl_goes_stale_when_time_passes_its_next_update(pki, chip_files):
    crl = create_crl(pki, [])  # valid 90 days from now
    store = store_with(pki, crl)
    assert check(chip_files, store).status == "valid"
    later = check(chip_files, store, now=NOW + dt.timedelta(days=91))
    assert (later.status, later.crl) == ("invalid", CrlFreshness.STALE)


def test_a_stale_crl_that_revokes_the_signer_still_revokes_it_even_when_only_flagged(pki, chip_files):
    pa = check(chip_files, store_with(pki, create_crl(pki, [pki.ds_cert], **STALE), policy=StaleCrlPolicy.FLAG))
    assert (pa.status, pa.reason, pa.crl) == ("invalid", "Document Signer certificate revoked", CrlFreshness.STALE)


def test_a_newer_crl_beside_the_stale_one_decides(pki, chip_files):
    pa = check(chip_files, store_with(pki, create_crl(pki, [], **STALE), create_crl(pki, [])))
    assert (pa.status, pa.crl) == ("valid", CrlFreshness.FRESH)


def test_no_trust_anchor_says_nothing_about_crls(chip_files):
    pa = check(chip_files, None)
    assert (pa.status, pa.crl) == ("no_trust_anchor", None)


def test_stale_crl_loaded_from_a_folder_through_pcscd(emrtd, reader, pki, pki_dir, tmp_path):
    emrtd()
    (tmp_path / "csca.pem").write_bytes((pki_dir / CSCA_CERT).read_bytes())
    (tmp_path / "utopia.crl").write_bytes(create_crl(pki, [], **STALE).public_bytes(serialization.Encoding.DER))
    refused = read(reader, TrustStore.load(tmp_path)).passive_auth
    assert (refused.status, refused.crl) == ("invalid", CrlFreshness.STALE)
    flagged = read(reader, TrustStore.load(tmp_path, stale_crl=StaleCrlPolicy.FLAG)).passive_auth
    assert (flagged.status, flagged.crl) == ("valid", CrlFreshness.STALE)


def test_cli_stale_crl_option(emrtd, pki, pki_dir, tmp_path):
    emrtd()
    (tmp_path / "csca.pem").write_bytes((pki_dir / CSCA_CERT).read_bytes())
    (tmp_path / "utopia.crl").write_bytes(create_crl(pki, [], **STALE).public_bytes(serialization.Encoding.PEM))
    base = ["read", *RIGHT, "--csca", str(tmp_path), "--json", "--timeout", "10"]
    refused = card_cli(*base)
    assert refused.returncode == 0, refused.stderr
    assert json.loads(refused.stdout)["passive_auth"]["status"] == "invalid"
    flagged = card_cli(*base, "--stale-crl", "flag")
    pa = json.loads(flagged.stdout)["passive_auth"]
    assert (pa["status"], pa["crl"]) == ("valid", "stale") and "out of date" in pa["reason"]
    wrong = card_cli(*base, "--stale-crl", "ignore")
    assert wrong.returncode == 1 and "--stale-crl must be one of refuse, flag" in wrong.stderr
