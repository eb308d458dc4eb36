"""`make bench`: run every benchmarks/bench_*.py module in turn, each in its own process, and list the results.

One at a time on purpose: the machine has two cores and each benchmark measures its own baseline in the same run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    only = set(sys.argv[1:])
    failed = []
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem
        if only and name not in only and name.removeprefix("bench_") not in only:
            continue
        print(f"== {name}", flush=True)
        r = subprocess.run([sys.executable, "-m", f"benchmarks.{name}"], cwd=HERE.parent)
        if r.returncode != 0:
            failed.append(name)
    print("results:", ", ".join(sorted(p.name for p in (HERE / "results").glob("*.json"))))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
