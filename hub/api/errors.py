"""Which refusals each hub API route can answer, for its OpenAPI document (``konferenco.openapi``).

The generic codes follow from a route's shape (a body, path parameters, a signed-in caller, a
write); this table adds what a route's services raise beyond those.
"""

from __future__ import annotations

from litestar.handlers import HTTPRouteHandler

from hub.api.proposals import ROUTE_ERRORS as PROPOSAL_ERRORS
from hub.api.schedule import ROUTE_ERRORS as SCHEDULE_ERRORS
from konferenco.openapi import ErrorResponses

_EVENT = "/api/v1/events/{event_id}"

#: Specific codes per ``"METHOD /path"``; the generic ones are added by :class:`ErrorResponses`.
ROUTE_ERRORS: dict[str, tuple[str, ...]] = {
    "POST /api/v1/auth/token": ("wrong_credentials", "forbidden", "too_many_attempts"),
    "POST /api/v1/events": ("invalid", "tier_limit", "conflict", "not_found"),  # not_found: parent_id
    f"POST {_EVENT}/ticket-types": ("invalid",),
    f"POST {_EVENT}/lists": ("invalid",),
    f"POST {_EVENT}/gates": ("invalid",),
    f"POST {_EVENT}/attendees/import": ("invalid", "import_rejected", "tier_limit"),
    f"GET {_EVENT}/catalog": ("unauthorized", "forbidden", "conflict"),
    f"POST {_EVENT}/enrolments": ("invalid",),
    "POST /api/v1/enrol": ("unauthorized", "invalid"),
    "POST /api/v1/device/credential": ("unauthorized",),
    "GET /sync": ("unauthorized",),
    **SCHEDULE_ERRORS,
    **PROPOSAL_ERRORS,
}


def signed_in(handler: HTTPRouteHandler) -> bool:
    """Routes that act for an organizer's API token (the ``principal`` dependency)."""
    return "principal" in handler.parsed_fn_signature.parameters


def error_docs() -> ErrorResponses:
    """The plugin that writes the hub's error responses into ``/schema/openapi.json``."""
    return ErrorResponses(signed_in=signed_in, routes=ROUTE_ERRORS)
