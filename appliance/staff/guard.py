"""Staff sign-in and the role guard every ``/api/v1`` route carries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler

from appliance.staff.service import StaffClaims, StaffRole, StaffTokens
from konferenco.errors import Forbidden
from sync.litestar_route import presented_token

ALL_ROLES = tuple(StaffRole)
#: The kiosk page's HttpOnly cookie holding its staff token; read only by routes with opt ``kiosk_cookie``
#: (``EventSource`` cannot send a bearer header), never by the rest of the API.
KIOSK_COOKIE = "konferenco_kiosk"


def roles(*allowed: StaffRole) -> dict[str, Any]:
    """Route ``opt`` naming the staff roles that may call it."""
    return {"roles": allowed}


StaffCheck = Callable[[Request[Any, Any, Any]], Awaitable[None]]


def staff_guard(tokens: Callable[[], StaffTokens]) -> StaffCheck:
    """The check every HTTP route goes through, with the box's staff secret: the app's ``before_request``.

    Not a Litestar guard: Litestar hands each guard a shallow copy of the route
    handler, 47 µs a request (8 % of a scan's CPU over HTTP, profiled). A
    ``before_request`` hook runs at the same point for the same routes, before
    the body is read, without the copy.  Routes that set their own
    ``before_request`` would replace it: none may (tests/appliance/test_staff.py).
    """

    async def check(request: Request[Any, Any, Any]) -> None:
        await check_staff(tokens(), request, request.route_handler)

    return check


async def check_staff(
    tokens: NamedDependency[StaffTokens],
    connection: ASGIConnection[Any, Any, Any, Any],
    handler: BaseRouteHandler,
) -> None:
    """Authenticate the staff token and check the route's roles (routes without roles are public).

    ``async`` on purpose: Litestar runs a plain function guard in a worker thread, which cost
    7 % of a scan's CPU; checking an HMAC is far cheaper than the thread hop.
    """
    allowed: tuple[StaffRole, ...] | None = handler.opt.get("roles")
    if allowed is None:
        return
    token = presented_token(connection)
    if token is None and handler.opt.get("kiosk_cookie"):
        token = connection.cookies.get(KIOSK_COOKIE)  # only routes that opt in (``/api/v1/live``)
    claims = tokens.verify(token)
    if claims.role not in allowed and claims.role != StaffRole.ORGANIZER:
        raise forbidden(claims.role, allowed)
    connection.scope["staff"] = claims  # type: ignore[typeddict-unknown-key]


def forbidden(role: StaffRole, allowed: tuple[StaffRole, ...]) -> Forbidden:
    """A refusal naming the roles that would do ("a door account cannot do this; it needs desk or organizer").

    Organizers may call every route, so they are always among ``details.allowed_roles``.
    """
    names = [r.value for r in StaffRole if r in allowed or r == StaffRole.ORGANIZER]
    needs = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    return Forbidden(f"a {role.value} account cannot do this; it needs {needs}", allowed_roles=names)


def staff_of(request: Request[Any, Any, Any]) -> StaffClaims:
    claims: StaffClaims = request.scope["staff"]  # type: ignore[typeddict-item]
    return claims
