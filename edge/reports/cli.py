"""`markaz edge reports list|show|verify-referral`: reports from the station's console (reads are audited)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from edge.auth.principal import Principal
from edge.auth.roles import StaffRole

app = typer.Typer(help="Police reports: list, show, verify a referral package.", no_args_is_help=True)

DataOpt = Annotated[Path, typer.Option("--data", help="the node's data folder (database, keys, anchors)")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file; its [edge] table is read")]


def _console() -> Principal:
    # The station's console acts with supervisor rights; its reads are audited as "system:console".
    return Principal("system", "console", StaffRole.SUPERVISOR)


@app.command("list")
def list_reports(
    data: DataOpt,
    config: ConfigOpt = None,
    state: Annotated[str | None, typer.Option(help="only this state")] = None,
    report_type: Annotated[str | None, typer.Option("--type", help="only this report type")] = None,
    limit: Annotated[int, typer.Option(help="at most this many")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List reports, newest first (no personal data)."""
    from edge.cli import _changing
    from edge.reports.service import Filters
    from edge.reports.vocabulary import ReportState

    try:
        wanted = ReportState(state) if state else None
    except ValueError:
        typer.echo(f"error: unknown state {state!r}; one of {', '.join(s.value for s in ReportState)}", err=True)
        raise typer.Exit(2) from None
    with _changing(data, config) as node:
        rows = node.reports.list_reports(_console(), Filters(state=wanted, type=report_type, limit=limit), "console")
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        flags = " SLA!" if r["sla_breached"] else ""
        case = f" case {r['case_number']}" if r["case_number"] else ""
        typer.echo(f"{r['reference']}\t{r['type']}\t{r['state']}\t{r['officer'] or '-'}\t{r['filed_at']}{flags}{case}")


@app.command("show")
def show(
    reference: Annotated[str, typer.Argument(help="e.g. OLY-2026-000123-42")],
    data: DataOpt,
    config: ConfigOpt = None,
) -> None:
    """Print one report's page as JSON (parties, statements, timeline); the read is audited."""
    from edge.cli import _changing

    with _changing(data, config) as node:
        page = node.reports.get(reference, _console(), "console")
    typer.echo(json.dumps(page, ensure_ascii=False, indent=2))


@app.command("verify-referral")
def verify_referral(
    file: Annotated[Path, typer.Argument(help="a referral package (JSON)")],
    public_key: Annotated[
        Path | None, typer.Option("--public-key", help="the station's referral public key (PEM) to trust")
    ] = None,
) -> None:
    """Check a referral package offline: exit 0 when the signature holds, 1 naming what is wrong."""
    from edge.reports.referral import ReferralInvalid, load_public_key, verify

    try:
        document = json.loads(file.read_text(encoding="utf-8"))
        trusted = [load_public_key(public_key)] if public_key else None
        checked = verify(document, trusted)
    except (OSError, ValueError) as exc:
        typer.echo(f"referral INVALID: cannot read {file}: {exc}", err=True)
        raise typer.Exit(1) from None
    except ReferralInvalid as exc:
        typer.echo(f"referral INVALID: {exc}", err=True)
        raise typer.Exit(1) from None
    origin = (
        "signed by the trusted station key" if checked.trusted else "intact (origin not checked: pass --public-key)"
    )
    typer.echo(
        f"referral {checked.referral_id} of {checked.reference} from {checked.station}: {origin}, key {checked.key_id}"
    )
