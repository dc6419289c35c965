"""Who is calling the JSON API: an organizer's API token (devices are checked by ``DeviceAuth``)."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import Provide

from hub.state import HubState, state_of
from hub.tenants.accounts import API_TOKEN_PREFIX, Principal, principal_for_token
from konferenco.errors import Unauthorized


def bearer(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    auth = connection.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None


async def provide_state(request: Request[Any, Any, Any]) -> HubState:
    return state_of(request)


async def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    """An organizer acting through an API token (``Authorization: Bearer kt1_…``)."""
    token = bearer(request)
    if not token or not token.startswith(API_TOKEN_PREFIX):
        raise Unauthorized(
            "an API token is required (Authorization: Bearer kt1_…); create one in the console or with "
            "POST /api/v1/auth/token"
        )
    return await principal_for_token(state_of(request).db, token)


#: What every organizer route of the JSON API is handed: the hub's state and who is calling.
DEPS = {"hub": Provide(provide_state), "principal": Provide(provide_principal)}
