"""`markaz kiosk card ...`: read an ePassport/eID chip, or run the virtual card."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Smart-card reader tools (ICAO 9303 eMRTD over PC/SC).", no_args_is_help=True)


trust_app = typer.Typer(help="The CSCA trust store: certificates, CSCA master lists, CRLs.", no_args_is_help=True)
app.add_typer(trust_app, name="trust")


def _fail(code: int, reason: str) -> None:
    typer.echo(f"error: {reason}", err=True)
    raise typer.Exit(code)


@app.command()
def read(
    doc_number: Annotated[
        str | None, typer.Option("--doc-number", help="Document number as printed in the MRZ.")
    ] = None,
    birth: Annotated[str | None, typer.Option("--birth", help="Date of birth, YYMMDD ('<' for unknown parts).")] = None,
    expiry: Annotated[str | None, typer.Option("--expiry", help="Date of expiry, YYMMDD.")] = None,
    can: Annotated[
        str | None, typer.Option("--can", help="Card access number (6 digits on an ID card's front), for PACE.")
    ] = None,
    reader: Annotated[str | None, typer.Option(help="Reader name pattern (regex, case-insensitive).")] = None,
    csca: Annotated[Path | None, typer.Option(help="CSCA certificate file or folder (trust store).")] = None,
    stale_crl: Annotated[
        str,
        typer.Option(
            "--stale-crl",
            help="A CSCA CRL past its nextUpdate: 'refuse' (passive auth invalid) or 'flag' (valid, noted).",
        ),
    ] = "refuse",
    timeout: Annotated[float, typer.Option(help="Seconds to wait for a card.")] = 30.0,
    photo_out: Annotated[Path | None, typer.Option(help="Technicians only: write the chip photo here.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Wait for a card, open it with PACE (MRZ details or --can) or, on chips without PACE, BAC; read EF.COM, EF.SOD,
    DG1 and DG2, and check passive authentication.

    Exit status: 0 read, 2 access refused (PACE/BAC), 3 no card before the time-out, 4 unsupported card, 1 other
    failure.
    """
    from kiosk.card.emrtd import EmrtdSession
    from kiosk.card.errors import CardError
    from kiosk.card.mrz import KeyedMrzSource, MrzError
    from kiosk.card.passwords import AccessSource, CanSource
    from kiosk.card.reader import PcscReader
    from kiosk.card.trust_store import StaleCrlPolicy, TrustStore, TrustStoreError

    keyed = (doc_number, birth, expiry)
    try:
        source: AccessSource
        if can is not None:
            if any(keyed):
                raise MrzError("give either --can or --doc-number, --birth and --expiry, not both")
            source = CanSource(can)
        elif doc_number and birth and expiry:
            source = KeyedMrzSource(doc_number, birth, expiry)
            source.mrz_key()
        else:
            raise MrzError("give --doc-number, --birth and --expiry (from the MRZ), or --can")
        try:
            policy = StaleCrlPolicy(stale_crl)
        except ValueError:
            raise TrustStoreError(f"--stale-crl must be one of {', '.join(StaleCrlPolicy)}") from None
        store = TrustStore.load(csca, stale_crl=policy) if csca else None
    except (MrzError, TrustStoreError, OSError) as exc:
        _fail(1, str(exc))
    pcsc = PcscReader(reader)
    try:
        connection = pcsc.wait_for_card(timeout)
        try:
            result = EmrtdSession(connection, trust_store=store).read(source)
        finally:
            connection.close()
    except CardError as exc:
        _fail(exc.exit_code, str(exc))
    except Exception as exc:  # the contract is one line on stderr and exit 1, never a traceback
        _fail(1, f"unexpected {type(exc).__name__}: {exc}")
    finally:
        pcsc.close()
    if photo_out is not None:
        photo_out.write_bytes(result.photo.data)
    data = result.to_json()
    if json_output:
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    pa, chip = data["passive_auth"], data["chip_auth"]
    lines = [
        f"document      {data['document_type']} {data['issuing_state']} {data['document_number']}",
        f"name          {data['surname']}, {data['given_names']}",
        f"nationality   {data['nationality']}   sex {data['sex']}",
        f"born          {data['birth_date']}",
        f"expires       {data['expiry_date']}{'  (EXPIRED)' if data['expired'] else ''}",
        f"photo         {data['photo_format']} {result.photo.width}x{result.photo.height}",
        f"passive auth  {pa['status']}{' - ' + pa['reason'] if pa['reason'] else ''}",
        f"csca crl      {pa['crl'] or '-'}",
        f"access        {data['access'].upper()}",
        f"chip auth     {chip['status']}{' - ' + chip['reason'] if chip['reason'] else ''}",
        f"apdus         {data['apdus']} in {data['timings_ms'].get('total', 0):.0f} ms",
    ]
    typer.echo("\n".join(lines))


