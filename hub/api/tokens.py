"""``/api/v1/auth``: scripts exchange an organizer's e-mail and password for an API token."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from hub.api.deps import provide_state
from hub.state import HubState
from hub.tenants.accounts import issue_api_token, principal_for, sign_in


class TokenRequest(msgspec.Struct, frozen=True, kw_only=True):
    email: str
    password: str
    organization: str  # the organization's short name
    name: str = "script"


class TokenResponse(msgspec.Struct, frozen=True):
    token: str
    organization: str
    role: str


@post(
    "/api/v1/auth/token",
    summary="Exchange an e-mail and password for an API token",
    dependencies={"hub": Provide(provide_state)},
)
async def create_token(
    request: Request[Any, Any, Any], hub: NamedDependency[HubState], data: JSONBody[TokenRequest]
) -> TokenResponse:
    address = request.client.host if request.client else "unknown"
    account = await sign_in(hub.db, hub.limiter, data.email, data.password, address)
    principal = await principal_for(hub.db, account, data.organization)
    async with hub.db.tenant(principal.org_id) as conn:
        token = await issue_api_token(conn, principal, data.name)
    return TokenResponse(token, principal.org_slug, str(principal.role))


ROUTES = [create_token]
