"""`make bench`: run every benchmarks/bench_*.py module in turn, each in its own process, and list the results.

One at a time on purpose: the machine has two cores and each benchmark measures its own baseline in the same run.

    python -m benchmarks.run [NAME ...] [-- ARG ...]

NAMEs choose benchmarks (`central` or `bench_central`); the ARGs after `--` go to each chosen one, e.g.
`python -m benchmarks.run central -- --only dashboard --backend postgresql`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    argv = sys.argv[1:]
    names, passed = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    only = set(names)
    failed = []
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem
        if only and name not in only and name.removeprefix("bench_") not in only:
            continue
        print(f"== {name}", flush=True)
        r = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", *passed], cwd=HERE.parent)
        if r.returncode != 0:
            failed.append(name)
    print("results:", ", ".join(sorted(p.name for p in (HERE / "results").glob("*.json"))))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
