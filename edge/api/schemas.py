"""Shared response shapes of the API."""

from __future__ import annotations

from pydantic import BaseModel


class ErrorBody(BaseModel):
    error: str
    detail: str | list | dict


ERROR_RESPONSES = {
    401: {"model": ErrorBody, "description": "missing, invalid or expired token"},
    403: {"model": ErrorBody, "description": "the caller's role does not allow this"},
}

BODY_ERROR = {"model": ErrorBody, "description": "the body is not JSON (or not UTF-8)"}


def error(description: str) -> dict[str, object]:
    """One documented error answer of a route (its body is always ErrorBody)."""
    return {"model": ErrorBody, "description": description}
