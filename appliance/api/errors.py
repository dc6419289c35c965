"""Errors as JSON with a stable ``code`` and a human ``message`` (DESIGN.md §3)."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from appliance.checkin.service import CheckinError
from appliance.printing.queue import PrintError
from appliance.staff import SignInError
from sync.store import StorageError

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "not_signed_in",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    429: "too_many_requests",
}


def error(status: int, code: str, message: str, **extra: Any) -> Response[dict[str, Any]]:
    return Response({"code": code, "message": message, **extra}, status_code=status)


def checkin_error(_: Request[Any, Any, Any], exc: CheckinError) -> Response[dict[str, Any]]:
    return error(exc.status, exc.code, exc.message, **exc.details)


def print_error(_: Request[Any, Any, Any], exc: PrintError) -> Response[dict[str, Any]]:
    return error(exc.status, exc.code, exc.message)


def sign_in_error(_: Request[Any, Any, Any], exc: SignInError) -> Response[dict[str, Any]]:
    status = {"locked": 423, "forbidden_role": 403}.get(exc.code, 401)
    return error(status, exc.code, exc.message)


def storage_error(_: Request[Any, Any, Any], exc: StorageError) -> Response[dict[str, Any]]:
    # Nothing was acknowledged: the client keeps the scan and retries with the same nonce.
    return error(
        507 if exc.code == "disk_full" else 503,
        exc.code,
        f"{exc}. Nothing was recorded; keep the scan and retry with the same nonce.",
    )


def validation_error(_: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    return error(
        exc.status_code, "invalid_request", f"the request is not valid: {exc.detail}", errors=exc.extra
    )


def http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = exc.detail if exc.status_code != 413 else "the request body is too large"
    return error(exc.status_code, code, message)


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error(HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", "an internal error occurred; see the log")


HANDLERS: dict[Any, Any] = {
    CheckinError: checkin_error,
    SignInError: sign_in_error,
    PrintError: print_error,
    StorageError: storage_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    Exception: internal_error,
}