@app.command()
def readers(
    reader: Annotated[str | None, typer.Option("--reader", help="Reader name pattern.")] = None,
) -> None:
    """List the PC/SC readers pcscd offers (matching the pattern)."""
    from kiosk.card.reader import PcscReader

    pcsc = PcscReader(reader)
    try:
        names = pcsc.readers()
    finally:
        pcsc.close()
    if not names:
        _fail(1, "no reader found (is pcscd running?)")
    typer.echo("\n".join(names))


@app.command()
def watch(
    reader: Annotated[str | None, typer.Option(help="Reader name pattern.")] = None,
    seconds: Annotated[float, typer.Option(help="Stop after this long (0 = until Ctrl-C).")] = 0.0,
) -> None:
    """Print card insertion and removal events as they happen (a technician's reader check)."""
    from kiosk.card.reader import PcscReader

    stop = threading.Event()
    if seconds > 0:
        threading.Timer(seconds, stop.set).start()
    pcsc = PcscReader(reader)
    try:
        for event in pcsc.events(stop):
            typer.echo(f"{event.kind} {event.reader} {event.atr.hex().upper()}".rstrip())
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        pcsc.close()


@app.command()
def emulate(
    mrz: Annotated[
        str, typer.Option("--mrz", help="Full MRZ, lines concatenated (90 characters TD1, 72 TD2, 88 TD3).")
    ],
    photo: Annotated[Path, typer.Option("--photo", help="Face photo (JPEG, JPEG 2000, or any image OpenCV reads).")],
    pki: Annotated[
        Path | None, typer.Option(help="Folder with the test CSCA and Document Signer (created when missing).")
    ] = None,
    port: Annotated[int, typer.Option("--port", help="vpcd port.")] = 0x8C7B,
    host: Annotated[str, typer.Option("--host", help="vpcd host.")] = "127.0.0.1",
    not_emrtd: Annotated[bool, typer.Option("--not-emrtd", help="Emulate a card that is not an eMRTD.")] = False,
    plain_errors: Annotated[
        bool, typer.Option("--plain-errors", help="Answer errors under secure messaging in plain, ending the session.")
    ] = False,
    no_sod: Annotated[bool, typer.Option("--no-sod", help="Leave EF.SOD out (passive authentication absent).")] = False,
    access: Annotated[
        str, typer.Option("--access", help="Access protocols the chip offers: bac, pace or both.")
    ] = "bac",
    can: Annotated[
        str | None, typer.Option("--can", help="The chip's card access number (6 digits), for PACE.")
    ] = None,
    pace_cipher: Annotated[
        str, typer.Option("--pace-cipher", help="PACE cipher: aes128, aes192, aes256, 3des.")
    ] = "aes128",
    chip_auth: Annotated[
        str, typer.Option("--chip-auth", help="Clone detection the chip offers: ca (DG14), aa (DG15) or none.")
    ] = "none",
    pace_curve: Annotated[
        str, typer.Option("--pace-curve", help="PACE domain parameters: brainpoolP256r1 or P-256 (or another ID).")
    ] = "brainpoolP256r1",
    extended_length: Annotated[
        bool,
        typer.Option("--extended-length", help="Take extended Lc/Le (announced in the ATR and EF.ATR/INFO)."),
    ] = False,
    chaining: Annotated[
        str,
        typer.Option(
            "--chaining", help="Hand answers out: none, get_response (61xx parts) or exact_le (6Cxx until Le fits)."
        ),
    ] = "none",
    refuse_extended: Annotated[
        str,
        typer.Option(
            "--refuse-extended",
            help="Announce extended length but refuse it: none, 6700, or transport (a broken frame).",
        ),
    ] = "none",
) -> None:
    """Run a virtual eMRTD in a vpcd reader until interrupted (connect = card inserted, exit = removed)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from kiosk.card.card_access import PaceInfo
    from kiosk.card.emulator import AccessMode, EmrtdApplet, ForeignApplet, VirtualCard
    from kiosk.card.mrz import MrzError, parse_mrz
    from kiosk.card.pace import PACE_CIPHERS, PACE_CURVE_NAMES
    from kiosk.card.personalisation import personalise
    from kiosk.card.pki import create_test_pki, load_or_create_pki

    try:
        parsed = parse_mrz(mrz)
        photo_bytes = photo.read_bytes()
        country = parsed.issuing_state[:2] or "UT"
        test_pki = load_or_create_pki(pki, country) if pki else create_test_pki(country)
        if chip_auth not in ("ca", "aa", "none"):
            raise ValueError("--chip-auth is ca, aa or none")
        keys = {
            name: ec.generate_private_key(ec.SECP256R1()) if chip_auth == name[:2] else None
            for name in ("ca_key", "aa_key")
        }
        profile = personalise(
            mrz, photo_bytes, None if no_sod else test_pki, chip_key=keys["ca_key"], aa_key=keys["aa_key"]
        )
        if pace_cipher not in PACE_CIPHERS or pace_curve not in PACE_CURVE_NAMES:
            raise ValueError(
                f"--pace-cipher one of {sorted(PACE_CIPHERS)}, --pace-curve one of {sorted(PACE_CURVE_NAMES)}"
            )
        info = PaceInfo(PACE_CIPHERS[pace_cipher], 2, PACE_CURVE_NAMES[pace_curve])
        emrtd = EmrtdApplet(
            profile,
            plain_errors=plain_errors,
            access=AccessMode(access),
            pace_infos=[info],
            can=can,
            extended_length=extended_length or refuse_extended != "none",
            chaining=chaining,
            refuse_extended=refuse_extended,
        )
    except (MrzError, ValueError, OSError) as exc:
        _fail(1, str(exc))
    applet = ForeignApplet() if not_emrtd else emrtd
    card = VirtualCard(applet, port=port, host=host)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.is_set():
            try:
                card.insert(timeout=5)
            except OSError:
                typer.echo(f"waiting for vpcd on {host}:{port}...", err=True)
                stop.wait(1)
                continue
            kind = "card" if not_emrtd else "eMRTD"
            typer.echo(f"virtual {kind} inserted in vpcd at {host}:{port}; Ctrl-C removes it", err=True)
            while card.inserted and not stop.is_set():
                card.wait_removed(0.2)
            if not stop.is_set():
                typer.echo("vpcd closed the link (pcscd stopped?); re-inserting", err=True)
                stop.wait(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        card.remove()
    sys.exit(0)


StoreOption = Annotated[Path, typer.Option("--store", help="Trust folder (what `read --csca FOLDER` reads).")]


@trust_app.command("import")
def trust_import(
    files: Annotated[list[Path], typer.Argument(help="CSCA certificates, CSCA master lists (.ml) or CRLs (.crl).")],
    store: StoreOption,
) -> None:
    """Check and add trust files: a master list's signer must verify and be issued by a CSCA (in the list or already
    trusted) and be within its dates; a CRL must be signed by a trusted CSCA. Nothing is written for a file that fails."""
    from cryptography import x509

    from kiosk.card.master_list import MasterListError, read_master_list
    from kiosk.card.trust_store import TrustStore, TrustStoreError, classify, save_certificate, save_crl

    current = TrustStore.load(store) if store.is_dir() and any(store.iterdir()) else TrustStore()
    for file in files:
        try:
            kind = classify(file)
            data = file.read_bytes()
            if kind == "crl":
                crl = (x509.load_pem_x509_crl if b"-----BEGIN" in data else x509.load_der_x509_crl)(data)
                current.add_crl(crl, source=str(file))
                save_crl(store, crl)
                typer.echo(f"{file}: CRL of {crl.issuer.rfc4514_string()}, {len(list(crl))} revoked")
                continue
            if kind == "master_list":
                cscas = read_master_list(data, trusted=current.certificates)
            else:
                cscas = (
                    x509.load_pem_x509_certificates(data)
                    if b"-----BEGIN" in data
                    else [x509.load_der_x509_certificate(data)]
                )
        except (TrustStoreError, MasterListError, ValueError, OSError) as exc:
            _fail(1, f"{file}: {exc}" if str(file) not in str(exc) else str(exc))
        for csca in cscas:
            save_certificate(store, csca)
        current.certificates.extend(cscas)
        typer.echo(f"{file}: {len(cscas)} CSCA certificate(s)")


@trust_app.command("list")
def trust_list(store: StoreOption) -> None:
    """One line per trusted CSCA and per CRL."""
    from cryptography.hazmat.primitives import hashes

    from kiosk.card.trust_store import TrustStore, TrustStoreError

    try:
        trusted = TrustStore.load(store)
    except (TrustStoreError, OSError) as exc:
        _fail(1, str(exc))
    for csca in trusted.certificates:
        typer.echo(
            f"csca  {csca.subject.rfc4514_string()}  until {csca.not_valid_after_utc:%Y-%m-%d}  "
            f"sha256:{csca.fingerprint(hashes.SHA256()).hex()[:16]}"
        )
    for crl in trusted.crls:
        next_update = f"{crl.next_update_utc:%Y-%m-%d}" if crl.next_update_utc else "-"
        typer.echo(f"crl   {crl.issuer.rfc4514_string()}  next update {next_update}  {len(list(crl))} revoked")
