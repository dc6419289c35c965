"""Errors as JSON ``{code, message, details}`` with the shared code vocabulary (docs/api-errors.md).

The handlers are the ones the hub uses (:mod:`konferenco.http_errors`); the services raise
:class:`~konferenco.errors.KonferencoError` subclasses (``CheckinError``, ``SignInError``,
``PrintError``, sync's ``StorageError``).  This module adds, for the OpenAPI document, which
specific codes each route can answer (:func:`error_docs`).
"""

from __future__ import annotations

from litestar.handlers import HTTPRouteHandler

from konferenco.http_errors import EXCEPTION_HANDLERS
from konferenco.openapi import ErrorResponses

#: ``exception_handlers=`` of the appliance app.
HANDLERS = EXCEPTION_HANDLERS

_SCAN = "/api/v1/scans/{scan_id}"
_ATTENDEE = "/api/v1/attendees/{attendee_id}"
_JOB = "/api/v1/print-jobs/{job_id}"
_EVENT = ("unknown_event",)  # every route with an ``event`` query parameter
_ORGANIZER_DEVICE = ("forbidden",)  # roster changes need an appliance with the organizer capability

#: Specific codes per ``"METHOD /path"``; the generic ones are added by :class:`ErrorResponses`.
ROUTE_ERRORS: dict[str, tuple[str, ...]] = {
    "POST /api/v1/auth/login": ("wrong_credentials", "locked", "too_many_attempts"),
    "GET /api/v1/auth/me": ("token_expired",),
    "POST /api/v1/scans": (
        "token_expired",
        "invalid",
        *_EVENT,
        "unknown_gate",
        "unknown_list",
        "nonce_reused",
    ),
    f"POST {_SCAN}/annul": ("token_expired", "unknown_scan", "already_annulled", "not_annullable"),
    "GET /api/v1/duplicates": ("token_expired", *_EVENT),
    "GET /api/v1/stats": ("token_expired", *_EVENT),
    "GET /api/v1/door/setup": ("token_expired", *_EVENT),
    "GET /api/v1/door/counts": ("token_expired", *_EVENT, "unknown_gate", "unknown_list"),
    "POST /api/v1/revocations": ("token_expired", *_EVENT, *_ORGANIZER_DEVICE, "invalid"),
    "PUT /api/v1/catalog": ("token_expired", *_EVENT, "catalog_rejected"),
    "GET /api/v1/catalog": ("token_expired", *_EVENT, "no_catalog"),
    "GET /api/v1/attendees": ("token_expired", *_EVENT, "query_too_short"),
    f"GET {_ATTENDEE}": ("token_expired", *_EVENT, "unknown_attendee"),
    f"GET {_ATTENDEE}/record": ("token_expired", *_EVENT, "unknown_attendee"),
    "POST /api/v1/attendees": (
        "token_expired",
        *_EVENT,
        "invalid",
        "nfc_in_use",
        "no_device_key",
        "no_event_key",
    ),
    f"PATCH {_ATTENDEE}": ("token_expired", *_EVENT, *_ORGANIZER_DEVICE, "invalid", "unknown_attendee"),
    f"POST {_ATTENDEE}/tag": ("token_expired", *_EVENT, "unknown_attendee", "nfc_in_use"),
    "GET /api/v1/devices": ("token_expired",),
    "GET /api/v1/devices/discovered": ("token_expired",),
    "GET /api/v1/print-jobs": ("token_expired", "no_printer"),
    "POST /api/v1/print-jobs": ("token_expired", *_EVENT, "no_printer", "unknown_attendee"),
    f"POST {_JOB}/reprint": ("token_expired", "no_printer", "not_finished"),
    f"POST {_JOB}/cancel": ("token_expired", "no_printer", "not_waiting"),
    f"GET {_JOB}": ("token_expired",),
    "GET /api/v1/live": ("token_expired", "invalid"),  # forbidden: a door or kiosk asking for `tap`
    "GET /api/v1/kiosk/status": ("token_expired",),
    "POST /api/v1/kiosk/pairing-codes": ("token_expired",),
    "POST /api/v1/kiosk/pair": ("wrong_code", "locked"),
    "POST /api/v1/kiosk/identify": ("token_expired", "invalid", "badge_refused"),
    "GET /api/v1/kiosk/lookup": ("token_expired", "query_too_short"),
    "POST /api/v1/kiosk/lookup/verify": ("token_expired", "wrong_factor", "ask_at_desk", "badge_refused"),
    "GET /api/v1/kiosk/badge.png": ("token_expired", "unknown_attendee"),
    "POST /api/v1/kiosk/corrections": (
        "token_expired",
        *_ORGANIZER_DEVICE,
        "correction_refused",
        "unknown_attendee",
    ),
    "POST /api/v1/kiosk/checkins": (
        "token_expired",
        "no_printer",
        "nonce_reused",
        "unknown_attendee",
        "too_late",
    ),
    "GET /api/v1/sync/status": ("unauthorized",),
    "GET /sync": ("unauthorized",),
}


def signed_in(handler: HTTPRouteHandler) -> bool:
    """Routes that name staff roles (``opt=roles(...)``) need a staff token."""
    return handler.opt.get("roles") is not None


def error_docs() -> ErrorResponses:
    """The plugin that writes the appliance's error responses into ``/schema/openapi.json``."""
    return ErrorResponses(signed_in=signed_in, routes=ROUTE_ERRORS)
