"""`markaz demo`: one whole station on this machine (filled in as parts land)."""


def demo() -> None:
    """Run a demo station: the edge node with sample services, printing its URLs."""
    raise SystemExit("demo: not yet wired")
