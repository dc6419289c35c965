"""A replica: the event's documents in memory, backed by an update store.

This is the one place where CRDT state changes, on the appliance and on the
hub alike.  It enforces the order that makes acknowledgements honest:

* **local write** — mutate the in-memory document, then store the update,
  its author clock and its projection in one transaction; only then tell
  the caller (and the peers) about it.  If the store fails, the in-memory
  copy is dropped and reloaded from disk with a new client id, so no clock
  that was never stored is ever reused or built upon.
* **remote update** — check it decodes, skip it if it adds nothing, store
  it, apply it, project what it changed, then relay it.  Our state vector
  therefore only ever covers updates that are on disk, which is what lets a
  peer treat it as an acknowledgement.

The event loop is the door's, so no step of a peer's catch-up may hold it
for long.  pycrdt holds the GIL while it decodes and applies an update (a
worker thread would not help: measured), so the bound comes from the size
of what is applied at once: device logs are sharded into documents of
:data:`~sync.shards.SHARD_RECORDS` records, and a catch-up is many small
updates; their projection runs in small transactions on the writer's
background lane.  Documents nobody used for :attr:`Replica.idle_after`
seconds are dropped from memory (a 50,000-record log holds ~65 MB) and
reloaded from the store on next use.

Each in-memory copy gets a fresh random Yjs client id (pycrdt's default):
reusing an id after a crash silently and permanently diverges replicas
(research/crdt-sync.md §7.9).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pycrdt import Doc, Subscription, TransactionEvent, get_update, merge_updates

from konferenco.types import now_ms
from sync.acks import AckTracker
from sync.documents import Change, DeviceLog, Quarantined, checked, observe, read_all
from sync.names import DocName
from sync.permissions import Capability, KindNotAllowed, may_append
from sync.protocol import (
    ProtocolError,
    decode_state_vector,
    delete_set_covers,
    delete_set_of_diff,
)
from sync.records import DeviceRecord
from sync.shards import SHARD_RECORDS, DeviceShards
from sync.store import LOCAL_ORIGIN, Authored, StoredUpdate, TooLate, UpdateStore, WriteGuard

T = TypeVar("T")

#: Most records one append carries: batches stay small transactions (see :meth:`Replica.write`).
MAX_LOG_BATCH = 64
#: After a local write, remote catch-up work is paced for this long (seconds)...
DOOR_BUSY_FOR = 1.0
#: ...and each of its steps is followed by a pause this many times as long (1: half the loop).
CATCH_UP_YIELDS = 1.0
#: Documents kept in memory after :meth:`Replica.start` has gone through the store.
WARM_DOCUMENTS = 64
#: A full device-log shard (a catch-up's bulk) leaves memory after this many idle seconds.
SEALED_IDLE = 5.0
#: Freed heap goes back to the system at most this often (seconds): malloc_trim walks the heap.
TRIM_EVERY = 10.0
#: Big remote updates between "received" and "projected" at once: each holds its decoded changes.
IN_FLIGHT = 4
#: An update this large counts as big (a catch-up's shard; a live scan is ~200 bytes).
BIG_UPDATE = 16 * 1024
#: How often idle documents are looked for (seconds).
SWEEP_EVERY = 1.0
log = logging.getLogger(__name__)

#: Called after an update is durable: (document name, update, source).  ``source`` is
#: whatever the receiver passed (a session, to avoid echoing back), or None if local.
Listener = Callable[[str, bytes, object], None]

_FATAL = (KeyboardInterrupt, SystemExit, asyncio.CancelledError)


@dataclass(eq=False)
class _Live:
    name: DocName
    doc: Doc[Any]
    guard: WriteGuard = field(default_factory=WriteGuard)
    changes: list[Change] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)
    since_compaction: int = 0
    used: float = field(default_factory=time.monotonic)
    sealed: bool = False  # a full device-log shard (see Replica._sealed), known after each remote update

    def take_changes(self) -> list[Change]:
        changes = self.changes[:]
        self.changes.clear()  # in place: the observers hold this very list
        return changes


@dataclass(eq=False)
class _LogBatch:
    name: DocName
    values: list[dict[str, Any]] = field(default_factory=list)  # records, already checked
    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    deadlines: list[float] = field(default_factory=list)  # monotonic; inf when none

    def drop_late(self, now: float) -> None:
        """Fail the records whose deadline has passed: they are never written."""
        keep = [i for i, d in enumerate(self.deadlines) if d >= now]
        if len(keep) == len(self.values):
            return
        for i, waiter in enumerate(self.waiters):
            if i not in keep and not waiter.done():
                waiter.set_exception(TooLate(now - self.deadlines[i]))
                waiter.exception()  # retrieved here; the caller re-raises it
        self.values = [self.values[i] for i in keep]
        self.waiters = [self.waiters[i] for i in keep]
        self.deadlines = [self.deadlines[i] for i in keep]


class Replica:
    """The documents of one or more events, as held by this process."""

    def __init__(
        self,
        store: UpdateStore,
        *,
        compact_every: int = 2000,
        shard_records: int = SHARD_RECORDS,
        idle_after: float | None = 10.0,
        capabilities: frozenset[Capability] | None = None,
    ) -> None:
        self.store = store
        #: What this box's own log may hold (:data:`sync.permissions.RECORD_KINDS`);
        #: None: not bounded (the hub, tests, tools).
        self.capabilities = capabilities
        self.acks = AckTracker()
        self.compact_every = compact_every
        self.shards = DeviceShards(shard_records)
        #: Seconds a document may go unused before it is dropped from memory (None: never).
        self.idle_after = idle_after
        self.unloaded = 0
        self._docs: dict[str, _Live] = {}
        self._generation: dict[str, int] = {}  # bumped when a copy is dropped after a failed write
        self._sweeper: asyncio.Task[None] | None = None
        self._catching_up: dict[str, int] = {}  # document -> remote changes not yet projected
        # One remote update decoded or applied at a time (see _one_at_a_time).
        self._lane = asyncio.Lock()
        self._in_flight = asyncio.Semaphore(IN_FLIGHT)
        self._receiving: dict[str, int] = {}  # document -> remote updates being received
        self._last_local = float("-inf")  # when the last local write began (monotonic)
        self._trimmed = float("-inf")  # when freed heap was last given back (monotonic)
        self._loading: dict[str, asyncio.Future[_Live]] = {}
        self._listeners: list[Listener] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._log_batches: dict[str, deque[_LogBatch]] = {}  # device-log shard -> batches waiting
        self._log_writing: set[str] = set()  # shards with an append being stored

    async def start(self) -> None:
        """Open the store, restore peers' acknowledgements, and go through every stored document.

        Each is loaded once: to project what a crash left unprojected, to
        restore its author clocks (acknowledgement counts) and to learn each
        device's newest shard.  Beyond the first :data:`WARM_DOCUMENTS` they
        are dropped again at once, so memory at start does not grow with the
        number of documents a hub or a long-running box has stored.
        """
        await self.store.open()
        for (peer, doc), sv in (await self.store.peer_states()).items():
            self.acks.peer_state(peer, doc, decode_state_vector(sv))
        for doc in await self.store.documents():
            live = await self.open(doc)
            if self.idle_after is not None and len(self._docs) > WARM_DOCUMENTS:
                self._drop(live)
        if self.idle_after is not None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep(), name="replica-sweep")

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        for key in list(self._log_batches):
            self._flush_log(key)
        while self._tasks:  # a finishing log append may start the next batch
            await next(iter(self._tasks))
        await self.store.close()

    def catch_up(self) -> dict[str, int]:
        """Remote changes received but not yet projected, per document (empty when caught up)."""
        return {doc: n for doc, n in self._catching_up.items() if n}

    # --- documents in memory --------------------------------------------------------------

    async def open(self, name: str | DocName) -> _Live:
        key = str(name)
        live = self._docs.get(key)
        if live is not None:
            live.used = time.monotonic()
            return live
        pending = self._loading.get(key)
        if pending is not None:
            return await pending
        future: asyncio.Future[_Live] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            loaded = await self._load(name if isinstance(name, DocName) else DocName.parse(name))
            self._docs[key] = loaded
            self.shards.opened(loaded.name, lambda: len(DeviceLog(loaded.doc)))
            future.set_result(loaded)
            return loaded
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: the waiters re-raise it themselves
            raise
        finally:
            del self._loading[key]

    async def _load(self, name: DocName) -> _Live:
        key = str(name)
        stored = await self.store.load(key)
        live = _Live(name, Doc())
        bad, unprojected = self._rebuild(live, stored.base, stored.unprojected)
        for entry in stored.authored:
            self.acks.authored(key, entry)
        for u, changes in unprojected:
            # Stored but not projected before the last stop (or a crash mid-catch-up): project it now.
            await self._project(key, u.seq, changes)
        for u in bad:
            if u.seq:  # a log row: set it aside, so it is reported once, not retried at every start
                await self.store.quarantine_update(key, u.seq, "stored update cannot be applied")
        live.used = time.monotonic()
        live.sealed = self._sealed(live)
        return live

    def _rebuild(
        self, live: _Live, base: list[StoredUpdate], unprojected: list[StoredUpdate]
    ) -> tuple[list[StoredUpdate], list[tuple[StoredUpdate, list[Change]]]]:
        bad: list[StoredUpdate] = []
        if base:
            try:
                merged = merge_updates(*[u.update for u in base]) if len(base) > 1 else base[0].update
                live.doc.apply_update(merged)
            except _FATAL:
                raise
            except BaseException:
                log.exception("%s: stored updates do not merge; applying them one by one", live.name)
                live.doc = Doc()
                bad += [u for u in base if not self._apply_stored(live, u)]
        live.subscriptions = observe(live.name, live.doc, live.changes.append)
        pending = []
        for u in unprojected:
            if self._apply_stored(live, u):
                pending.append((u, live.take_changes()))
            else:
                bad.append(u)
        return bad, pending

    @staticmethod
    def _apply_stored(live: _Live, stored: StoredUpdate) -> bool:
        try:
            live.doc.apply_update(stored.update)
        except _FATAL:
            raise
        except BaseException:
            log.error("%s: stored update #%d cannot be applied; quarantined", live.name, stored.seq)
            return False
        return True

    def _evict(self, live: _Live) -> None:
        """Drop an in-memory copy that may hold unstored state; the next use reloads it."""
        live.guard.broken = True
        key = str(live.name)
        self._generation[key] = self._generation.get(key, 0) + 1
        if self._docs.get(key) is live:
            del self._docs[key]
            self.shards.closed(live.name)
        log.warning("%s: reloading from the store after a failed write", live.name)

    def generation(self, name: str | DocName) -> int:
        """Changes each time a copy of the document is dropped after a failed write.

        A sync session compares it with the value at its start: its peer may
        have been told of state that was never stored, so it must resync.
        Dropping an idle document (whose memory equals the store) does not
        change it.
        """
        return self._generation.get(str(name), 0)

    def loaded(self) -> list[str]:
        return sorted(self._docs)

    def doc(self, name: str | DocName) -> Doc[Any]:
        """The in-memory document, if loaded (read it; write only through :meth:`write`).

        Prefer :meth:`read`, which loads a document dropped while idle.
        """
        return self._docs[str(name)].doc

    async def read(self, name: str | DocName, fn: Callable[[Doc[Any]], T]) -> T:
        """Call ``fn`` with the document, loading it first if it is not in memory."""
        return fn((await self.open(name)).doc)

    def _sealed(self, live: _Live) -> bool:
        """A full device-log shard: its device writes the next one, so it will not change again."""
        return live.name.kind == "device" and len(DeviceLog(live.doc)) >= self.shards.records_per_shard

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_EVERY)
            try:
                self.unload_idle()
            except Exception:
                log.exception("could not unload idle documents")

    def unload_idle(self, idle_for: float | None = None) -> list[str]:
        """Drop documents unused for ``idle_for`` seconds (default :attr:`idle_after`).

        Their state is on disk; the next use reloads it.  Never drops one
        being changed, with records waiting to be appended, or mid-load.
        """
        limit = self.idle_after if idle_for is None else idle_for
        if limit is None:
            return []
        now = time.monotonic()
        dropped = []
        for key, live in list(self._docs.items()):
            idle = now - live.used
            if idle < limit and not (idle >= SEALED_IDLE and live.sealed):
                continue
            if self._receiving.get(key):
                continue
            if key in self._log_batches or key in self._log_writing or live.changes:
                continue
            self._drop(live)
            dropped.append(key)
        if dropped and now - self._trimmed >= TRIM_EVERY:
            self._trimmed = now
            _return_memory()
        return dropped

    def _drop(self, live: _Live) -> None:
        """Forget an in-memory copy that equals the store (unlike :meth:`_evict`'s)."""
        for sub in live.subscriptions:
            with contextlib.suppress(Exception):
                live.doc.unobserve(sub)
        if self._docs.get(str(live.name)) is live:
            del self._docs[str(live.name)]
            self.shards.closed(live.name)
            self.unloaded += 1

    # --- local writes ------------------------------------------------------------------

    async def write(
        self, name: str | DocName, mutate: Callable[[Doc[Any]], T], *, deadline: float | None = None
    ) -> T:
        """Apply ``mutate`` as one local transaction and return once it is durable.

        Keep each transaction small (one scan, one print): pycrdt's memory
        grows with the square of the inserts in one transaction (4,000
        appends in one transaction peak at ~390 MB; 50,000 exhaust 24 GB),
        while the same appends as separate transactions stay at ~40 MB.

        With a ``deadline`` (``time.monotonic()`` seconds) the write is stored
        only if its transaction begins in time; otherwise it raises
        :class:`~sync.store.TooLate` and the in-memory copy, which already
        holds the change, is dropped and reloaded without it.
        """
        self._last_local = time.monotonic()
        live = await self.open(name)
        captured: list[bytes] = []

        def capture(event: TransactionEvent) -> None:
            captured.append(event.update)

        sub = live.doc.observe(capture)
        try:
            with live.doc.transaction(origin=LOCAL_ORIGIN):
                result = mutate(live.doc)
        except BaseException:
            live.doc.unobserve(sub)
            live.take_changes()
            if captured:  # half a mutation is in memory and nowhere else
                self._evict(live)
            raise
        live.doc.unobserve(sub)
        changes = live.take_changes()
        if not captured:
            return result
        update = captured[0] if len(captured) == 1 else merge_updates(*captured)
        client = live.doc.client_id
        authored = Authored(client, decode_state_vector(live.doc.get_state()).get(client, 0), now_ms())
        # Shielded: a caller that gives up must not leave a stored update unannounced.
        await asyncio.shield(self._persist_local(live, update, authored, changes, deadline))
        return result

    async def _persist_local(
        self, live: _Live, update: bytes, authored: Authored, changes: list[Change], deadline: float | None
    ) -> None:
        key = str(live.name)
        try:
            await self.store.append(
                key,
                update,
                LOCAL_ORIGIN,
                guard=live.guard,
                authored=authored,
                changes=changes,
                deadline=deadline,
            )
        except BaseException:
            self._evict(live)
            raise
        self.acks.authored(key, authored)
        self._after_append(live, update, None)

    def device_log(self, event_id: str, device_id: str) -> DocName:
        """The shard this device's new records go to (see :class:`~sync.shards.DeviceShards`).

        :meth:`start` loads every stored shard, and only the device itself
        writes its log, so this needs no lookup.
        """
        return self.shards.current(event_id, device_id)

    async def log(
        self, event_id: str, device_id: str, record: DeviceRecord, *, deadline: float | None = None
    ) -> DocName:
        """Append one record to this device's log (its current shard); durable on return.

        Records logged while an earlier append to the same shard is being
        stored wait for it and then go in together, as one small
        transaction: under a scan storm the CRDT and observer overhead is
        paid per batch, not per scan (the SQLite writer's group commit, one
        level up).  Each caller still returns only once its own record is on
        disk, and an invalid record fails its caller alone.

        A record of a kind this box's capabilities do not allow raises
        :class:`~sync.permissions.KindNotAllowed` (code ``forbidden``) and is
        not written.

        With a ``deadline`` (``time.monotonic()`` seconds), a record still
        waiting for its append when the deadline passes is not written and
        its caller gets :class:`TooLate`: checked just before the record goes
        into the document, so a record is either refused or on its way to disk.
        """
        kind = str(type(record).__struct_config__.tag)
        allowed = may_append(self.capabilities, "device", kind)
        if not allowed:
            assert self.capabilities is not None  # None allows every kind
            raise KindNotAllowed(kind, allowed, self.capabilities)
        value = checked(record, DeviceRecord)  # before joining a batch: a bad record fails alone
        name = self.device_log(event_id, device_id)
        key = str(name)
        waiting = self._log_batches.get(key)
        if waiting is None:
            waiting = self._log_batches[key] = deque()
            if key not in self._log_writing:
                asyncio.get_running_loop().call_soon(self._flush_log, key)
        if not waiting or len(waiting[-1].values) >= MAX_LOG_BATCH:
            waiting.append(_LogBatch(name))
        batch = waiting[-1]
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        batch.values.append(value)
        batch.waiters.append(done)
        batch.deadlines.append(float("inf") if deadline is None else deadline)
        await asyncio.shield(done)  # a caller that gives up does not take its record out
        return name

    def _flush_log(self, key: str) -> None:
        if key in self._log_writing:
            return  # the append being stored starts this batch when it is done
        waiting = self._log_batches.get(key)
        if not waiting:
            return
        batch = waiting.popleft()
        if not waiting:
            del self._log_batches[key]
        self._log_writing.add(key)
        self._spawn(self._write_log(key, batch))

    async def _write_log(self, key: str, batch: _LogBatch) -> None:
        try:
            live = await self.open(batch.name)
            batch.drop_late(time.monotonic())  # cheaper than writing and then dropping the copy
            values = batch.values
            if values:
                await self.write(
                    batch.name,
                    lambda doc: DeviceLog(doc).extend_checked(values),
                    deadline=min(batch.deadlines),
                )
        except BaseException as exc:
            for waiter in batch.waiters:
                if not waiter.done():
                    waiter.set_exception(exc)
                    waiter.exception()  # retrieved here; each caller re-raises it
            if isinstance(exc, asyncio.CancelledError):
                raise
        else:
            if self._docs.get(key) is live:  # else a reloaded copy counts its records afresh
                self.shards.appended(batch.name, len(values))
            for waiter in batch.waiters:
                if not waiter.done():
                    waiter.set_result(None)
        finally:
            self._log_writing.discard(key)
            if key in self._log_batches:  # what arrived meanwhile goes next
                self._flush_log(key)

    # --- remote updates ----------------------------------------------------------------

    async def covers(
        self, name: str | DocName, update: bytes, *, check: Callable[[bytes], None] | None = None
    ) -> bool:
        """True if applying ``update`` would change nothing here.

        With ``check``, the part of the update we lack is handed to it first
        (it raises to refuse the update).

        Checked from bytes alone: the part of the update our state vector
        lacks must be empty, and its delete set must already be ours.  Used
        to drop duplicates without storing them, and to tell a read-only
        peer echoing our own state from one trying to change it.  Raises
        :class:`ProtocolError` if the bytes are not a valid update.
        """
        live = await self.open(name)
        diff = _diff_of(update, live.doc.get_state())
        if check is not None:
            check(diff)
        theirs = delete_set_of_diff(diff)
        if theirs is None:
            return False
        if not any(theirs.values()):
            return True
        ours = delete_set_of_diff(live.doc.get_update(live.doc.get_state())) or {}
        return delete_set_covers(ours, theirs)

    @contextlib.asynccontextmanager
    async def _one_at_a_time(self) -> AsyncIterator[None]:
        """Let other tasks (the door) run between two remote updates' CPU-bound steps.

        Each step holds the GIL for up to ~30 ms (a 2,000-record shard).  A
        catch-up opens a session per shard, and without this lane all of them
        would decode in the same turn of the event loop, one after the other,
        while a scan's request waited for the turn to end (measured: 300-460 ms).
        While this replica writes locally, each step is followed by a pause of
        :data:`CATCH_UP_YIELDS` times the step's CPU time: a scan's request needs several turns of
        the loop, and now meets at most one such step, not one per turn.  With
        no local writes a catch-up runs at full speed.
        """
        async with self._lane:
            spent = time.thread_time()
            yield
            spent = time.thread_time() - spent
            if time.monotonic() - self._last_local < DOOR_BUSY_FOR:
                # Local writes are happening (a door is scanning): take at most half the loop.
                await asyncio.sleep(spent * CATCH_UP_YIELDS)
        await asyncio.sleep(0)

    async def receive(
        self,
        name: str | DocName,
        update: bytes,
        origin: str,
        source: object = None,
        *,
        check: Callable[[bytes], None] | None = None,
    ) -> bool:
        """Store, apply, project and relay a peer's update; False if it added nothing.

        ``check`` judges what the update would add here (the part our state
        lacks) before anything is stored, and raises to refuse it (see
        :func:`sync.documents.screen_update`); it runs in the replica's
        one-at-a-time lane, paced like applying, since reading a big update
        costs CPU.

        At most :data:`IN_FLIGHT` big updates are between arrival and projection
        at once: a catch-up waits at the door of the replica (its peers wait for
        our acknowledgement) instead of piling decoded records up in memory.
        """
        key = str(name)
        self._receiving[key] = self._receiving.get(key, 0) + 1
        try:
            async with self._in_flight if len(update) >= BIG_UPDATE else contextlib.nullcontext():
                async with self._one_at_a_time():
                    covered = await self.covers(name, update, check=check)
                if covered:
                    return False
                # Shielded: once stored, the update is applied, relayed and projected even if
                # the session that brought it is torn down meanwhile.
                return await asyncio.shield(self._persist_remote(key, update, origin, source))
        finally:
            self._receiving[key] -= 1
            if not self._receiving[key]:
                del self._receiving[key]

    async def _persist_remote(self, key: str, update: bytes, origin: str, source: object) -> bool:
        # If this fails nothing was applied: the doc is intact and the peer resends later.
        seq = await self.store.append(key, update, origin)
        async with self._one_at_a_time():
            live = await self.open(key)  # it may have been reloaded meanwhile (and then holds the update)
            try:
                with live.doc.transaction(origin=origin):
                    live.doc.apply_update(update)
            except _FATAL:
                raise
            except BaseException:
                live.take_changes()
                self._evict(live)
                raise ProtocolError("bad_update", "the update could not be applied") from None
            changes = live.take_changes()
            live.sealed = self._sealed(live)
        bad = sum(isinstance(c, Quarantined) for c in changes)
        if bad:
            log.warning("%s: %d invalid values from %s quarantined (see sync_quarantine)", key, bad, origin)
        # Relay as soon as the update is durable: peers need not wait for our projection.
        self._after_append(live, update, source)
        try:
            await self._project(key, seq, changes)
        except BaseException:
            self._evict(live)  # reloading re-projects the stored, unprojected row
            raise
        return True

    async def _project(self, key: str, seq: int, changes: list[Change]) -> None:
        """Project a stored remote update (in the store's small background transactions)."""
        self._catching_up[key] = self._catching_up.get(key, 0) + len(changes)
        try:
            await self.store.mark_projected(key, seq, changes)
        finally:
            self._catching_up[key] -= len(changes)
            if not self._catching_up[key]:
                del self._catching_up[key]

    async def absorb(self, name: str | DocName, update: bytes, source: object = None) -> bool:
        """Apply an update another process already stored and projected; False if nothing changed.

        For hub workers sharing one PostgreSQL log (:mod:`hub.peer.fanout`):
        the update is durable and projected already, so it is only applied in
        memory (its observed changes are dropped, not projected again) and
        handed to the listeners, so this process's sync sessions relay it.
        A document this process does not hold is left alone — loading it
        later reads the update from the store — but one being loaded right
        now is waited for, since its load may have read the log just before
        the update committed.  If the update cannot be applied the copy is
        dropped, so the next use reloads it from the store.
        """
        key = str(name)
        if key not in self._docs:
            loading = self._loading.get(key)
            if loading is None:
                return False
            try:
                await asyncio.shield(loading)
            except asyncio.CancelledError:
                if not loading.cancelled():
                    raise  # we were cancelled, not the load
                return False
            except Exception:
                return False  # the load failed: the next use loads it again, with this update
        live = self._docs.get(key)
        if live is None:
            return False  # dropped meanwhile: loading it later reads the update from the store
        try:
            async with self._one_at_a_time():
                if await self.covers(key, update):
                    return False
                # Relay only what is new here: ``update`` may be a whole stored document.
                news = get_update(update, live.doc.get_state())
                with live.doc.transaction(origin="absorbed"):
                    live.doc.apply_update(update)
        except _FATAL:
            raise
        except BaseException:
            log.exception("%s: an update stored by another process cannot be applied here", key)
            live.take_changes()
            self._evict(live)
            return False
        live.take_changes()  # projected by the process that stored it
        for listener in list(self._listeners):
            try:
                listener(key, news, source)
            except Exception:
                log.exception("sync listener failed")
        return True

    # --- state for the protocol ----------------------------------------------------------

    async def state_vector(self, name: str | DocName) -> bytes:
        return (await self.open(name)).doc.get_state()

    async def diff(self, name: str | DocName, state_vector: bytes | None = None) -> bytes:
        """What a peer with ``state_vector`` lacks (all of it without one)."""
        doc = (await self.open(name)).doc
        return doc.get_update(state_vector) if state_vector is not None else doc.get_update()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def peer_reported(self, peer: str, name: str | DocName, state_vector: bytes) -> None:
        """A peer told us its state vector (sync step 1): our acknowledgement."""
        if self.acks.peer_state(peer, str(name), decode_state_vector(state_vector)):
            # Kept for restarts, in the background: the session goes on with the peer's next message.
            self._spawn(self._save_peer_state(peer, str(name), state_vector))

    async def _save_peer_state(self, peer: str, name: str, state_vector: bytes) -> None:
        try:
            await self.store.save_peer_state(peer, name, state_vector)
        except Exception as exc:  # the acknowledgement stays in memory; a restart may resend a little
            log.warning("%s: could not keep %s's acknowledgement: %s", name, peer, exc)

    # --- maintenance ---------------------------------------------------------------------

    def _after_append(self, live: _Live, update: bytes, source: object) -> None:
        for listener in list(self._listeners):
            try:
                listener(str(live.name), update, source)
            except Exception:
                log.exception("sync listener failed")
        live.since_compaction += 1
        if live.since_compaction >= self.compact_every:
            live.since_compaction = 0
            self._spawn(self.compact(live.name))

    async def compact(self, name: str | DocName, *, full: bool = False) -> int:
        """Merge the projected log of a document; return how many updates were merged.

        ``full`` folds everything into the snapshot (an operator's or a test's
        choice); the automatic compaction after every ``compact_every`` updates
        is the cheap, tiered kind.
        """
        total = 0
        limit = 5000
        while True:
            result = await self.store.compact(str(name), limit=limit, full=full)
            total += result.merged_updates
            if result.merged_updates < limit:
                return total

    async def rebuild_projections(self) -> None:
        """Replay every stored update of every document into fresh projections."""
        docs: dict[str, list[Change]] = {}
        for key in await self.store.documents():
            doc: Doc[Any] = Doc()
            for update in await self.store.all_updates(key):
                doc.apply_update(update)
            docs[key] = list(read_all(DocName.parse(key), doc))
        await self.store.rebuild(docs)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _diff_of(update: bytes, state: bytes) -> bytes:
    """The part of ``update`` a replica at ``state`` lacks; ProtocolError if it does not decode."""
    try:
        return get_update(update, state)  # decodes the whole update: validates it too
    except _FATAL:
        raise
    except BaseException:  # pycrdt raises ValueError; Yrs may panic (a BaseException)
        raise ProtocolError("bad_update", "the update is not a valid Yjs v1 update") from None


def _return_memory() -> None:
    """Give freed heap back to the system after dropping documents (glibc keeps it otherwise)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
