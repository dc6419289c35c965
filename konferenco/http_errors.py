"""The one set of Litestar exception handlers the appliance and the hub answer errors with.

Every refusal leaves as ``{"code", "message", "details"}`` (:func:`konferenco.errors.error_body`)
with the status :data:`konferenco.errors.CODES` gives its code:

* a :class:`~konferenco.errors.KonferencoError` as it is (a ``retry_after`` detail also
  becomes the ``Retry-After`` header);
* Litestar's own refusals (no route, wrong method, body too large, a body that does not fit
  the route's schema) in the same vocabulary — :data:`HTTP_CODES`;
* anything else is a bug: logged with its traceback, answered ``500 internal_error`` without it.

:class:`JSONRequest` makes a body that is not UTF-8 a ``400 bad_request`` like any other body
that is not JSON (Litestar lets msgspec's ``UnicodeDecodeError`` through as a 500), and holds
every JSON and form value to :mod:`konferenco.edge_input`.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from litestar import MediaType, Request, Response
from litestar.datastructures import FormMultiDict
from litestar.exceptions import ClientException, HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from konferenco.edge_input import check_text, check_value
from konferenco.errors import CODES, KonferencoError, error_body

log = logging.getLogger(__name__)

#: Litestar's HTTP exceptions, by status, in the shared vocabulary (other 4xx: ``bad_request``).
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    429: "too_many_attempts",
    503: "unavailable",
}

#: What a refusal Litestar raises says where its own words are only the status's name.
_MESSAGES = {
    "body_too_large": "the request body is over the size this route accepts",
    "method_not_allowed": "this path does not take that HTTP method",
    "not_found": "no such path here",
}


def error_response(
    code: str, message: str, details: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> Response[dict[str, Any]]:
    """The JSON answer for ``code`` (its status from :data:`CODES`)."""
    return Response(
        error_body(code, message, details),
        status_code=CODES[code].status,
        headers=headers,
        media_type=MediaType.JSON,
    )


def konferenco_error(request: Request[Any, Any, Any], exc: KonferencoError) -> Response[dict[str, Any]]:
    headers = {}
    if "retry_after" in exc.details:
        headers["Retry-After"] = str(exc.details["retry_after"])
    if exc.status >= 500:  # an outage the service noticed (storage): no traceback, it is not a bug
        log.error("%s %s answered %s: %s", request.method, request.url.path, exc.code, exc.message)
    return error_response(exc.code, exc.message, exc.details, headers)


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    if isinstance(exc, ValidationException):
        errors = exc.extra if isinstance(exc.extra, list) else []
        # Say what is wrong ("Object contains unknown field `why`"), not only where ("data").
        said = [
            f"{e['key']}: {e['message']}" if e.get("key") and e.get("message") else str(e.get("key") or "")
            for e in errors
            if isinstance(e, dict)
        ]
        said = [s for s in said if s]
        message = "the request does not match this route's schema" + (f" ({'; '.join(said)})" if said else "")
        return error_response("bad_request", message, {"errors": errors})
    code = HTTP_CODES.get(exc.status_code)
    if code is None:
        if exc.status_code >= 500:
            return unexpected_error(request, exc)
        code = "bad_request"
    headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() == "retry-after"}
    details: dict[str, Any] = exc.extra if isinstance(exc.extra, dict) else {}
    generic = exc.detail in {status.phrase for status in HTTPStatus if status.value == exc.status_code}
    message = _MESSAGES.get(code, exc.detail) if generic else exc.detail
    return error_response(code, message, details, headers)


def unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """A bug or an outage nobody caught (the database gone): logged with its traceback, answered without."""
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response("internal_error", "an unexpected error occurred on the server; it has been logged")


#: ``exception_handlers=`` of both apps.
EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    KonferencoError: konferenco_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}


class JSONRequest(Request[Any, Any, Any]):
    """Litestar's request, with the body checked at the edge (``request_class=`` of both apps).

    * A JSON body that is not UTF-8 is the client's mistake (400), not a 500: msgspec raises
      ``UnicodeDecodeError`` for invalid UTF-8 inside a JSON string, which Litestar's decoder
      does not turn into its "JSON is malformed" refusal.
    * Every string of a JSON body or a form is text a database can store (no NUL, no lone
      surrogate) and every integer fits in 64 bits (:mod:`konferenco.edge_input`).
    """

    async def json(self) -> Any:
        try:
            value = await super().json()
        except UnicodeDecodeError as exc:
            raise ClientException(
                f"the request body is not UTF-8 JSON ({exc.reason} at byte {exc.start})"
            ) from None
        except RecursionError:  # msgspec's answer to arrays in arrays a thousand deep
            raise ClientException("the request body is JSON nested too deeply") from None
        check_value(value)
        return value

    async def form(self) -> FormMultiDict:
        form = await super().form()
        for name, value in form.multi_items():
            check_text(name, "a form field's name")
            if isinstance(value, str):
                check_text(value, name)
        return form
