"""Writes the generated contract documents: docs/openapi.json from the edge API, docs/asyncapi.yaml from the MQTT
contract. `make docs`; tests fail when a committed document is stale."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"


def openapi_document() -> str:
    from edge.api.app import create_app
    from edge.node import EdgeNode
    from edge.settings import EdgeSettings
    from markaz.config import load_settings

    with tempfile.TemporaryDirectory() as tmp:
        node = EdgeNode(load_settings(EdgeSettings, data_dir=Path(tmp)))
        try:
            spec = create_app(node).openapi()
        finally:
            node.store.close()
    return json.dumps(spec, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main() -> int:
    from markaz.contracts import asyncapi

    DOCS.mkdir(exist_ok=True)
    (DOCS / "openapi.json").write_text(openapi_document(), encoding="utf-8")
    (DOCS / "asyncapi.yaml").write_text(asyncapi.render(), encoding="utf-8")
    print(f"wrote {DOCS / 'openapi.json'} and {DOCS / 'asyncapi.yaml'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
