"""The model manifest: which files ship, their sha256, and onnxruntime sessions loaded only from verified files."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODELS_DIR = Path(__file__).resolve().parent
MANIFEST = MODELS_DIR / "manifest.toml"


class ModelError(Exception):
    """A model file is missing or is not the file the manifest names."""


@dataclass(frozen=True)
class ModelEntry:
    name: str
    version: str
    file: str
    sha256: str
    licence: str
    source: str
    input: str
    output: str
    role: str = ""
    licence_file: str = ""
    params: dict[str, Any] = field(default_factory=dict)  # what the pipeline must respect (crop, NMS); read by it

    def path(self, root: Path = MODELS_DIR) -> Path:
        return root / self.file


def load_manifest(path: Path = MANIFEST) -> dict[str, ModelEntry]:
    with Path(path).open("rb") as fh:
        raw = tomllib.load(fh)
    return {name: ModelEntry(name=name, **spec) for name, spec in raw.get("models", {}).items()}


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check(entry: ModelEntry, root: Path = MODELS_DIR) -> Path:
    """The verified path of a model, or ModelError saying what is wrong and how to fix it."""
    path = entry.path(root)
    if not path.is_file():
        raise ModelError(f"model {entry.name!r}: file {path} is missing (reinstall the models folder)")
    digest = file_sha256(path)
    if digest != entry.sha256:
        raise ModelError(
            f"model {entry.name!r}: {path} has sha256 {digest}, the manifest expects {entry.sha256}; "
            "refusing to load a file that is not the shipped model"
        )
    return path


def session(name: str, intra_threads: int = 2, root: Path = MODELS_DIR, manifest: Path = MANIFEST):
    """An onnxruntime session for a verified model, with explicit threads (the edge box has 2 cores).

    Reads the file once into memory so the bytes hashed are the bytes loaded."""
    import onnxruntime as ort

    entries = load_manifest(manifest)
    if name not in entries:
        raise ModelError(f"model {name!r} is not in the manifest {manifest}")
    entry = entries[name]
    path = entry.path(root)
    if not path.is_file():
        raise ModelError(f"model {name!r}: file {path} is missing (reinstall the models folder)")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.sha256:
        raise ModelError(
            f"model {name!r}: {path} has sha256 {digest}, the manifest expects {entry.sha256}; "
            "refusing to load a file that is not the shipped model"
        )
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = intra_threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    # Each session has its own intra-op pool; spinning threads of one session would steal the 2 cores from the next
    # session (and from the API) for a while after every run. Measured: 275 -> see docs/verification.md.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])
