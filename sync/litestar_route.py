"""The sync routes for Litestar: the one module of ``sync/`` that knows a web framework.

A thin adapter (docs/architecture.md, "Departures"): it turns Litestar's
``WebSocket`` into a :class:`~sync.service.PeerConnection` and hands it to
:class:`~sync.service.SyncService`, which does the rest.  The appliance and
the hub mount the same router, so they serve sync with the same code.

Routes:

* ``WS /sync/{document}`` — y-websocket-compatible; a standard JavaScript
  ``WebsocketProvider(url + '/sync', 'event/e1/control', doc)`` works as is.
* ``GET /sync`` — the documents the caller may read (a client uses it to
  learn about devices that joined the event).
* ``GET /sync/challenge`` — a one-time challenge a device signs to
  authenticate with its certificate instead of a token (sync/peer_proof.py).

A client that sends ``Konferenco-Challenge`` on the upgrade gets this end's
proof in the ``Konferenco-Proof`` header of the answer (sync/peer_proof.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Request, Router, get, websocket
from litestar.connection import ASGIConnection, WebSocket
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.params import FromPath

from sync.peer_proof import CHALLENGE_HEADER, Challenges, Prover, encode_b64, proof_header
from sync.protocol import ProtocolError
from sync.service import SyncService, token_of
from sync.session import ChannelClosed, CloseCode
from sync.tokens import InvalidToken


class LitestarConnection:
    """An accepted Litestar ``WebSocket`` as a :class:`~sync.service.PeerConnection`."""

    def __init__(self, socket: WebSocket[Any, Any, Any]) -> None:
        self.socket = socket

    @property
    def headers(self) -> Mapping[str, str]:
        return self.socket.headers  # case-insensitive

    @property
    def query(self) -> Mapping[str, str]:
        return self.socket.query_params

    async def receive_bytes(self) -> bytes:
        event: dict[str, Any] = dict(await self.socket.receive())
        if event["type"] == "websocket.disconnect":
            raise ChannelClosed(int(event.get("code", CloseCode.NORMAL)), str(event.get("reason") or ""))
        data = event.get("bytes")
        if data is None:
            raise ProtocolError("text_frame", "text frames are not part of the sync protocol")
        return bytes(data)

    async def send_bytes(self, data: bytes) -> None:
        await self.socket.send_bytes(data)

    async def close(self, code: int, reason: str) -> None:
        await self.socket.close(code, reason)


def presented_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The token on an HTTP request or a WebSocket: ``Authorization: Bearer …``, else ``?token=…``.

    The query string is parsed only when there is no bearer header: this runs on every scan.
    """
    auth = connection.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return token_of({}, connection.query_params)


def sync_router(
    service: SyncService, *, prover: Prover | None = None, challenges: Challenges | None = None
) -> Router:
    """The sync routes; ``prover``: this end proves itself; ``challenges``: it takes ``kc1.`` tokens."""

    @websocket("/{name:path}")
    async def sync_socket(socket: WebSocket[Any, Any, Any], name: FromPath[str]) -> None:
        document = name.lstrip("/")
        challenge = socket.headers.get(CHALLENGE_HEADER)
        headers = proof_header(prover, challenge, document) if prover is not None and challenge else {}
        # Accepted before the service may refuse it, so the close code and reason reach the client.
        await socket.accept(headers=headers or None)
        await service.serve(LitestarConnection(socket), document)

    @get(
        "/challenge", summary="A one-time challenge for a device's certificate proof", include_in_schema=False
    )
    async def challenge() -> dict[str, Any]:
        if challenges is None:
            raise NotFoundException("this peer does not take device certificates; use a token")
        return {"challenge": encode_b64(challenges.issue()), "expires_in": int(challenges.ttl_s)}

    @get("/", summary="Documents the caller may sync")
    async def list_documents(request: Request[Any, Any, Any]) -> dict[str, list[str]]:
        try:
            peer = await service.identify(presented_token(request))
        except InvalidToken as exc:
            raise NotAuthorizedException(detail=str(exc)) from None
        return {"documents": await service.readable_documents(peer)}

    return Router(path="/sync", route_handlers=[sync_socket, list_documents, challenge], tags=["sync"])
