"""The server side of sync, mounted as Litestar routes by the appliance and the hub.

DESIGN.md keeps HTTP frameworks out of ``sync/``; this module is the one,
deliberate exception (docs/architecture.md): a thin adapter from a Litestar
``WebSocket`` to :class:`~sync.session.Channel`.  Keeping it here is what
lets the hub and the appliance serve sync with exactly the same code
instead of two copies.

Routes:

* ``WS /sync/{document}`` — y-websocket-compatible; a standard JavaScript
  ``WebsocketProvider(url + '/sync', 'event/e1/control', doc)`` works as is.
* ``GET /sync`` — the documents the caller may read (a client uses it to
  learn about devices that joined the event).

Authentication: a bearer token in ``Authorization`` or, because browsers
cannot set headers on a WebSocket, in the ``token`` query parameter.  The
socket is accepted before it is refused, so the close code and reason
reach the client (a refused handshake is an opaque 403 in browsers).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from litestar import Request, Router, get, websocket
from litestar.connection import ASGIConnection, WebSocket
from litestar.exceptions import NotAuthorizedException
from litestar.params import FromPath

from sync.names import DocName, UnknownDocument
from sync.permissions import PeerIdentity, may_read, may_write
from sync.protocol import DEFAULT_MAX_MESSAGE, AwarenessMessage, ProtocolError, encode
from sync.replica import Replica
from sync.session import ChannelClosed, CloseCode, SyncSession, close_reason
from sync.tokens import Authenticator, InvalidToken

log = logging.getLogger(__name__)


class LitestarChannel:
    def __init__(self, socket: WebSocket[Any, Any, Any]) -> None:
        self.socket = socket

    async def send(self, data: bytes) -> None:
        try:
            await self.socket.send_bytes(data)
        except Exception as exc:  # the client vanished between two frames
            raise ChannelClosed(CloseCode.GOING_AWAY, str(exc)) from None

    async def recv(self) -> bytes:
        event: dict[str, Any] = dict(await self.socket.receive())
        if event["type"] == "websocket.disconnect":
            raise ChannelClosed(int(event.get("code", CloseCode.NORMAL)), str(event.get("reason") or ""))
        data = event.get("bytes")
        if data is None:
            raise ProtocolError("text_frame", "text frames are not part of the sync protocol")
        return bytes(data)

    async def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.socket.close(code, close_reason(reason))


def presented_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    auth = connection.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return connection.query_params.get("token")


class SyncService:
    """The documents this process serves and the peers connected to them."""

    def __init__(
        self,
        replica: Replica,
        authenticate: Authenticator,
        *,
        events: Callable[[], set[str]],
        max_message: int = DEFAULT_MAX_MESSAGE,
    ) -> None:
        self.replica = replica
        self.authenticate = authenticate
        self.events = events
        self.max_message = max_message
        self.sessions: dict[str, set[SyncSession]] = defaultdict(set)

    async def identify(self, token: str | None) -> PeerIdentity:
        """The peer behind a token; the hook may be async (the hub looks credentials up in PostgreSQL)."""
        peer = self.authenticate(token)
        if inspect.isawaitable(peer):
            peer = await peer
        assert isinstance(peer, PeerIdentity)
        return peer

    def resolve(self, name: str) -> DocName:
        doc = DocName.parse(name)
        if doc.event_id not in self.events():
            raise UnknownDocument(f"unknown document {name!r}: event {doc.event_id} is not served here")
        return doc

    async def serve(self, socket: WebSocket[Any, Any, Any], name: str) -> None:
        channel = LitestarChannel(socket)
        await socket.accept()
        try:
            peer = await self.identify(presented_token(socket))
        except InvalidToken as exc:
            await channel.close(CloseCode.UNAUTHORIZED, f"unauthorized: {exc}")
            return
        try:
            doc = self.resolve(name)
        except UnknownDocument as exc:
            await channel.close(CloseCode.UNKNOWN_DOCUMENT, str(exc))
            return
        readable = may_read(peer, doc)
        if not readable:
            await channel.close(CloseCode.FORBIDDEN, f"forbidden: {readable.reason}")
            return
        session = SyncSession(
            self.replica,
            doc,
            channel,
            remote_peer=peer.peer_id,
            accept=may_write(peer, doc),
            max_message=self.max_message,
            on_awareness=self.relay_awareness,
        )
        self.sessions[session.key].add(session)
        try:
            await session.run()
        finally:
            self.sessions[session.key].discard(session)
            if session.close_code is None:
                await channel.close(CloseCode.NORMAL, "")

    def relay_awareness(self, source: SyncSession, payload: bytes) -> None:
        frame = encode(AwarenessMessage(payload))
        for other in self.sessions.get(source.key, ()):
            if other is not source:
                other.send(frame)

    async def readable_documents(self, peer: PeerIdentity) -> list[str]:
        names = set(await self.replica.store.documents()) | set(self.replica.loaded())
        names |= {str(DocName.control(event)) for event in self.events()}
        out = []
        for name in sorted(names):
            try:
                doc = self.resolve(name)
            except UnknownDocument:
                continue
            if may_read(peer, doc):
                out.append(name)
        return out

    def connected(self) -> dict[str, list[str]]:
        return {
            key: sorted(s.remote_peer for s in sessions)
            for key, sessions in self.sessions.items()
            if sessions
        }

    async def disconnect(self, peer_id: str, reason: str) -> int:
        """Close every session of one peer (a revoked device); returns how many were open."""
        closed = 0
        for sessions in list(self.sessions.values()):
            for session in list(sessions):
                if session.remote_peer == peer_id:
                    await session.channel.close(CloseCode.UNAUTHORIZED, reason)
                    closed += 1
        return closed

    async def shutdown(self) -> None:
        for sessions in list(self.sessions.values()):
            for session in list(sessions):
                await session.channel.close(CloseCode.GOING_AWAY, "server shutting down")


def sync_router(service: SyncService) -> Router:
    @websocket("/{name:path}")
    async def sync_socket(socket: WebSocket[Any, Any, Any], name: FromPath[str]) -> None:
        await service.serve(socket, name.lstrip("/"))

    @get("/", summary="Documents the caller may sync")
    async def list_documents(request: Request[Any, Any, Any]) -> dict[str, list[str]]:
        try:
            peer = await service.identify(presented_token(request))
        except InvalidToken as exc:
            raise NotAuthorizedException(detail=str(exc)) from None
        return {"documents": await service.readable_documents(peer)}

    return Router(path="/sync", route_handlers=[sync_socket, list_documents], tags=["sync"])
