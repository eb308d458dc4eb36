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
    db_path = Path(data) / "edge.sqlite"
    if not db_path.exists():
        typer.echo(f"{db_path}: no database (has the node run with --data {data}?)", err=True)
        raise typer.Exit(2)
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        stations = [dict(r) for r in conn.execute(
            "WITH st AS (SELECT station FROM telemetry_seq UNION SELECT DISTINCT station FROM telemetry_outbox) "
            "SELECT st.station, max(coalesce(s.last_seq, 0), coalesce(max(o.seq), 0)) AS last_seq_given, "
            "coalesce(s.dropped_total, 0) AS dropped_total, count(o.id) AS backlog, "
            "coalesce(sum(length(o.payload)), 0) AS backlog_bytes, min(o.seq) AS first_waiting_seq, "
            "max(o.seq) AS last_waiting_seq, min(o.created_at) AS oldest, coalesce(sum(o.droppable), 0) AS droppable "
            "FROM st LEFT JOIN telemetry_seq s ON s.station = st.station "
            "LEFT JOIN telemetry_outbox o ON o.station = st.station GROUP BY st.station ORDER BY st.station"
        )]
        rows = [dict(r) for r in conn.execute(
            "SELECT station, seq, topic, length(payload) AS bytes, created_at FROM telemetry_outbox ORDER BY id LIMIT ?",
            (show,),
        )] if show else []
    except sqlite3.OperationalError as exc:
        typer.echo(f"{db_path}: no telemetry tables ({exc}); start the node once to migrate", err=True)
        raise typer.Exit(2) from None
    finally:
        conn.close()
    if as_json:
        typer.echo(json.dumps({"stations": stations, "oldest_messages": rows}, indent=2))
        return
    if not stations:
        typer.echo("outbox empty: no message was ever produced")
    for s in stations:
        waiting = (f"seq {s['first_waiting_seq']}..{s['last_waiting_seq']}, oldest {s['oldest']}" if s["backlog"] else "")
        typer.echo(
            f"station {s['station']}: {s['backlog']} waiting ({s['backlog_bytes']} bytes) {waiting}\n"
            f"  last seq given {s['last_seq_given']}; snapshots dropped by the size bound: {s['dropped_total']}"
        )
    for r in rows:
        typer.echo(f"  {r['seq']:>8}  {r['created_at']}  {r['bytes']:>6} B  {r['topic']}")
