"""Settings from a TOML file plus MARKAZ_* environment variables, failing with the key, the file and the expectation.

Precedence, highest first: explicit values (command-line options), environment variables, the TOML file, defaults.
"""

from __future__ import annotations

import contextvars
import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

_FILE_DATA: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("markaz_settings_file", default={})


class ConfigError(Exception):
    """A configuration problem a person can fix: names the file, the key and what was expected."""


class MarkazSettings(BaseSettings):
    """Base of every part's settings: `MARKAZ_` variables, `__` for nested keys, unknown file keys refused."""

    model_config = SettingsConfigDict(env_prefix="MARKAZ_", env_nested_delimiter="__", extra="forbid")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        file_source = InitSettingsSource(settings_cls, init_kwargs=_FILE_DATA.get())
        return (init_settings, env_settings, file_source)


S = TypeVar("S", bound=MarkazSettings)


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with Path(path).open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: settings file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def load_settings(cls: type[S], file: Path | None = None, section: str | None = None, **overrides: Any) -> S:
    """Build `cls`; `section` picks a table of the file (e.g. "edge") so one file can hold every part's settings.

    Overrides that are None are ignored, so command-line options left out fall through to env, file and defaults.
    """
    data: dict[str, Any] = {}
    if file is not None:
        raw = read_toml(Path(file))
        data = raw.get(section, {}) if section else raw
        if not isinstance(data, dict):
            raise ConfigError(f"{file}: [{section}] must be a table")
    given = {k: v for k, v in overrides.items() if v is not None}
    token = _FILE_DATA.set(data)
    try:
        return cls(**given)
    except ValidationError as exc:
        where = str(file) if file else "settings"
        prefix = f"[{section}] " if section else ""
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(root)"
            problems.append(f"{where}: {prefix}{key}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigError("; ".join(problems)) from None
    finally:
        _FILE_DATA.reset(token)
