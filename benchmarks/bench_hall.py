"""The hall under load: call -> display updated (in Chromium) and call -> first byte of the spoken call, with many
counters calling at once, against a real edge node process.

Each counter is a thread looping issue -> call-next -> start (then a pause), through the same HTTP API the counter
screen drives. The display is Debian's Chromium on /display, as installed (autoplay flag); a MutationObserver in the
page stamps each announcement the node pushes (the same push that redraws "now calling"), against the wall clock the
caller also reads (one machine, one clock). The first audio byte is read by a client acting for the display right
after the call returns: the Arabic sentence's WAV, made by espeak-ng in the background or on demand.

Run: .venv/bin/python -m benchmarks.bench_hall [--counters 20] [--seconds 30] [--pause 1.0]
Tiny check: .venv/bin/python -m benchmarks.bench_hall --counters 2 --seconds 3
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from benchmarks.report import summary_ms, write

PASSWORD = "benchmark-password"
TARGET_P95_MS = 500
OBSERVER = """() => {
  window.__seen = {};
  const stamp = () => document.querySelectorAll('#announcements li').forEach(li => {
    const n = li.getAttribute('data-number') + '@' + li.getAttribute('data-counter');
    if (!(n in window.__seen)) { window.__seen[n] = Date.now(); } });
  new MutationObserver(stamp).observe(document.getElementById('screen'), {childList: true, subtree: true});
}"""


def _prepare(data: Path, counters: int) -> dict[str, str]:
    from edge.auth.principal import SYSTEM
    from edge.node import EdgeNode
    from edge.queue.catalogue import SAMPLE_CATALOGUE, Catalogue, CounterDef, apply_catalogue
    from edge.settings import EdgeSettings
    from markaz.config import load_settings

    node = EdgeNode(load_settings(EdgeSettings, data_dir=data))
    desks = [CounterDef(code=f"{i + 1}", services=["general"], open=True) for i in range(counters)]
    apply_catalogue(node.store, node.audit, Catalogue(services=SAMPLE_CATALOGUE.services, counters=desks), SYSTEM)
    node.auth.add_user("bench-officer", PASSWORD, "officer")
    tokens = {
        "kiosk": node.auth.add_device("bench-kiosk", "kiosk"),
        "display": node.auth.add_device("bench-display", "display"),
        "officer": node.auth.login("bench-officer", PASSWORD)[0],
    }
    node.close()
    return tokens


def _serve(data: Path) -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    markaz = str(Path(sys.executable).parent / "markaz")
    proc = subprocess.Popen([markaz, "edge", "serve", "--data", str(data), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("edge node did not start")


def _counter(base: str, tokens: dict[str, str], code: str, stop: threading.Event, pause: float, calls: list, audio: list,
             errors: list) -> None:  # fmt: skip
    from edge.hall.phrasing import Language, phrase
    from edge.hall.speech import Speech

    speech = Speech(Path("/nonexistent"))  # only its key function: the same one the node uses
    kiosk = {"Authorization": f"Bearer {tokens['kiosk']}"}
    officer = {"Authorization": f"Bearer {tokens['officer']}"}
    rnd = random.Random(code)
    display = {"Authorization": f"Bearer {tokens['display']}"}
    with httpx.Client(base_url=base, timeout=30) as c:
        while not stop.is_set():
            c.post("/api/v1/tickets", json={"service": "general"}, headers=kiosk)
            t0 = time.time()
            r = c.post(f"/api/v1/counters/{code}/call-next", headers=officer)
            if r.status_code != 200:
                errors.append(r.status_code)
                continue
            ticket = r.json()
            calls.append((f"{ticket['number']}@{code}", t0))
            key = speech.key(Language.AR, phrase(ticket["number"], code, Language.AR))
            with c.stream("GET", f"/api/v1/hall/audio/{key}.wav", headers=display) as audio_r:
                next(audio_r.iter_bytes(), b"")
                audio.append(time.time() - t0)
            c.post(f"/api/v1/tickets/{ticket['id']}/start", headers=officer)
            stop.wait(rnd.uniform(0, 2 * pause))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counters", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--pause", type=float, default=1.0, help="mean pause of each counter between calls (s)")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    from tests.hall.conftest import DISPLAY_FLAGS, FULL_HD
    from tests.ui.browser import chromium_path

    tmp = Path(tempfile.mkdtemp(prefix="bench-hall-"))
    proc = None
    try:
        tokens = _prepare(tmp / "node", args.counters)
        proc, base = _serve(tmp / "node")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(chromium_path()), args=list(DISPLAY_FLAGS), headless=True)
            ctx = browser.new_context(viewport=FULL_HD)
            ctx.add_cookies([{"name": "markaz_display", "value": tokens["display"], "url": base}])
            page = ctx.new_page()
            page.goto(base + "/display")
            page.wait_for_function("window.markazLive && window.markazLive.connected")
            page.evaluate(OBSERVER)

            stop = threading.Event()
            calls: list[tuple[str, float]] = []
            audio: list[float] = []
            errors: list[int] = []
            threads = [threading.Thread(target=_counter, args=(base, tokens, str(i + 1), stop, args.pause, calls, audio, errors))
                       for i in range(args.counters)]  # fmt: skip
            for t in threads:
                t.start()
            page.wait_for_timeout(args.seconds * 1000)
            stop.set()
            for t in threads:
                t.join(60)
            page.wait_for_timeout(2000)  # the last pushes
            seen = page.evaluate("window.__seen")
            browser.close()
        display = [(seen[key] / 1000.0) - t0 for key, t0 in calls if key in seen]
        result = {
            "counters": args.counters,
            "seconds": args.seconds,
            "mean_pause_s": args.pause,
            "calls": len(calls),
            "calls_seen_on_display": len(display),
            "errors": len(errors),
            "call_to_display_updated": summary_ms(display),
            "call_to_first_audio_byte": summary_ms(audio),
            "target_p95_ms": TARGET_P95_MS,
            "method": "wall clock shared by caller and browser; display stamp = the push carrying the announcement",
        }
        path = write("hall", result)
        print(path.read_text())
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(15)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
