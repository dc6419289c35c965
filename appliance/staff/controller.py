"""Staff sign-in over HTTP: a name and PIN for a token that lasts a shift."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from appliance.staff.guard import ALL_ROLES, roles, staff_of
from appliance.staff.service import StaffClaims, StaffDirectory, StaffRole, StaffTokens


class SignIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    secret: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class SignedIn(msgspec.Struct):
    token: str
    staff_id: str
    name: str
    role: StaffRole
    expires_at: int


@post(
    "/api/v1/auth/login", summary="Sign in with a name and PIN or password", tags=["staff"], status_code=200
)
async def login(
    request: Request[Any, Any, Any],
    data: JSONBody[SignIn],
    staff: NamedDependency[StaffDirectory],
    tokens: NamedDependency[StaffTokens],
) -> SignedIn:
    """Wrong PINs are bounded per account (423 ``locked``) and per client address (429
    ``too_many_attempts``), both with ``Retry-After``."""
    address = request.client.host if request.client else ""
    claims = await staff.sign_in(data.name, data.secret, address)
    token = tokens.issue(claims.sub, claims.name, claims.role)
    verified = tokens.verify(token)
    return SignedIn(token, claims.sub, claims.name, claims.role, verified.exp)


@get("/api/v1/auth/me", summary="Who this token belongs to", tags=["staff"], opt=roles(*ALL_ROLES))
async def me(request: Request[Any, Any, Any]) -> StaffClaims:
    return staff_of(request)


ROUTES = [login, me]
