"""Errors the hub returns: a stable ``code`` for programs, a ``message`` for people.

Services raise :class:`HubError` subclasses; the app turns them into JSON
(``{"code", "message", ...details}``) for the API and into a page or a
fragment for the console, so the wording is written once.
"""

from __future__ import annotations

from typing import Any, ClassVar


class HubError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}


class NotFound(HubError):
    status = 404
    code = "not_found"


class Forbidden(HubError):
    status = 403
    code = "forbidden"


class Unauthorized(HubError):
    status = 401
    code = "unauthorized"


class Conflict(HubError):
    status = 409
    code = "conflict"


class Invalid(HubError):
    status = 422
    code = "invalid"


class TooManyAttempts(HubError):
    status = 429
    code = "too_many_attempts"
