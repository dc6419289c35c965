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

Refusals at connect, in order (docs/sync-protocol.md, "Close codes"):

* 4401 — no valid token;
* 4404 — a name that is no document, or a document of an event the peer
  does not belong to, with the same words whether that event is served
  here or not: a peer learns nothing about other events (no existence
  oracle);  a peer of an event this process does not serve is told so;
* 4403 — a device revoked in the event's control document
  (``Revocation(target="device")``).  Revocations reach every replica with
  the control document; when one arrives, the revoked device's open
  sessions in that event are closed with 4403 too.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from pycrdt import Doc

from sync.documents import ControlDoc
from sync.names import DocName, UnknownDocument
from sync.permissions import PeerIdentity, Role, device_capabilities, may_read, may_write
from sync.protocol import DEFAULT_MAX_MESSAGE, AwarenessMessage, encode
from sync.replica import Replica
from sync.session import ChannelClosed, CloseCode, SyncSession, close_reason
from sync.tokens import Authenticator, InvalidToken

log = logging.getLogger(__name__)


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
        self._revoked: dict[str, frozenset[str]] = {}  # event -> revoked device ids (a cache)
        self._tasks: set[asyncio.Task[Any]] = set()
        # Revocations arrive with the control document, from any peer or this process.
        replica.subscribe(self._on_update)

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
            doc = DocName.parse(name)
            if not may_read(peer, doc):
                # The same words whether or not the event exists here: no existence oracle.
                raise UnknownDocument(f"unknown document {name!r}: no such document is served to you here")
            doc = self.resolve(name)
        except UnknownDocument as exc:
            await channel.close(CloseCode.UNKNOWN_DOCUMENT, str(exc))
            return
        revoked = await self.revocation_of(peer, doc.event_id)
        if revoked:
            await channel.close(CloseCode.FORBIDDEN, f"forbidden: {revoked}")
            return
        session = SyncSession(
            self.replica,
            doc,
            channel,
            remote_peer=peer.peer_id,
            accept=may_write(peer, doc),
            capabilities=device_capabilities(peer),
            peer=peer,
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

    async def disconnect(self, peer_id: str, reason: str, code: int = CloseCode.UNAUTHORIZED) -> int:
        """Close every session of one peer (a revoked credential); returns how many were open."""
        closed = 0
        for sessions in list(self.sessions.values()):
            for session in list(sessions):
                if session.remote_peer == peer_id:
                    await session.channel.close(code, reason)
                    closed += 1
        return closed

    # --- revoked devices ------------------------------------------------------------------

    async def revocation_of(self, peer: PeerIdentity, event_id: str) -> str:
        """Why ``peer`` is revoked in the event's control document, or "" if it is not."""
        if peer.role != Role.DEVICE:
            return ""
        revoked = self._revoked.get(event_id)
        if revoked is None:
            revoked = await self.replica.read(DocName.control(event_id), revoked_devices)
            self._revoked[event_id] = revoked
        hit = {peer.peer_id, peer.device_id or peer.peer_id} & revoked
        return f"device {sorted(hit)[0]} is revoked in event {event_id}" if hit else ""

    def _on_update(self, doc: str, update: bytes, source: object) -> None:
        if not doc.endswith("/control"):
            return
        try:
            event_id = DocName.parse(doc).event_id
        except UnknownDocument:
            return
        self._revoked.pop(event_id, None)
        task = asyncio.get_running_loop().create_task(self.close_revoked(event_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close_revoked(self, event_id: str) -> int:
        """Close the open sessions of the event's revoked devices (4403); returns how many."""
        closed = 0
        prefix = f"event/{event_id}/"
        for key, sessions in list(self.sessions.items()):
            if not key.startswith(prefix):
                continue
            for session in list(sessions):
                if session.peer is None:
                    continue
                try:
                    reason = await self.revocation_of(session.peer, event_id)
                except Exception:  # the control document cannot be read now: next update tries again
                    log.exception("could not read the revocations of event %s", event_id)
                    return closed
                if reason:
                    log.warning("closing sync of %s with %s: %s", key, session.remote_peer, reason)
                    await session.channel.close(CloseCode.FORBIDDEN, f"forbidden: {reason}")
                    closed += 1
        return closed

    async def shutdown(self) -> None:
        for sessions in list(self.sessions.values()):
            for session in list(sessions):
                await session.channel.close(CloseCode.GOING_AWAY, "server shutting down")


def revoked_devices(doc: Doc[Any]) -> frozenset[str]:
    """The device ids revoked in a control document."""
    return frozenset(r.value for r in ControlDoc(doc).revocations() if r.target == "device")
