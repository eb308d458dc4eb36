"""A Jinja2 environment per language: shared base template, the screen family's own templates, gettext strings.

One environment per language (each with its translations installed) is simpler and safer than switching a shared
environment's translations per request: two screens in two languages can render at the same time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2
from babel.support import Translations
from markupsafe import Markup

from markaz.web.catalogues import load_translations
from markaz.web.languages import DEFAULT_LANGUAGE, Language

BASE_TEMPLATES = Path(__file__).with_name("templates")


def isolate(value: object) -> Markup:
    """Wrap a number or reference in `<bdi>` so a Latin ticket number keeps its order inside Arabic text."""
    return Markup("<bdi>{}</bdi>").format(value)


class Screens:
    """Renders a screen family's templates in any supported language.

    `template_dirs` come before the base folder, so a family can override `base.html` blocks by extending it;
    `catalogue_dirs` hold the family's `.po` files (see `markaz.web.catalogues`).
    """

    def __init__(
        self,
        template_dirs: Iterable[Path] = (),
        catalogue_dirs: Iterable[Path] = (),
        globals_: Mapping[str, Any] | None = None,
    ) -> None:
        self._template_dirs = [Path(d) for d in template_dirs]
        self._catalogue_dirs = [Path(d) for d in catalogue_dirs]
        self._globals = dict(globals_ or {})

    @cached_property
    def _translations(self) -> dict[Language, Translations]:
        return {language: load_translations(language, self._catalogue_dirs) for language in Language}

    @cached_property
    def _environments(self) -> dict[Language, jinja2.Environment]:
        return {language: self._build(language) for language in Language}

    def _build(self, language: Language) -> jinja2.Environment:
        loader = jinja2.FileSystemLoader([*self._template_dirs, BASE_TEMPLATES])
        env = jinja2.Environment(
            loader=loader,
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.install_gettext_translations(self._translations[language], newstyle=True)  # type: ignore[attr-defined]
        env.filters["bdi"] = isolate
        env.globals.update(self._globals)
        env.globals["language"] = language
        env.globals["Language"] = Language
        return env

    def environment(self, language: Language = DEFAULT_LANGUAGE) -> jinja2.Environment:
        """The environment for `language` (built once, on first use)."""
        return self._environments[language]

    def render(self, template: str, language: Language = DEFAULT_LANGUAGE, **context: Any) -> str:
        """Render `template` in `language`; `language` and `Language` are always in the context."""
        return self.environment(language).get_template(template).render(**context)

    def gettext(self, message: str, language: Language = DEFAULT_LANGUAGE) -> str:
        """One translated string, for text the server sends outside a template (a receipt, a spoken call)."""
        return self._translations[language].gettext(message)
