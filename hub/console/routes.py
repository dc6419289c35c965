"""The organizer console at ``/console``: one router, its dependencies, CSRF check and HTML error pages.

``hub.app`` mounts :data:`CONSOLE_ROUTES`, serves :data:`STATIC_DIR` at
``/static`` and renders with :data:`TEMPLATE_CONFIG`.  The router's
exception handlers turn the services' errors into pages (or, for htmx
requests, messages in the page's flash area) instead of the API's JSON,
and send a visitor without a session to the sign-in page.

Before any handler (and before its dependencies run), every request that
changes something passes two checks: its ``Origin`` names this hub
(:func:`~hub.console.auth.check_origin`) and it carries the page's CSRF
token (:func:`~hub.console.csrf.check_csrf`).  Every answer of the router,
redirects and downloads included, carries the security headers
(:data:`~hub.console.render.SECURITY_HEADERS`: a strict Content-Security-Policy
with no inline script, ``frame-ancestors 'none'``, ``nosniff``, a
referrer policy).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Router
from litestar.datastructures import ResponseHeader
from litestar.di import Provide
from litestar.exceptions import HTTPException

from hub.console.audit import AUDIT_ROUTES
from hub.console.auth import SignInRequired, check_origin, provide_access, provide_visitor
from hub.console.csrf import check_csrf
from hub.console.devices import DEVICE_ROUTES
from hub.console.event import EVENT_ROUTES
from hub.console.org import ORG_ROUTES
from hub.console.render import SECURITY_HEADERS, STATIC_DIR, TEMPLATE_CONFIG, console_error
from hub.console.schedule import SCHEDULE_ROUTES
from hub.console.session import SESSION_ROUTES
from konferenco.errors import KonferencoError

__all__ = ["CONSOLE_ROUTES", "STATIC_DIR", "TEMPLATE_CONFIG"]


async def guard_changes(request: Request[Any, Any, Any]) -> None:
    """``before_request``: a state-changing request from another site, or without the token, stops here."""
    await check_origin(request)
    await check_csrf(request)


console = Router(
    path="/",
    route_handlers=[
        *SESSION_ROUTES,
        *ORG_ROUTES,
        *EVENT_ROUTES,
        *DEVICE_ROUTES,
        *AUDIT_ROUTES,
        *SCHEDULE_ROUTES,
    ],
    dependencies={"visitor": Provide(provide_visitor), "access": Provide(provide_access)},
    exception_handlers={
        SignInRequired: console_error,
        KonferencoError: console_error,
        HTTPException: console_error,
        500: console_error,
    },
    before_request=guard_changes,
    response_headers=[ResponseHeader(name=k, value=v) for k, v in SECURITY_HEADERS.items()],
    include_in_schema=False,
)

CONSOLE_ROUTES: list[Any] = [console]
