"""An answer of the appliance's API that is not a success, as every page and the TUI read it.

The API's errors share one shape (``{"code", "message", "details"}``, docs/api-errors.md):
the kiosk's pages (in-process) and the staff TUI (over the network) turn a refusal into the
same exception, so a code or a field error means the same on every surface.
"""

from __future__ import annotations

from typing import Any

import httpx


class ApiError(Exception):
    """The appliance refused: its HTTP status, stable ``code``, sentence and ``details``."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def field_errors(self) -> dict[str, str]:
        """Per-field messages of a refused form (``details.field`` or schema errors), for inline display."""
        out: dict[str, str] = {}
        field = self.details.get("field")
        if isinstance(field, str) and field:
            out[field] = self.message
        for error in self.details.get("errors") or []:
            if isinstance(error, dict) and isinstance(error.get("key"), str):
                out.setdefault(str(error["key"]), str(error.get("message") or self.message))
        return out


def api_error(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    details = body.get("details")
    return ApiError(
        response.status_code,
        str(body.get("code") or f"http_{response.status_code}"),
        str(body.get("message") or response.reason_phrase or "the appliance refused"),
        details if isinstance(details, dict) else {},
    )
