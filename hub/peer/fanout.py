"""Fan-out between hub workers: what one worker stores, the others apply in memory.

Every worker holds its own in-memory copies of the documents its sync
sessions serve.  An update a worker stores (an appliance's scans, an
organizer's edit) is durable and projected once, by that worker; the
others must still apply it to their copies so *their* sessions relay it
and their state vectors acknowledge it.  PostgreSQL carries the news: every
append notifies ``konferenco_sync`` with ``'<worker> <seq> <doc>'``
(:mod:`hub.peer.store`), delivered only once the append committed.

:class:`Fanout` listens on a dedicated connection.  A notification from
another worker → the row is fetched (a burst of notifications is fetched
with one query) and handed to :meth:`sync.replica.Replica.absorb`.  A row
already compacted away → the document's stored state is absorbed instead
(only what is new in it changes anything, and sessions relay it).

Both loops — holding the connection, applying what arrives — are
:class:`~konferenco.lifecycle.Supervised` tasks (:attr:`Fanout.tasks`):
restarted with backoff when they fail, their health on ``/healthz``.
Notifications sent while the connection is down are lost, so after a
reconnect the fan-out catches up from the log: every row
after the last sequence number it saw, plus every row received shortly
before the connection was lost (a transaction can take its sequence number
before another commits a higher one, and commit after it), plus every
snapshot folded meanwhile (compaction moves rows out of the log).
Applying an update twice is harmless — absorb skips what the document
already covers.

Other hub notices ("device revoked", "catalog changed") ride the same
connection on channels of their own: :meth:`Fanout.on_message` and
:meth:`Fanout.publish`.  Those are live signals only, with no catch-up.

Start the fan-out before :meth:`~sync.replica.Replica.start` loads the
documents, so no update can slip between a load and the ``LISTEN``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import warnings
from collections.abc import Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped, unused-ignore]
from pycrdt import merge_updates

from hub.peer.store import SYNC_CHANNEL, PostgresUpdateStore
from konferenco.lifecycle import Supervised
from konferenco.types import now_ms
from sync.replica import Replica

log = logging.getLogger(__name__)

#: Channel for the hub's own notices (a convention for callers of :meth:`Fanout.publish`).
HUB_CHANNEL = "konferenco_hub"
#: Seconds to wait before the first reconnection attempt, and the longest wait (doubling in between).
BACKOFF = (0.1, 5.0)
#: After a reconnect, rows received this long (ms) before the connection was lost are checked too.
CATCH_UP_GRACE_MS = 60_000

MessageHandler = Callable[[str], object]  # called with the payload; may return an awaitable

_CONNECTION_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)


class ListenLost(ConnectionError):
    """The ``LISTEN`` connection is gone (closed, or silent to a probe): reconnect after a backoff."""


class Fanout:
    """Keeps one replica's in-memory documents up to date with the other workers' appends.

    ``pool_or_dsn``: a DSN for the dedicated ``LISTEN`` connection, or a pool
    to take it from (held for as long as the fan-out runs).  ``worker_id``
    names this worker in notifications; given, it becomes the store's too
    (the store signs its appends with it), otherwise the store's is kept.
    ``backoff``: the first and the longest wait between retries (a longer
    tuple is read as its first and last values).
    """

    def __init__(
        self,
        pool_or_dsn: Any,
        replica: Replica,
        worker_id: str | None = None,
        *,
        backoff: tuple[float, ...] = BACKOFF,
        probe_interval: float = 30.0,
        catch_up_grace_ms: int = CATCH_UP_GRACE_MS,
    ) -> None:
        store = replica.store
        if not isinstance(store, PostgresUpdateStore):
            raise TypeError("the fan-out needs a replica over a PostgresUpdateStore")
        if worker_id is not None and worker_id != store.worker_id:
            if not worker_id or " " in worker_id:
                raise ValueError(f"invalid worker id {worker_id!r}: it may not be empty or hold spaces")
            store.worker_id = worker_id  # its notifications must carry the id we ignore
        self.source = pool_or_dsn
        self.replica = replica
        self.store = store
        self.worker_id = store.worker_id
        self.backoff = backoff
        self.probe_interval = probe_interval
        self.catch_up_grace_ms = catch_up_grace_ms
        #: Counters for metrics: reconnections, updates of other workers handled and applied.
        self.reconnects = 0
        self.handled = 0
        self.absorbed = 0
        self._conn: Any = None
        self._handlers: dict[str, list[MessageHandler]] = {}
        self._pending: list[tuple[int, str]] = []  # (seq, doc) notified, not yet absorbed
        self._high = 0  # highest sequence number notified on the current connection
        self._catch_up: tuple[int, int] | None = None  # (after seq, received since ms)
        self._wake = asyncio.Event()
        self._lost = asyncio.Event()
        self._stopping = False
        self._callbacks: set[asyncio.Task[Any]] = set()
        first_last = (backoff[0], backoff[-1])
        self._listener = Supervised(
            "sync fan-out: listen",
            self._hold_connection,
            backoff=first_last,
            expected=_CONNECTION_ERRORS,
            logger=log,
        )
        self._applier = Supervised(
            "sync fan-out: apply", self._apply, backoff=first_last, expected=_CONNECTION_ERRORS, logger=log
        )

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect and listen; raises if the database cannot be reached now.

        Documents the replica loaded before this may have missed a row stored
        meanwhile: if there are any, the recent log is checked before returning.
        """
        self._stopping = False
        self._lost.clear()
        await self._connect()
        try:
            self._high = await self.store.last_seq()
            if self.replica.loaded():
                self._catch_up = (self._high, now_ms() - self.catch_up_grace_ms)
                await self._run_catch_up()
        except BaseException:
            await self._disconnect()
            raise
        self._listener.start()
        self._applier.start()

    async def stop(self) -> None:
        self._stopping = True
        await self._listener.stop()
        await self._applier.stop()
        await asyncio.gather(*self._callbacks, return_exceptions=True)
        await self._disconnect()

    @property
    def tasks(self) -> list[Supervised]:
        """Its two loops, for ``/healthz``: holding the connection, and applying what arrives."""
        return [self._listener, self._applier]

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed() and not self._lost.is_set()

    @property
    def backend_pid(self) -> int | None:
        """The server process of the ``LISTEN`` connection (for operators and tests)."""
        return int(self._conn.get_server_pid()) if self.connected else None

    # --- other notices ---------------------------------------------------------------------

    def on_message(
        self, channel: str, handler: MessageHandler, *, _listen: bool = True
    ) -> Callable[[], None]:
        """Call ``handler(payload)`` for every notification on ``channel``; returns an unsubscribe.

        A handler returning an awaitable is run as a task.  Notices sent while
        the connection is down are not replayed.  Registered before
        :meth:`start`, the channel is listened to from the start; after, the
        ``LISTEN`` is sent in the background (await :meth:`listen` instead
        to know when it is in place).
        """
        if channel == SYNC_CHANNEL:
            raise ValueError(f"{SYNC_CHANNEL} is the fan-out's own channel")
        first = channel not in self._handlers
        handlers = self._handlers.setdefault(channel, [])
        handlers.append(handler)
        if first and _listen and self.connected:
            self._run_callback(self._listen(self._conn, channel))
        return lambda: handlers.remove(handler) if handler in handlers else None

    async def listen(self, channel: str, handler: MessageHandler) -> Callable[[], None]:
        """:meth:`on_message`, returning once the channel is listened to (if connected)."""
        first = channel not in self._handlers
        unsubscribe = self.on_message(channel, handler, _listen=False)
        if first and self.connected:
            await self._listen(self._conn, channel)
        return unsubscribe

    async def publish(self, channel: str, payload: str) -> None:
        """Notify every worker (this one included) listening on ``channel``."""
        await self.store.pool.execute("SELECT pg_notify($1, $2)", channel, payload)

    # --- the connection --------------------------------------------------------------------

    async def _connect(self) -> None:
        pooled = not isinstance(self.source, str)
        self._conn = conn = await (self.source.acquire() if pooled else asyncpg.connect(self.source))
        try:
            conn.add_termination_listener(self._on_terminated)
            for channel in (SYNC_CHANNEL, *self._handlers):
                await self._listen(conn, channel)
        except BaseException:
            await self._disconnect()
            raise

    async def _listen(self, conn: Any, channel: str) -> None:
        await conn.add_listener(channel, self._on_notify)

    async def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._close(conn)

    async def _close(self, conn: Any) -> None:
        with contextlib.suppress(*_CONNECTION_ERRORS):
            conn.remove_termination_listener(self._on_terminated)
        if not isinstance(self.source, str):
            with contextlib.suppress(*_CONNECTION_ERRORS):
                for channel in (SYNC_CHANNEL, *self._handlers):
                    await conn.remove_listener(channel, self._on_notify)
            with contextlib.suppress(*_CONNECTION_ERRORS), warnings.catch_warnings():
                # A dead connection still lists its listeners (UNLISTEN was impossible).
                warnings.simplefilter("ignore", asyncpg.InterfaceWarning)
                await self.source.release(conn)  # the pool replaces it if it is dead
            return
        try:
            await asyncio.wait_for(conn.close(), 5)
        except _CONNECTION_ERRORS:
            conn.terminate()

    def _on_terminated(self, conn: Any) -> None:
        if conn is self._conn:  # not one we closed ourselves
            self._mark_lost()

    def _mark_lost(self) -> None:
        if self._stopping or self._lost.is_set():
            return
        after, since = self._high, now_ms() - self.catch_up_grace_ms
        if self._catch_up is not None:  # lost again before the last catch-up ran
            after, since = min(after, self._catch_up[0]), min(since, self._catch_up[1])
        self._catch_up = (after, since)
        self._lost.set()

    async def _hold_connection(self) -> None:
        """Hold the connection, probing it now and then; raises :class:`ListenLost` when it is gone.

        Run by its supervisor, which calls it again after a backoff: then it
        reconnects first (a failure there is retried the same way).
        """
        if not self.connected:
            await self._reconnect()
        self._listener.succeeded()
        while True:
            try:
                await asyncio.wait_for(self._lost.wait(), self.probe_interval)
            except TimeoutError:
                try:  # a silent network (no FIN, no RST) is only noticed by asking
                    await asyncio.wait_for(self._conn.fetchval("SELECT 1"), self.probe_interval)
                except (*_CONNECTION_ERRORS, AttributeError):
                    self._mark_lost()
                continue
            await self._disconnect()
            raise ListenLost("the LISTEN connection was lost")

    async def _reconnect(self) -> None:
        await self._disconnect()
        self._lost.clear()
        await self._connect()  # keep trying whatever fails: without us, workers drift apart
        if self._lost.is_set():
            await self._disconnect()
            raise ListenLost("the LISTEN connection was lost again at once")
        self.reconnects += 1
        log.info("sync fan-out: listening again; catching up from the log")
        self._wake.set()

    def _on_notify(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        if channel != SYNC_CHANNEL:
            for handler in list(self._handlers.get(channel, ())):
                try:
                    result = handler(payload)
                except Exception:
                    log.exception("handler of %s failed", channel)
                    continue
                if inspect.isawaitable(result):
                    self._run_callback(result)
            return
        try:
            worker, seq_text, doc = payload.split(" ", 2)
            seq = int(seq_text)
        except ValueError:
            log.warning("sync fan-out: ignoring malformed notification %r", payload)
            return
        self._high = max(self._high, seq)
        if worker != self.worker_id:  # our own appends are in our documents already
            self._pending.append((seq, doc))
            self._wake.set()

    def _run_callback(self, awaitable: Any) -> None:
        async def run() -> None:
            try:
                await awaitable
            except Exception:
                log.exception("sync fan-out callback failed")

        task = asyncio.get_running_loop().create_task(run())
        self._callbacks.add(task)
        task.add_done_callback(self._callbacks.discard)

    # --- applying what the others stored ----------------------------------------------------

    async def _apply(self) -> None:
        """The one task that absorbs updates, so they reach the replica in order.

        A failed round raises to its supervisor, which retries it after a
        backoff: what was not absorbed is kept (the log still has the rows).
        """
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                if self._catch_up is not None and self.connected:
                    await self._run_catch_up()
                await self._absorb_pending()
            except Exception:
                self._wake.set()  # the retry runs at once after the backoff
                raise
            self._applier.succeeded()

    async def _run_catch_up(self) -> None:
        assert self._catch_up is not None
        after, since = self._catch_up
        rows = await self.store.updates_after(after, since)
        snapshots = await self.store.snapshots_since(since)
        if self._catch_up == (after, since):
            self._catch_up = None
        for doc, state in snapshots:  # rows folded into a snapshot meanwhile are no longer in the log
            self.absorbed += await self.replica.absorb(doc, state)
        for seq, doc, update in rows:
            # A row of ours still being projected: absorbing it would take its changes.
            if seq not in self.store.projecting:
                self.absorbed += await self.replica.absorb(doc, update)
        log.info("sync fan-out: caught up (%d rows, %d snapshots checked)", len(rows), len(snapshots))

    async def _absorb_pending(self) -> None:
        if not self._pending:
            return
        batch = sorted(self._pending)
        rows = await self.store.updates([seq for seq, _ in batch])
        del self._pending[: len(batch)]  # notifications that arrived meanwhile stay queued
        gone: list[str] = []
        for seq, doc in batch:
            row = rows.get(seq)
            if seq in self.store.projecting:
                pass  # ours after all (appended before the worker id was set)
            elif row is None:
                if doc not in gone:
                    gone.append(doc)
            else:
                self.absorbed += await self.replica.absorb(doc, row[1])
        for doc in gone:
            # Compacted (or quarantined) before we read it: take the document's stored state.
            parts = await self.store.all_updates(doc)
            if parts:
                state = await asyncio.to_thread(merge_updates, *parts) if len(parts) > 1 else parts[0]
                self.absorbed += await self.replica.absorb(doc, state)
        self.handled += len(batch)
