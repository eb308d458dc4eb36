"""axe-core (the npm package, installed by `make` with `npm ci` from tests/ui/package-lock.json) run inside a page."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

UI_TESTS = Path(__file__).parent
AXE_SCRIPT = UI_TESTS / "node_modules" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = frozenset({"serious", "critical"})


def ensure_axe() -> Path:
    """The axe-core script; installs it with `npm ci` (as `make` does) when a test runs before `make`."""
    if not AXE_SCRIPT.is_file():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=UI_TESTS, check=True, timeout=300)
    if not AXE_SCRIPT.is_file():
        raise RuntimeError(f"{AXE_SCRIPT} missing after `npm ci` in {UI_TESTS}")
    return AXE_SCRIPT


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Violations of impact serious or critical on the page as it is now (WCAG 2.x A and AA rules and best practice)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(ensure_axe()))
    result = page.evaluate("async () => await axe.run(document, { resultTypes: ['violations'] })")
    return [v for v in result["violations"] if v.get("impact") in FAILING_IMPACTS]


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        targets = ", ".join(str(n["target"]) for n in v["nodes"][:3])
        lines.append(f"{v['impact']}: {v['id']} ({v['help']}) at {targets}")
    return "\n".join(lines)


def assert_accessible(page: Page, where: str = "") -> None:
    """Fail with every serious or critical axe-core violation listed."""
    violations = axe_violations(page)
    assert not violations, f"axe-core on {where or page.url}:\n{describe(violations)}"
