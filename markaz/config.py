"""Settings from a TOML file plus MARKAZ_* environment variables, failing with the key, the file and the expectation.

Precedence, highest first: explicit values (command-line options), environment variables, the TOML file, defaults.
The file is read by pydantic-settings' own TOML source; `load_settings` only names which file and which table.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar, cast

from pydantic import ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class ConfigError(Exception):
    """A configuration problem a person can fix: names the file, the key and what was expected."""


class _TomlTable(TomlConfigSettingsSource):
    """pydantic-settings' TOML source, with the file's own problems (syntax, a missing or non-table section) told
    as ConfigError naming the file."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        file = settings_cls.model_config.get("toml_file")
        header = settings_cls.model_config.get("toml_table_header", ())
        table = ".".join(header)
        try:
            super().__init__(settings_cls)
        except KeyError:
            raise ConfigError(f"{file}: no [{table}] table") from None
        except (AttributeError, TypeError):  # the section is a value, not a table
            raise ConfigError(f"{file}: [{table}] must be a table") from None

    def _read_file(self, file_path: Path) -> dict[str, Any]:  # type: ignore[override]
        try:
            return super()._read_file(file_path)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file_path}: not valid TOML: {exc}") from None


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
        return (init_settings, env_settings, _TomlTable(settings_cls))


S = TypeVar("S", bound=MarkazSettings)


def read_toml(path: Path) -> dict[str, Any]:
    """A whole TOML file (for files that are not settings, e.g. a catalogue), or ConfigError naming it."""
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
    if file is not None and not Path(file).is_file():
        raise ConfigError(f"{file}: settings file not found")
    # The file and table go where pydantic-settings looks for them: the model's config, on a subclass made for this
    # call (the class itself is shared, so it is never changed).
    config = SettingsConfigDict(toml_file=file, toml_table_header=(section,) if (file and section) else ())
    bound = type(cls.__name__, (cls,), {"model_config": config, "__module__": cls.__module__})
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        built = bound(**given)
    except ValidationError as exc:
        where = str(file) if file else "settings"
        prefix = f"[{section}] " if section else ""
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(root)"
            problems.append(f"{where}: {prefix}{key}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigError("; ".join(problems)) from None
    # Hand back an instance of `cls` itself (picklable, compares equal): the values are validated already.
    values = {name: getattr(built, name) for name in cls.model_fields}
    return cast(S, cls.model_construct(_fields_set=built.model_fields_set, **values))
