"""The server side of sync, without a web framework.

:class:`SyncService` authenticates a peer, checks which document it may
read and write, runs one :class:`~sync.session.SyncSession` per connection,
keeps track of the peers connected (to relay awareness, to disconnect a
revoked device, to say who is online) and closes them all at shutdown.

It works on a :class:`PeerConnection`: an accepted WebSocket as a web
framework's adapter presents it.  The only adapter today is
:mod:`sync.litestar_route`, mounted by the appliance and the hub alike, so
both serve sync with exactly the same code (DESIGN.md §1 keeps web
frameworks out of the rest of ``sync/``).

Authentication: a bearer token in ``Authorization`` or, because browsers
cannot set headers on a WebSocket, in the ``token`` query parameter.  The
adapter accepts the socket before the service may refuse it, so the close
code and reason reach the client (a refused handshake is an opaque 403 in
browsers).
"""

from __future__ import annotations

import contextlib
import inspect
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Protocol

from sync.names import DocName, UnknownDocument
from sync.permissions import PeerIdentity, may_read, may_write
from sync.protocol import DEFAULT_MAX_MESSAGE, AwarenessMessage, encode
from sync.replica import Replica
from sync.session import ChannelClosed, CloseCode, SyncSession, close_reason
from sync.tokens import Authenticator, InvalidToken


class PeerConnection(Protocol):
    """One accepted WebSocket from a peer, as a web framework's adapter presents it."""

    @property
    def headers(self) -> Mapping[str, str]:
        """The handshake's headers; looked up by lower-case name, as ASGI gives them."""
        ...

    @property
    def query(self) -> Mapping[str, str]:
        """The handshake URL's query parameters."""
        ...

    async def receive_bytes(self) -> bytes:
        """The next binary message.

        Raise :class:`~sync.session.ChannelClosed` when the peer is gone, and
        :class:`~sync.protocol.ProtocolError` (``text_frame``) for a text message.
        """
        ...

    async def send_bytes(self, data: bytes) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


def token_of(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The token a peer presented: ``Authorization: Bearer …``, else ``?token=…``."""
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return query.get("token")


class ConnectionChannel:
    """A :class:`PeerConnection` as the :class:`~sync.session.Channel` a session runs on."""

    def __init__(self, connection: PeerConnection) -> None:
        self.connection = connection

    async def send(self, data: bytes) -> None:
        try:
            await self.connection.send_bytes(data)
        except Exception as exc:  # the client vanished between two frames
            raise ChannelClosed(CloseCode.GOING_AWAY, str(exc)) from None

    async def recv(self) -> bytes:
        return await self.connection.receive_bytes()

    async def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.connection.close(code, close_reason(reason))


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

    async def serve(self, connection: PeerConnection, name: str) -> None:
        """Sync document ``name`` with the peer on an accepted connection, until either side closes."""
        channel = ConnectionChannel(connection)
        try:
            peer = await self.identify(token_of(connection.headers, connection.query))
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
