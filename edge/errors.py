"""Domain errors: raised by the core, turned into HTTP answers by the API and into messages by the CLI."""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The action does not fit the current state (e.g. starting a ticket that was never called)."""

    status = 409
    code = "conflict"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: float, **details: object) -> None:
        super().__init__(message, **details)
        self.retry_after_s = retry_after_s


class Busy(RateLimited):
    """The node is at a bound it keeps on purpose (e.g. concurrent password hashing): retry shortly."""

    status = 503
    code = "busy"


class Invalid(DomainError):
    status = 422
    code = "invalid"
