"""The client side of sync: keep a replica's documents in sync with one upstream.

An appliance runs one :class:`SyncClient` per upstream (the hub, and each
peer appliance found on the LAN).  Each document gets its own WebSocket, as
in y-websocket, and its own reconnect loop (a
:class:`~konferenco.lifecycle.Supervised` task, listed in
:attr:`SyncClient.tasks`): exponential backoff with full jitter (so fifty
appliances coming back after an outage do not reconnect in lockstep), reset
once a connection has stayed up for a while.  A refusal that retrying
cannot fix (bad token, forbidden, unknown document) waits the longest delay
and is reported in :attr:`SyncClient.status`.

With ``trust``, the client sends a challenge on every connection and syncs
only once the upstream has proved it is the hub this box enrolled with, or
a device the event certified and did not revoke (sync/peer_proof.py).  An
upstream that cannot is *untrusted*: nothing is sent to it, and
:attr:`SyncClient.untrusted` says why until it proves itself.  With
``prover`` and no token, the client authenticates with its own certificate.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import httpx
import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from konferenco.lifecycle import Periodic, RetryLater, Supervised
from konferenco.types import now_ms
from sync.names import DocName, UnknownDocument
from sync.peer_proof import (
    CHALLENGE_HEADER,
    PROOF_HEADER,
    Prover,
    Trust,
    UntrustedPeer,
    client_token,
    decode_b64,
    encode_b64,
    new_challenge,
    read_proof_header,
    verify_proof,
)
from sync.permissions import Decision, PeerIdentity, Role, may_write
from sync.protocol import DEFAULT_MAX_MESSAGE, ProtocolError, decode_state_vector
from sync.replica import Replica
from sync.session import PERMANENT, ChannelClosed, CloseCode, SyncSession

log = logging.getLogger(__name__)

#: Longest a handshake keeps its place waiting for the upstream to acknowledge our Step 2 (seconds).
ACK_WAIT = 30.0


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


class SessionEnded(ConnectionError):
    """A document's connection closed (or never opened): its loop reconnects after a backoff."""


@dataclass(frozen=True, slots=True)
class Backoff:
    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        return random.uniform(0, min(self.cap, self.base * 2 ** min(attempt, 30)))


