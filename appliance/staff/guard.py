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


def roles(*allowed: StaffRole) -> dict[str, Any]:
    """Route ``opt`` naming the staff roles that may call it."""
    return {"roles": allowed}


Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


def staff_guard(tokens: Callable[[], StaffTokens]) -> Guard:
    """The guard every ``/api/v1`` route carries, checking tokens with the box's staff secret."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        await check_staff(tokens(), connection, handler)

    return guard


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
    claims = tokens.verify(presented_token(connection))
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
