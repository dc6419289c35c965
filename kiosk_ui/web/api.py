"""The appliance's own HTTP API, called in-process: the kiosk pages hold no business rules.

Every call goes through the same routes, guard and validation as a remote client's, with the
kiosk's token from its cookie as ``Authorization: Bearer``; ASGI in-process saves the socket.
The attendee's address is passed on as the client, so the API's lock-outs (pairing, second
factor) count the kiosk's own address, not one shared by every page request.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from litestar import Request
from litestar.datastructures import Cookie

from kiosk_ui.api_errors import ApiError, api_error

COOKIE = "konferenco_kiosk"

__all__ = ["COOKIE", "Api", "ApiError", "token_cookie", "token_of"]


class Api:
    """One page request's client of the appliance API, signed in as the kiosk (or not at all)."""

    def __init__(self, request: Request[Any, Any, Any], token: str | None) -> None:
        client = request.client
        transport = httpx.ASGITransport(
            app=request.app,  # type: ignore[arg-type]
            client=(client.host, client.port) if client else ("127.0.0.1", 0),
        )
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.AsyncClient(
            transport=transport, base_url="http://appliance", headers=headers, timeout=30
        )

    async def __aenter__(self) -> Api:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The raw answer of a success; an :class:`ApiError` for anything else."""
        response = await self._client.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise api_error(response)
        return response

    async def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return (await self.call(method, path, **kwargs)).json()


def token_of(request: Request[Any, Any, Any]) -> str | None:
    """The kiosk's token from its HttpOnly cookie (never rendered into a page)."""
    return request.cookies.get(COOKIE) or None


def token_cookie(request: Request[Any, Any, Any], key: str, token: str, expires_at_s: float) -> Cookie:
    """The cookie a page keeps a staff token in until ``expires_at_s`` (seconds since the epoch).

    HttpOnly (no script reads it), SameSite=Strict (no other site sends it), and Secure when the
    page came over https; the kiosk and the front page each keep theirs under their own ``key``.
    """
    return Cookie(
        key=key,
        value=token,
        path="/",
        max_age=max(0, int(expires_at_s - time.time())),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