@dataclass(slots=True)
class DocStatus:
    #: ``queued``: waiting for one of the few handshake places (:attr:`SyncClient.handshakes`).
    state: Literal["queued", "connecting", "syncing", "synced", "waiting", "refused"] = "queued"
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
    _docs: dict[str, Supervised] = field(default_factory=dict)
    _listing: Supervised | None = None
    _progress: asyncio.Event = field(default_factory=asyncio.Event)
    #: Documents syncing their first exchange at once (see :meth:`_sync_once`).
    handshakes: int = 4
    _handshaking: asyncio.Semaphore | None = None
    #: What this box knows to check the upstream's proof; None: trust the URL (tests, tools).
    trust: Trust | None = None
    #: The upstream must prove it is the hub (not merely a certified device).
    expect_hub: bool = False
    #: Our own certificate, to authenticate without a token (``token`` empty).
    prover: Prover | None = None
    #: Why the upstream is not trusted (its last failed proof), with when (ms); None once it proves itself.
    untrusted: UntrustedUpstream | None = None

    def start(self) -> None:
        """Connect every document (given, or listed by the upstream and refreshed); returns at once."""
        if self.documents is not None:
            for name in self.documents:
                self._ensure(name)
            return
        self._listing = Periodic(
            f"sync {self.remote_peer}: document list",
            self._refresh,
            self.refresh_interval,
            backoff=(self.backoff.base, self.backoff.cap),
            jitter=1.0,
            expected=(httpx.HTTPError, ValueError),
            logger=log,
        )
        self._listing.start()

    async def stop(self) -> None:
        tasks = [t for t in [self._listing, *self._docs.values()] if t is not None]
        await asyncio.gather(*(task.stop() for task in tasks))
        self._docs.clear()

    @property
    def tasks(self) -> list[Supervised]:
        """The document list's refresh (when the upstream lists them) and one reconnect loop per document."""
        return [t for t in [self._listing, *self._docs.values()] if t is not None]

    async def wait_synced(self, documents: Iterable[str]) -> None:
        """Wait until each document has completed a handshake (both Step 2s seen).

        Bound it with ``asyncio.timeout``; :attr:`status` says why it did not happen.
        """
        names = list(documents)
        while not all(self.status.get(n, _NEVER).state == "synced" for n in names):
            self._progress.clear()
            await self._progress.wait()

    def _ensure(self, name: str) -> None:
        if name not in self._docs:
            self.status[name] = DocStatus()
            task = Supervised(
                f"sync {self.remote_peer}: {name}",
                functools.partial(self._sync_once, name),
                backoff=(self.backoff.base, self.backoff.cap),
                jitter=1.0,  # full jitter, as Backoff.delay
                stable_after=self.stable_after,
                expected=(SessionEnded,),
                logger=log,
            )
            self._docs[name] = task
            task.start()

    async def _refresh(self) -> None:
        for name in await self._discover():
            self._ensure(name)

    async def _bearer(self, document: str) -> str:
        """Our token, or, with no token, a ``kc1.`` answer to a challenge the upstream just gave us."""
        if self.token or self.prover is None:
            return self.token
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.get(f"{self.url}/sync/challenge")
        response.raise_for_status()
        challenge = decode_b64(str(response.json()["challenge"]))
        try:
            return client_token(self.prover, challenge, document)
        except UntrustedPeer as exc:  # we hold no certificate for this event
            raise SessionEnded(f"cannot authenticate to {self.url}: {exc}") from None

    async def _discover(self) -> list[str]:
        """What the upstream offers, plus what only we have and may push (our own log)."""
        bearer = await self._bearer(str(DocName.control(self.identity.events[0])))
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.get(f"{self.url}/sync", headers={"Authorization": f"Bearer {bearer}"})
            response.raise_for_status()
            names = response.json()["documents"]
        if not isinstance(names, list):
            raise ValueError("malformed document list")
        # Only documents of our own events: an upstream may serve others, which are none of ours.
        names = [n for n in names if isinstance(n, str) and _of_events(n, self.identity)]
        ours = set(await self.replica.store.documents()) | set(self.replica.loaded())
        for name in ours:
            doc = DocName.parse(name)
            if may_write(self.identity, doc):
                names.append(name)
        return sorted({str(n) for n in names})

    def _ws_url(self, name: str) -> str:
        base = self.url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return f"{base}/sync/{name}"

    async def _sync_once(self, name: str) -> None:
        """One connection of one document, until it closes; always raises, so its loop reconnects."""
        doc = DocName.parse(name)
        status = self.status[name]
        code: int | None = None
        # A box back from a night offline has dozens of shards to exchange; all at once,
        # the upstream would decode them in one burst while its door waits, and hold them
        # all in memory. A few at a time, each handshake is over in milliseconds.
        if self._handshaking is None:
            self._handshaking = asyncio.Semaphore(self.handshakes)
        slot = _Slot(self._handshaking)
        status.state = "queued"
        await slot.take()
        try:
            status.state = "connecting"
            status.attempts += 1
            challenge = new_challenge() if self.trust is not None else None
            try:
                headers = {"Authorization": f"Bearer {await self._bearer(name)}"}
                if challenge is not None:
                    headers[CHALLENGE_HEADER] = encode_b64(challenge)
                async with connect(
                    self._ws_url(name),
                    additional_headers=headers,
                    max_size=self.max_message + 64,
                    open_timeout=10,
                    ping_interval=20,
                    ping_timeout=20,
                ) as ws:
                    if challenge is not None:
                        self._check_upstream(ws, challenge, doc)
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
                    watcher = asyncio.create_task(self._mark_synced(session, status, slot))
                    try:
                        await session.run()
                    finally:
                        watcher.cancel()
                    closed = session.remote_close
                    code = session.close_code or (closed.code if closed else None)
                    status.last_error = session.close_reason or (closed.reason if closed else "")
            except UntrustedPeer as exc:
                status.state, status.last_error = "refused", f"untrusted upstream: {exc}"
                self.untrusted = UntrustedUpstream(self.url, str(exc), now_ms(), doc.event_id)
                self._progress.set()
                log.error("sync of %s: %s is not trusted: %s", name, self.url, exc)
                raise RetryLater(f"untrusted upstream {self.url}: {exc}", self.backoff.cap) from None
            except (OSError, TimeoutError, httpx.HTTPError, websockets.exceptions.WebSocketException) as exc:
                status.last_error = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # not a network problem: retried all the same, logged with its traceback
                status.state, status.last_error = "waiting", f"{type(exc).__name__}: {exc}"
                self._progress.set()
                raise
            self._progress.set()
            if code in PERMANENT:
                status.state = "refused"
                log.error("sync of %s refused by %s: %s", name, self.url, status.last_error)
                raise RetryLater(f"refused by {self.url}: {status.last_error}", self.backoff.cap)
            status.state = "waiting"
            raise SessionEnded(status.last_error or "the connection closed")
        finally:
            slot.give_back()  # if the handshake never finished

    def _check_upstream(self, ws: ClientConnection, challenge: bytes, doc: DocName) -> None:
        """Raise :class:`UntrustedPeer` unless the upstream's answer proves it is who we need."""
        assert self.trust is not None
        response = ws.response
        proof = read_proof_header(response.headers.get(PROOF_HEADER) if response is not None else None)
        who = verify_proof(proof, "server", challenge, str(doc), self.trust, event_id=doc.event_id)
        if self.expect_hub and who.role != Role.HUB:
            raise UntrustedPeer(
                f"it proved to be device {who.device_id!r}, not the hub this box enrolled with"
            )
        self.untrusted = None

    async def _mark_synced(self, session: SyncSession, status: DocStatus, slot: _Slot) -> None:
        await session.synced.wait()
        status.state = "synced"
        self._progress.set()
        if session.send_content:
            # The handshake is over once the upstream has what we sent: it says so with
            # its next Step 1 (sent after storing and applying), not when our bytes left.
            ours = decode_state_vector(await self.replica.state_vector(session.key))
            waited = 0.0
            while not self.replica.acks.has(self.remote_peer, session.key, ours) and waited < ACK_WAIT:
                await asyncio.sleep(0.05)
                waited += 0.05
        slot.give_back()


def _of_events(name: str, identity: PeerIdentity) -> bool:
    try:
        return identity.in_event(DocName.parse(name).event_id)
    except UnknownDocument:
        return False


@dataclass(frozen=True, slots=True)
class UntrustedUpstream:
    """An upstream that failed to prove itself: where, why, and when (ms), for /healthz."""

    url: str
    reason: str
    at: int
    event_id: str = ""  # the event of the document it failed to prove itself for


class _Slot:
    """One place in the handshake semaphore, given back exactly once (synced, failed or closed)."""

    def __init__(self, semaphore: asyncio.Semaphore) -> None:
        self._semaphore = semaphore
        self._held = False

    async def take(self) -> None:
        await self._semaphore.acquire()
        self._held = True

    def give_back(self) -> None:
        if self._held:
            self._held = False
            self._semaphore.release()
