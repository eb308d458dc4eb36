"""Profiles in layers: model default -> station -> device, the effective profile, where each value came from, a
version (its hash) and the diff between two versions. A layer that fails validation is refused before anything
changes, naming the key, the value and what was expected."""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from firmware_config.schema import SCHEMAS, DeviceKind

LAYERS = ("default", "station", "device")


@dataclass(frozen=True)
class Problem:
    key: str
    value: Any
    expected: str

    def __str__(self) -> str:
        return f"{self.key} = {json.dumps(self.value, ensure_ascii=False, default=str)}: {self.expected}"


class ProfileRejected(ValueError):
    def __init__(self, where: str, problems: list[Problem]) -> None:
        self.where = where
        self.problems = problems
        super().__init__(f"{where}: " + "; ".join(str(p) for p in problems))


@dataclass(frozen=True)
class Effective:
    kind: DeviceKind
    profile: BaseModel
    sources: dict[str, str]  # dotted key -> layer name ("default", "station", "device")

    @property
    def data(self) -> dict[str, Any]:
        return self.profile.model_dump(mode="json")

    @property
    def hash(self) -> str:
        return profile_hash(self.data)

    @property
    def version(self) -> str:
        return self.hash[:12]


def profile_hash(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dotted, value in flat.items():
        node = out
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def _problems(exc: ValidationError, flat: dict[str, Any]) -> list[Problem]:
    found = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        value = err.get("input", flat.get(loc))
        expected = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        found.append(Problem(loc, value, expected))
    return found


def validate(kind: DeviceKind, data: dict[str, Any], where: str) -> BaseModel:
    try:
        return SCHEMAS[kind].model_validate(data)
    except ValidationError as exc:
        raise ProfileRejected(where, _problems(exc, flatten(data))) from None


def read_layer(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProfileRejected(str(path), [Problem("(file)", None, f"valid TOML ({exc})")]) from None


def default_layer(kind: DeviceKind) -> dict[str, Any]:
    return tomllib.loads(resources.files("firmware_config").joinpath(f"defaults/{kind}.toml").read_text("utf-8"))


def station_path(profiles: Path, kind: DeviceKind) -> Path:
    return Path(profiles) / "station" / f"{kind}.toml"


def device_path(profiles: Path, device_id: str) -> Path:
    return Path(profiles) / "devices" / f"{device_id}.toml"


def effective(kind: DeviceKind, layers: list[tuple[str, dict[str, Any]]]) -> Effective:
    """Merge the layers key by key (later wins), then validate the result against the type's schema. Each layer is
    also validated alone (as a partial profile) so a refusal names the layer that is wrong."""
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, layer in layers:
        flat = flatten(layer)
        try:
            SCHEMAS[kind].model_validate(_with_defaults(kind, flat))
        except ValidationError as exc:
            raise ProfileRejected(f"{name} layer", _problems(exc, flat)) from None
        for key, value in flat.items():
            merged[key] = value
            sources[key] = name
    profile = validate(kind, unflatten(merged), "effective profile")
    for key in flatten(profile.model_dump(mode="json")):
        sources.setdefault(key, "schema")
    return Effective(kind, profile, sources)


def _with_defaults(kind: DeviceKind, flat: dict[str, Any]) -> dict[str, Any]:
    base = flatten(default_layer(kind))
    base.update(flat)
    return unflatten(base)


def for_device(profiles: Path, kind: DeviceKind, device_id: str) -> Effective:
    return effective(
        kind,
        [
            ("default", default_layer(kind)),
            ("station", read_layer(station_path(profiles, kind))),
            ("device", read_layer(device_path(profiles, device_id))),
        ],
    )


@dataclass(frozen=True)
class Change:
    key: str
    before: Any
    after: Any


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    a, b = flatten(before), flatten(after)
    return [Change(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
