"""One document kept in sync with one remote peer over one channel.

Transport-agnostic: the Litestar route (server side) and the websockets
client (client side) both wrap their socket as a :class:`Channel` and run a
:class:`SyncSession`.  The exchange is y-protocols' (y-websocket-compatible):

1. both sides send Step 1 (their state vector) on connect;
2. each answers a Step 1 with Step 2 (what the other lacks);
3. then updates stream both ways as type-2 messages.

Acknowledgement: after storing what a peer sent, we send a fresh Step 1
(debounced).  The peer reads our state vector as proof that its updates are
durable here; its Step 2 reply is then empty and ignored.

What a peer may send is decided once, at connect (``accept``): an update to
a document it may not write is refused with close code 4403 and a reason,
unless it adds nothing we do not already have (a read-only client echoing
our own state back in its Step 2, as y-websocket does).  What a writer's
update holds is judged before it is stored (:func:`~sync.documents.screen_update`):
a root the document does not have, or a shared type nested in it, closes
with 4400; a record kind the writer's ``capabilities`` do not allow, with
4403.  Either way nothing of the update is stored, applied or relayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from enum import IntEnum
from typing import Protocol

from sync.documents import UpdateRefused, screen_update
from sync.names import DocName
from sync.permissions import Capability, Decision, PeerIdentity
from sync.protocol import (
    DEFAULT_MAX_MESSAGE,
    AuthMessage,
    AwarenessMessage,
    MessageTooLarge,
    ProtocolError,
    QueryAwarenessMessage,
    SyncMessage,
    SyncType,
    decode,
    step1,
    step2,
    update_message,
)
from sync.replica import Replica
from sync.store import StorageError

log = logging.getLogger(__name__)

EMPTY_UPDATE = b"\x00\x00"


class CloseCode(IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001
    TRY_AGAIN_LATER = 1013
    INTERNAL = 1011
    BAD_MESSAGE = 4400
    UNAUTHORIZED = 4401
    FORBIDDEN = 4403
    UNKNOWN_DOCUMENT = 4404
    TOO_LARGE = 4413


#: Close codes after which reconnecting with the same credentials (and data) cannot help.
PERMANENT = frozenset(
    {CloseCode.UNAUTHORIZED, CloseCode.FORBIDDEN, CloseCode.UNKNOWN_DOCUMENT, CloseCode.TOO_LARGE}
)


class ChannelClosed(Exception):
    def __init__(self, code: int = CloseCode.NORMAL, reason: str = "") -> None:
        super().__init__(f"closed ({code}): {reason}" if reason else f"closed ({code})")
        self.code = code
        self.reason = reason


class Channel(Protocol):
    async def send(self, data: bytes) -> None: ...

    async def recv(self) -> bytes:
        """The next binary message; raise :class:`ChannelClosed` when the peer is gone."""
        ...

    async def close(self, code: int, reason: str) -> None: ...


def close_reason(text: str) -> str:
    """A WebSocket close reason is at most 123 bytes of UTF-8."""
    data = text.encode()
    if len(data) <= 123:
        return text
    return data[:120].decode("utf-8", "ignore") + "..."


class SyncSession:
    def __init__(
        self,
        replica: Replica,
        name: DocName,
        channel: Channel,
        *,
        remote_peer: str,
        accept: Decision,
        capabilities: frozenset[Capability] | None = None,
        peer: PeerIdentity | None = None,
        send_content: bool = True,
        max_message: int = DEFAULT_MAX_MESSAGE,
        ack_delay: float = 0.2,
        queue_limit: int = 10_000,
        on_awareness: Callable[[SyncSession, bytes], None] | None = None,
    ) -> None:
        self.replica = replica
        self.name = name
        self.key = str(name)
        self.channel = channel
        self.remote_peer = remote_peer
        self.accept = accept
        #: What the peer's updates may append (:func:`sync.permissions.may_append`); None: any kind.
        self.capabilities = capabilities
        #: Who the peer is, when a server authenticated it (to close a revoked device's sessions).
        self.peer = peer
        self.send_content = send_content
        self.max_message = max_message
        self.ack_delay = ack_delay
        self.queue_limit = queue_limit
        self.on_awareness = on_awareness
        self.synced = asyncio.Event()
        self.close_code: int | None = None  # set when we closed, with our reason
        self.close_reason = ""
        self.remote_close: ChannelClosed | None = None  # set when the peer closed
        self._out: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._ack: asyncio.TimerHandle | None = None
        self._closing = False
        self._generation = replica.generation(name)
        self._acks: set[asyncio.Task[None]] = set()

    # --- outbound --------------------------------------------------------------------

    def send(self, frame: bytes) -> None:
        if self._closing:
            return
        if self._out.qsize() >= self.queue_limit:
            # A peer this far behind resyncs faster from a fresh Step 2 than from a backlog.
            self._closing = True
            self._out.put_nowait(None)
            self.close_code, self.close_reason = (
                CloseCode.TRY_AGAIN_LATER,
                "peer too slow; reconnect to resync",
            )
            return
        self._out.put_nowait(frame)

    def _on_update(self, doc: str, update: bytes, source: object) -> None:
        if doc == self.key and source is not self and self.send_content:
            self.send(update_message(update))

    def _schedule_ack(self) -> None:
        if self._ack is None:
            self._ack = asyncio.get_running_loop().call_later(self.ack_delay, self._send_ack)

    def _send_ack(self) -> None:
        self._ack = None
        if self.replica.generation(self.key) == self._generation:  # else the session ends on its next use
            task = asyncio.get_running_loop().create_task(self._ack_now())
            self._acks.add(task)
            task.add_done_callback(self._acks.discard)

    async def _ack_now(self) -> None:
        with contextlib.suppress(Exception):  # a failing load ends the session on its next use
            self.send(step1(await self.replica.state_vector(self.key)))

    def _loaded(self) -> None:
        """Refuse to go on with a document the replica dropped after a failed write.

        Its in-memory copy may have held state that was never stored; the
        peer reconnects and syncs against the copy reloaded from the store.
        (A document dropped because it sat idle is simply reloaded.)
        """
        if self.replica.generation(self.key) != self._generation:
            raise StorageError("reloading", "the document is being reloaded after a failed write")

    async def _sender(self) -> None:
        while True:
            frame = await self._out.get()
            if frame is None:
                return
            await self.channel.send(frame)

    # --- the session ------------------------------------------------------------------

    async def run(self) -> None:
        """Sync until the channel closes; close it with a reason on any refusal."""
        await self.replica.open(self.key)
        unsubscribe = self.replica.subscribe(self._on_update)
        sender = asyncio.create_task(self._sender())
        receiver = asyncio.create_task(self._receive_loop())
        try:
            self.send(step1(await self.replica.state_vector(self.key)))
            done, _ = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                exc = task.exception()
                if isinstance(exc, ChannelClosed):
                    self.remote_close = exc
                elif exc is not None:
                    raise exc
            if self.close_code is not None:
                await self._close(self.close_code, self.close_reason)
        except ProtocolError as exc:
            code = CloseCode.TOO_LARGE if isinstance(exc, MessageTooLarge) else CloseCode.BAD_MESSAGE
            await self._close(code, f"{exc.code}: {exc}")
        except StorageError as exc:
            await self._close(CloseCode.INTERNAL, f"not stored, retry later: {exc.reason}")
        except _Refused as exc:
            await self._close(CloseCode.FORBIDDEN, str(exc))
        except UpdateRefused as exc:
            code = CloseCode.FORBIDDEN if exc.code == "not_allowed" else CloseCode.BAD_MESSAGE
            await self._close(code, f"{exc.code}: {exc}")
        except TooLargeToSync as exc:
            log.error("%s", exc)
            await self._close(CloseCode.INTERNAL, "document too large for one message")
        finally:
            unsubscribe()
            if self._ack is not None:
                self._ack.cancel()
            for task in (sender, receiver):
                task.cancel()
            await asyncio.gather(sender, receiver, return_exceptions=True)

    async def _close(self, code: int, reason: str) -> None:
        self.close_code, self.close_reason = code, reason
        if code not in (CloseCode.NORMAL, CloseCode.GOING_AWAY):
            log.warning("sync %s with %s closed: %s %s", self.key, self.remote_peer, code, reason)
        with contextlib.suppress(Exception):
            await self.channel.close(code, close_reason(reason))

    async def _receive_loop(self) -> None:
        while True:
            frame = await self.channel.recv()
            await self.handle(decode(frame, self.max_message))

    async def handle(self, message: object) -> None:
        match message:
            case SyncMessage(SyncType.STEP1, state_vector):
                self._loaded()
                reply = await self.replica.diff(self.key, state_vector) if self.send_content else EMPTY_UPDATE
                if len(reply) + 16 > self.max_message:
                    # The peer would refuse it and we would retry forever: say why, once.
                    raise TooLargeToSync(
                        f"{self.key} needs {len(reply)} bytes in one Step 2,"
                        f" over the {self.max_message} limit"
                    )
                self.send(step2(reply))
                await self.replica.peer_reported(self.remote_peer, self.key, state_vector)
            case SyncMessage(kind, update):
                changed = await self._receive_update(update)
                if kind == SyncType.STEP2:
                    self.synced.set()
                if changed:
                    self._schedule_ack()
            case AwarenessMessage(payload):
                if self.on_awareness is not None:
                    self.on_awareness(self, payload)
            case QueryAwarenessMessage():
                pass  # awareness is relayed live, never stored
            case AuthMessage(denied=True, reason=reason):
                # y-protocols' "permission denied": the peer refuses this sync, so we end it
                # with a refusal code (never 1000, which would read as a clean goodbye).
                raise _Refused(f"peer denied access: {reason}")

    async def _receive_update(self, update: bytes) -> bool:
        if not self.accept:
            self._loaded()
            if await self.replica.covers(self.key, update):
                return False
            raise _Refused(self.accept.reason)
        return await self.replica.receive(self.key, update, self.remote_peer, source=self, check=self._screen)

    def _screen(self, news: bytes) -> None:
        screen_update(self.name, news, self.capabilities)


class _Refused(Exception):
    pass


class TooLargeToSync(Exception):
    """Our Step 2 would exceed the message cap (a device log past ~90,000-135,000 scans)."""
