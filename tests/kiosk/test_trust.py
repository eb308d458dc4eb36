"""Trust from CSCA master lists and CRLs: master-list signers checked, revoked Document Signers refused, forged CRLs
and expired signers refused; `markaz kiosk card trust import|list`; reads through pcscd against the resulting store."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from cryptography.hazmat.primitives import serialization

from kiosk.card.emrtd import EmrtdSession
from kiosk.card.master_list import build_master_list
from kiosk.card.mrz import KeyedMrzSource
from kiosk.card.pki import create_crl, create_test_pki, issue_master_list_signer
from kiosk.card.trust_store import TrustStore, TrustStoreError

from .test_cli import RIGHT, card_cli, one_line

SOURCE = KeyedMrzSource("L898902C3", "740812", "340415")
NOW = dt.datetime.now(dt.UTC)


def read(reader, store):
    connection = reader.wait_for_card(10)
    try:
        return EmrtdSession(connection, trust_store=store).read(SOURCE)
    finally:
        connection.close()


@pytest.fixture(scope="module")
def master_list(pki):
    key, cert = issue_master_list_signer(pki)
    return build_master_list([pki.csca_cert, create_test_pki("XY", "other").csca_cert], key, cert)


def test_master_list_trusts_the_card(emrtd, reader, master_list, tmp_path):
    emrtd()
    (tmp_path / "utopia.ml").write_bytes(master_list)
    store = TrustStore.load(tmp_path)
    assert len(store.certificates) == 2
    assert read(reader, store).passive_auth.status == "valid"


def test_revoked_document_signer_is_invalid(emrtd, reader, pki, master_list, tmp_path):
    emrtd()
    (tmp_path / "utopia.ml").write_bytes(master_list)
    (tmp_path / "utopia.crl").write_bytes(create_crl(pki, [pki.ds_cert]).public_bytes(serialization.Encoding.DER))
    pa = read(reader, TrustStore.load(tmp_path)).passive_auth
    assert (pa.status, pa.reason) == ("invalid", "Document Signer certificate revoked")


def test_crl_of_other_certificates_leaves_the_card_valid(emrtd, reader, pki, tmp_path):
    emrtd()
    other_ds = create_test_pki("UT").ds_cert  # another serial
    store = TrustStore([pki.csca_cert])
    store.add_crl(create_crl(pki, [other_ds]))
    assert read(reader, store).passive_auth.status == "valid"


def test_forged_crl_is_refused(pki, tmp_path):
    forger = create_test_pki("UT")
    (tmp_path / "csca.pem").write_bytes(pki.csca_cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "bad.crl").write_bytes(
        create_crl(pki, [pki.ds_cert], signer=forger.csca_key).public_bytes(serialization.Encoding.DER)
    )
    with pytest.raises(TrustStoreError, match="not signed by a CSCA"):
        TrustStore.load(tmp_path)


def test_expired_master_list_signer_is_refused(pki, tmp_path):
    key, cert = issue_master_list_signer(pki, not_before=NOW - dt.timedelta(days=800), not_after=NOW - dt.timedelta(1))
    (tmp_path / "old.ml").write_bytes(build_master_list([pki.csca_cert], key, cert))
    with pytest.raises(TrustStoreError, match="master list signer certificate expired"):
        TrustStore.load(tmp_path)


def test_master_list_signed_by_a_stranger_is_refused(pki, tmp_path):
    stranger = create_test_pki("UT", "stranger")
    key, cert = issue_master_list_signer(stranger)  # issued by a CSCA neither in the list nor trusted
    (tmp_path / "x.ml").write_bytes(build_master_list([pki.csca_cert], key, cert))
    with pytest.raises(TrustStoreError, match="not issued by a CSCA"):
        TrustStore.load(tmp_path)


def test_tampered_master_list_is_refused(master_list, tmp_path):
    tampered = bytearray(master_list)
    tampered[-10] ^= 0x01
    (tmp_path / "t.ml").write_bytes(bytes(tampered))
    with pytest.raises(TrustStoreError, match="master list"):
        TrustStore.load(tmp_path)


def test_cli_trust_import_list_and_read(emrtd, pki, master_list, tmp_path):
    emrtd()
    ml, crl = tmp_path / "utopia.ml", tmp_path / "utopia.crl"
    ml.write_bytes(master_list)
    crl.write_bytes(create_crl(pki, [pki.ds_cert]).public_bytes(serialization.Encoding.PEM))
    store = tmp_path / "trust"
    imported = card_cli("trust", "import", str(ml), str(crl), "--store", str(store))
    assert imported.returncode == 0, imported.stderr
    assert "2 CSCA certificate(s)" in imported.stdout and "1 revoked" in imported.stdout
    listed = card_cli("trust", "list", "--store", str(store))
    assert listed.returncode == 0 and listed.stdout.count("csca ") == 2 and listed.stdout.count("crl ") == 1
    result = card_cli("read", *RIGHT, "--csca", str(store), "--json", "--timeout", "10")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["passive_auth"] == {
        "status": "invalid",
        "reason": "Document Signer certificate revoked",
        "crl": "fresh",
    }


def test_cli_trust_import_refuses_an_expired_signer_and_writes_nothing(pki, tmp_path):
    key, cert = issue_master_list_signer(pki, not_before=NOW - dt.timedelta(days=800), not_after=NOW - dt.timedelta(1))
    ml = tmp_path / "old.ml"
    ml.write_bytes(build_master_list([pki.csca_cert], key, cert))
    store = tmp_path / "trust"
    result = card_cli("trust", "import", str(ml), "--store", str(store))
    assert result.returncode == 1 and "expired" in one_line(result.stderr)
    assert not store.exists() or not any(store.iterdir())
