"""`markaz edge outbox`: what is waiting to go to central (read-only; safe while the node runs)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Annotated

import typer


def outbox(
    data: Annotated[Path, typer.Option("--data", help="The node's data directory.")] = Path("data"),
    show: Annotated[int, typer.Option("--show", help="Also list the oldest N waiting messages.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the telemetry backlog: messages waiting for the broker's acknowledgement, per station."""
    from edge.store import Store
    from edge.telemetry.outbox import Outbox

    db_path = Path(data) / "edge.sqlite"
    if not db_path.exists():
        typer.echo(f"{db_path}: no database (has the node run with --data {data}?)", err=True)
        raise typer.Exit(2)
    store = Store(db_path, migrate=False)  # looking only: never migrates a database a running node owns
    try:
        boxes = [Outbox(store, station) for station in Outbox.stations(store)]
        stations = [box.stats() for box in boxes]
        rows = [row for box in boxes for row in box.oldest(show)][:show] if show else []
    except sqlite3.OperationalError as exc:
        typer.echo(f"{db_path}: no telemetry tables ({exc}); start the node once to migrate", err=True)
        raise typer.Exit(2) from None
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps({"stations": stations, "oldest_messages": rows}, indent=2))
        return
    if not stations:
        typer.echo("outbox empty: no message was ever produced")
    for s in stations:
        waiting = f"seq {s['first_seq']}..{s['last_seq']}, oldest {s['oldest']}" if s["backlog"] else ""
        typer.echo(
            f"station {s['station']}: {s['backlog']} waiting ({s['backlog_bytes']} bytes) {waiting}\n"
            f"  last seq given {s['last_seq_given']}; snapshots dropped by the size bound: {s['dropped_total']}"
        )
    for r in rows:
        typer.echo(f"  {r['seq']:>8}  {r['created_at']}  {r['bytes']:>6} B  {r['topic']}")
