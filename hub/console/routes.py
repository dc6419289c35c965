"""The organizer console at ``/console``: one router, its dependencies, CSRF check and HTML error pages.

``hub.app`` mounts :data:`CONSOLE_ROUTES`, serves :data:`STATIC_DIR` at
``/static`` and renders with :data:`TEMPLATE_CONFIG`.  The router's
exception handlers turn the services' errors into pages (or, for htmx
requests, messages in the page's flash area) instead of the API's JSON,
and send a visitor without a session to the sign-in page.
"""

from __future__ import annotations

from typing import Any

from litestar import Router
from litestar.di import Provide
from litestar.exceptions import HTTPException

from hub.console.auth import SignInRequired, check_origin, provide_access, provide_visitor
from hub.console.devices import DEVICE_ROUTES
from hub.console.event import EVENT_ROUTES
from hub.console.org import ORG_ROUTES
from hub.console.render import STATIC_DIR, TEMPLATE_CONFIG, console_error
from hub.console.session import SESSION_ROUTES
from konferenco.errors import KonferencoError

__all__ = ["CONSOLE_ROUTES", "STATIC_DIR", "TEMPLATE_CONFIG"]

console = Router(
    path="/",
    route_handlers=[*SESSION_ROUTES, *ORG_ROUTES, *EVENT_ROUTES, *DEVICE_ROUTES],
    dependencies={"visitor": Provide(provide_visitor), "access": Provide(provide_access)},
    exception_handlers={
        SignInRequired: console_error,
        KonferencoError: console_error,
        HTTPException: console_error,
        500: console_error,
    },
    before_request=check_origin,
    include_in_schema=False,
)

CONSOLE_ROUTES: list[Any] = [console]
