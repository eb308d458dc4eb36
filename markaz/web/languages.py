"""The languages a screen can show, Arabic first, and their writing direction."""

from __future__ import annotations

from enum import StrEnum


class Language(StrEnum):
    """A UI language; the value is the BCP 47 tag used in `lang=` and in the catalogue folders."""

    AR = "ar"
    EN = "en"

    @property
    def direction(self) -> str:
        """`rtl` or `ltr`, for the `dir` attribute."""
        return "rtl" if self is Language.AR else "ltr"

    @property
    def other(self) -> Language:
        """The language the toggle switches to."""
        return Language.EN if self is Language.AR else Language.AR

    @property
    def native_name(self) -> str:
        """The language's name in itself: what the toggle shows, so a reader of that language finds it."""
        return "العربية" if self is Language.AR else "English"

    @classmethod
    def parse(cls, value: str | None, default: Language | None = None) -> Language:
        """The language for `value` (e.g. a `?lang=` query), or the default (Arabic) when it is missing or unknown."""
        try:
            return cls(value) if value else (default or cls.AR)
        except ValueError:
            return default or cls.AR


DEFAULT_LANGUAGE = Language.AR
