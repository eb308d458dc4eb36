"""The hall in `markaz demo`: a demo display device, the screens' URLs, and a trickle of visitors so the hall lives.

The trickle is a kiosk issuing tickets now and then and one simulated officer working counter 3 through the same
API the counter screen uses, so the display has calls to show and announce; counters 1 and 2 are left to you."""

from __future__ import annotations

import logging
import os
import random
import threading
from pathlib import Path

import httpx

log = logging.getLogger(__name__)
SIMULATED_COUNTER = "3"


def ensure_display(edge_data: Path, creds: dict[str, str], creds_file: Path) -> dict[str, str]:
    """Register the demo display once (also on a demo folder made before displays existed), keeping its token."""
    if "display_token" in creds:
        return creds
    from edge.node import EdgeNode
    from edge.settings import EdgeSettings
    from markaz.config import load_settings

    node = EdgeNode(load_settings(EdgeSettings, data_dir=edge_data, sample_data=True))
    try:
        creds["display_token"] = node.auth.add_device("display-1", "display")
    finally:
        node.close()
    fd = os.open(creds_file, os.O_WRONLY | os.O_APPEND)
    with os.fdopen(fd, "a") as fh:
        fh.write(f"display_token={creds['display_token']}\n")
    return creds


def lines(base: str, creds_file: Path) -> list[str]:
    return [
        f"  counter screen       {base}/counter   (officer; password in {creds_file})",
        f"  supervisor KPIs      {base}/supervisor   (admin)",
        f"  hall display         {base}/display   (enter display_token from {creds_file} once)",
        f"    as installed:      chromium --kiosk --autoplay-policy=no-user-gesture-required {base}/display",
        f"  visitors arriving    a ticket every 15-45 s; counter {SIMULATED_COUNTER} is worked by a simulated officer",
    ]


class Trickle(threading.Thread):
    """Visitors arrive at random intervals; a simulated officer calls, serves and finishes at one counter."""

    def __init__(self, base: str, creds: dict[str, str], seed: int | None = None) -> None:
        super().__init__(name="demo-trickle", daemon=True)
        self.base = base
        self.creds = creds
        self.stop_event = threading.Event()
        self.random = random.Random(seed)

    def stop(self) -> None:
        self.stop_event.set()

    def run(self) -> None:
        try:
            with httpx.Client(base_url=self.base, timeout=10) as c:
                kiosk = {"Authorization": f"Bearer {self.creds['kiosk_token']}"}
                login = {"username": "officer", "password": self.creds["officer_password"]}
                officer = {"Authorization": f"Bearer {c.post('/api/v1/auth/login', json=login).json()['token']}"}
                c.post(f"/api/v1/counters/{SIMULATED_COUNTER}/open", headers=officer)
                next_visitor, next_step = 0.0, 10.0
                clock = 0.0
                while not self.stop_event.wait(1.0):
                    clock += 1.0
                    if clock >= next_visitor:
                        service = self.random.choice(["general", "general", "report", "follow-up", "priority"])
                        # a report ticket needs a verified identity at a kiosk: simulated walk-ins get it at the desk
                        c.post(
                            "/api/v1/tickets",
                            json={"service": service},
                            headers=officer if service == "report" else kiosk,
                        )
                        next_visitor = clock + self.random.uniform(15, 45)
                    if clock >= next_step:
                        self._step(c, officer)
                        next_step = clock + self.random.uniform(20, 40)
        except (httpx.HTTPError, KeyError) as exc:
            log.warning("demo trickle stopped: %s", exc)

    @staticmethod
    def _step(c: httpx.Client, officer: dict[str, str]) -> None:
        """One press of the simulated officer: start a called visitor, or call the next (finishing the current)."""
        view = c.get(f"/api/v1/hall/counters/{SIMULATED_COUNTER}", headers=officer).json()
        ticket = view.get("ticket")
        action = "start" if ticket and ticket["status"] == "called" else "call_next"
        body = {"ticket_id": ticket["id"]} if ticket else {}
        c.post(f"/api/v1/hall/counters/{SIMULATED_COUNTER}/actions/{action}", json=body, headers=officer)
