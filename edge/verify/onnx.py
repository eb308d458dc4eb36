"""What the verifier needs of an onnxruntime session (onnxruntime ships no type hints): a typed seam of three calls."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class NodeArg(Protocol):
    @property
    def name(self) -> str: ...


class OnnxSession(Protocol):
    """`onnxruntime.InferenceSession` as used here: input/output names and one run."""

    def get_inputs(self) -> Sequence[NodeArg]: ...

    def get_outputs(self) -> Sequence[NodeArg]: ...

    def run(self, output_names: Sequence[str] | None, input_feed: Mapping[str, Any]) -> list[Any]: ...
