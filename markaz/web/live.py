"""The live-screen protocol between a server and `static/live.js`, one source of truth for both directions.

Server to page: `{"type": "screen", "html": ..., "lang": "ar", "dir": "rtl", "title": ...}` replaces the page's
`#screen` element. Page to server: `{"type": "tap", "action": ..., "value": ...}` from any element carrying
`data-action` (and optionally `data-value`), and `{"type": "hello"}` when the socket opens. Anything else is refused.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from markaz.web.languages import Language

ACTION_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"


class MessageType(StrEnum):
    SCREEN = "screen"
    TAP = "tap"
    HELLO = "hello"


class Tap(BaseModel):
    """A tap on an element with `data-action`: the action name and the element's `data-value`, if any."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal[MessageType.TAP] = MessageType.TAP
    action: Annotated[str, Field(pattern=ACTION_PATTERN)]
    value: Annotated[str, Field(max_length=64)] | None = None


class Hello(BaseModel):
    """Sent by the page when its socket opens: the server answers with the current screen."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal[MessageType.HELLO] = MessageType.HELLO


class ScreenUpdate(BaseModel):
    """A rendered screen pushed to the page."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal[MessageType.SCREEN] = MessageType.SCREEN
    html: str
    lang: Language
    dir: Literal["rtl", "ltr"]
    title: str

    @classmethod
    def of(cls, html: str, language: Language, title: str) -> ScreenUpdate:
        return cls(html=html, lang=language, dir="rtl" if language.direction == "rtl" else "ltr", title=title)


PageMessage = Annotated[Tap | Hello, Field(discriminator="type")]
_PAGE_MESSAGE: TypeAdapter[Tap | Hello] = TypeAdapter(PageMessage)


class BadMessage(ValueError):
    """A page message that is not valid JSON of the protocol; the server drops it and keeps the socket."""


def parse_page_message(raw: str | bytes) -> Tap | Hello:
    """Validate one message from the page; raises `BadMessage` with a short reason."""
    if len(raw) > 1024:
        raise BadMessage("message too long")
    try:
        return _PAGE_MESSAGE.validate_json(raw)
    except ValidationError as exc:
        raise BadMessage(f"not a page message: {exc.errors()[0]['msg']}") from None
