"""The client side of sync: keep a replica's documents in sync with one upstream.

An appliance runs one :class:`SyncClient` per upstream (the hub, and each
peer appliance found on the LAN).  Each document gets its own WebSocket, as
in y-websocket, and its own reconnect loop: exponential backoff with full
jitter (so fifty appliances coming back after an outage do not reconnect in
lockstep), reset once a connection has stayed up for a while.  A refusal
that retrying cannot fix (bad token, forbidden, unknown document) waits the
longest delay and is reported in :attr:`SyncClient.status`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import httpx
import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from sync.names import DocName
from sync.permissions import Decision, PeerIdentity, may_write
from sync.protocol import DEFAULT_MAX_MESSAGE, ProtocolError
from sync.replica import Replica
from sync.session import PERMANENT, ChannelClosed, CloseCode, SyncSession

log = logging.getLogger(__name__)


class WebsocketsChannel:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, data: bytes) -> None:
        try:
            await self.ws.send(data)
        except ConnectionClosed as exc:
            raise ChannelClosed(*_code_reason(exc)) from None

    async def recv(self) -> bytes:
        try:
            data = await self.ws.recv()
        except ConnectionClosed as exc:
            raise ChannelClosed(*_code_reason(exc)) from None
        if isinstance(data, str):
            raise ProtocolError("text_frame", "text frames are not part of the sync protocol")
        return data

    async def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close(code, reason)


def _code_reason(exc: ConnectionClosed) -> tuple[int, str]:
    frame = exc.rcvd or exc.sent
    return (frame.code, frame.reason) if frame is not None else (CloseCode.GOING_AWAY, "connection lost")


@dataclass(frozen=True, slots=True)
class Backoff:
    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        return random.uniform(0, min(self.cap, self.base * 2 ** min(attempt, 30)))


@dataclass(slots=True)
class DocStatus:
    state: Literal["connecting", "syncing", "synced", "waiting", "refused"] = "connecting"
    attempts: int = 0
    last_error: str = ""


_NEVER = DocStatus(state="waiting")


@dataclass
class SyncClient:
    replica: Replica
    url: str  # http(s)://host:port of the upstream
    token: str
    identity: PeerIdentity  # who we are (decides what we push)
    remote_peer: str = "upstream"  # who they are, for acknowledgement counts
    documents: Iterable[str] | None = None  # None: ask the upstream (GET /sync)
    refresh_interval: float = 30.0
    backoff: Backoff = field(default_factory=Backoff)
    stable_after: float = 10.0
    max_message: int = DEFAULT_MAX_MESSAGE
    status: dict[str, DocStatus] = field(default_factory=dict)
    _tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    _supervisor: asyncio.Task[None] | None = None
    _progress: asyncio.Event = field(default_factory=asyncio.Event)

    def start(self) -> None:
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise())

    async def stop(self) -> None:
        tasks = [t for t in [self._supervisor, *self._tasks.values()] if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def wait_synced(self, documents: Iterable[str]) -> None:
        """Wait until each document has completed a handshake (both Step 2s seen).

        Bound it with ``asyncio.timeout``; :attr:`status` says why it did not happen.
        """
        names = list(documents)
        while not all(self.status.get(n, _NEVER).state == "synced" for n in names):
            self._progress.clear()
            await self._progress.wait()

    def _ensure(self, name: str) -> None:
        if name not in self._tasks:
            self.status[name] = DocStatus()
            self._tasks[name] = asyncio.get_running_loop().create_task(self._run_doc(name))

    async def _supervise(self) -> None:
        if self.documents is not None:
            for name in self.documents:
                self._ensure(name)
            return
        attempt = 0
        while True:
            try:
                for name in await self._discover():
                    self._ensure(name)
                attempt = 0
                await asyncio.sleep(self.refresh_interval)
            except (httpx.HTTPError, ValueError) as exc:
                log.info("cannot list documents at %s: %s", self.url, exc)
                await asyncio.sleep(self.backoff.delay(attempt))
                attempt += 1

    async def _discover(self) -> list[str]:
        """What the upstream offers, plus what only we have and may push (our own log)."""
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.get(f"{self.url}/sync", headers={"Authorization": f"Bearer {self.token}"})
            response.raise_for_status()
            names = response.json()["documents"]
        if not isinstance(names, list):
            raise ValueError("malformed document list")
        ours = set(await self.replica.store.documents()) | set(self.replica.loaded())
        for name in ours:
            doc = DocName.parse(name)
            if may_write(self.identity, doc):
                names.append(name)
        return sorted({str(n) for n in names})

    def _ws_url(self, name: str) -> str:
        base = self.url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return f"{base}/sync/{name}"

    async def _run_doc(self, name: str) -> None:
        doc = DocName.parse(name)
        status = self.status[name]
        attempt = 0
        while True:
            started = time.monotonic()
            code: int | None = None
            status.state = "connecting"
            status.attempts += 1
            try:
                async with connect(
                    self._ws_url(name),
                    additional_headers={"Authorization": f"Bearer {self.token}"},
                    max_size=self.max_message + 64,
                    open_timeout=10,
                    ping_interval=20,
                    ping_timeout=20,
                ) as ws:
                    status.state = "syncing"
                    session = SyncSession(
                        self.replica,
                        doc,
                        WebsocketsChannel(ws),
                        remote_peer=self.remote_peer,
                        accept=Decision(True),  # we chose this upstream and authenticated to it
                        send_content=bool(may_write(self.identity, doc)),
                        max_message=self.max_message,
                    )
                    watcher = asyncio.create_task(self._mark_synced(session, status))
                    try:
                        await session.run()
                    finally:
                        watcher.cancel()
                    closed = session.remote_close
                    code = session.close_code or (closed.code if closed else None)
                    status.last_error = session.close_reason or (closed.reason if closed else "")
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as exc:
                status.last_error = f"{type(exc).__name__}: {exc}"
            self._progress.set()
            if time.monotonic() - started > self.stable_after:
                attempt = 0
            if code in PERMANENT:
                status.state = "refused"
                log.error("sync of %s refused by %s: %s", name, self.url, status.last_error)
                delay = self.backoff.cap
            else:
                status.state = "waiting"
                delay = self.backoff.delay(attempt)
            attempt += 1
            await asyncio.sleep(delay)

    async def _mark_synced(self, session: SyncSession, status: DocStatus) -> None:
        await session.synced.wait()
        status.state = "synced"
        self._progress.set()
