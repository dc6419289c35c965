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

Each in-memory copy gets a fresh random Yjs client id (pycrdt's default):
reusing an id after a crash silently and permanently diverges replicas
(research/crdt-sync.md §7.9).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pycrdt import Doc, Subscription, TransactionEvent, get_update, merge_updates

from konferenco.types import now_ms
from sync.acks import AckTracker
from sync.documents import Change, DeviceLog, Quarantined, checked, observe, read_all
from sync.names import DocName
from sync.protocol import (
    ProtocolError,
    decode_state_vector,
    delete_set_covers,
    delete_set_of_diff,
)
from sync.records import DeviceRecord
from sync.shards import SHARD_RECORDS, DeviceShards
from sync.store import LOCAL_ORIGIN, Authored, StoredUpdate, UpdateStore, WriteGuard

T = TypeVar("T")

#: Most records one append carries: batches stay small transactions (see :meth:`Replica.write`).
MAX_LOG_BATCH = 64
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

    def take_changes(self) -> list[Change]:
        changes = self.changes[:]
        self.changes.clear()  # in place: the observers hold this very list
        return changes


@dataclass(eq=False)
class _LogBatch:
    name: DocName
    values: list[dict[str, Any]] = field(default_factory=list)  # records, already checked
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


class Replica:
    """The documents of one or more events, as held by this process."""

    def __init__(
        self, store: UpdateStore, *, compact_every: int = 2000, shard_records: int = SHARD_RECORDS
    ) -> None:
        self.store = store
        self.acks = AckTracker()
        self.compact_every = compact_every
        self.shards = DeviceShards(shard_records)
        self._docs: dict[str, _Live] = {}
        self._loading: dict[str, asyncio.Future[_Live]] = {}
        self._listeners: list[Listener] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._log_batches: dict[str, deque[_LogBatch]] = {}  # device-log shard -> batches waiting
        self._log_writing: set[str] = set()  # shards with an append being stored

    async def start(self) -> None:
        """Open the store, load every stored document, restore peers' acknowledgements."""
        await self.store.open()
        for (peer, doc), sv in (await self.store.peer_states()).items():
            self.acks.peer_state(peer, doc, decode_state_vector(sv))
        for doc in await self.store.documents():
            await self.open(doc)

    async def close(self) -> None:
        for key in list(self._log_batches):
            self._flush_log(key)
        while self._tasks:  # a finishing log append may start the next batch
            await next(iter(self._tasks))
        await self.store.close()

    # --- documents in memory --------------------------------------------------------------

    async def open(self, name: str | DocName) -> _Live:
        key = str(name)
        live = self._docs.get(key)
        if live is not None:
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
        base = [u.update for u in stored.base]
        bad: list[StoredUpdate] = []
        if base:
            try:
                live.doc.apply_update(merge_updates(*base) if len(base) > 1 else base[0])
            except _FATAL:
                raise
            except BaseException:
                log.exception("%s: stored updates do not merge; applying them one by one", key)
                live.doc = Doc()
                bad += [u for u in stored.base if not self._apply_stored(live, u)]
        live.subscriptions = observe(name, live.doc, live.changes.append)
        for entry in stored.authored:
            self.acks.authored(key, entry)
        for u in stored.unprojected:
            # Stored but not projected before the last stop: project it now.
            if self._apply_stored(live, u):
                await self.store.mark_projected(key, u.seq, live.take_changes())
            else:
                bad.append(u)
        for u in bad:
            if u.seq:  # a log row: set it aside, so it is reported once, not retried at every start
                await self.store.quarantine_update(key, u.seq, "stored update cannot be applied")
        return live

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
        if self._docs.get(str(live.name)) is live:
            del self._docs[str(live.name)]
            self.shards.closed(live.name)
        log.warning("%s: reloading from the store after a failed write", live.name)

    def loaded(self) -> list[str]:
        return sorted(self._docs)

    def doc(self, name: str | DocName) -> Doc[Any]:
        """The in-memory document (read it; write only through :meth:`write`)."""
        return self._docs[str(name)].doc

    # --- local writes ------------------------------------------------------------------

    async def write(self, name: str | DocName, mutate: Callable[[Doc[Any]], T]) -> T:
        """Apply ``mutate`` as one local transaction and return once it is durable.

        Keep each transaction small (one scan, one print): pycrdt's memory
        grows with the square of the inserts in one transaction (4,000
        appends in one transaction peak at ~390 MB; 50,000 exhaust 24 GB),
        while the same appends as separate transactions stay at ~40 MB.
        """
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
        await asyncio.shield(self._persist_local(live, update, authored, changes))
        return result

    async def _persist_local(
        self, live: _Live, update: bytes, authored: Authored, changes: list[Change]
    ) -> None:
        key = str(live.name)
        try:
            await self.store.append(
                key, update, LOCAL_ORIGIN, guard=live.guard, authored=authored, changes=changes
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

    async def log(self, event_id: str, device_id: str, record: DeviceRecord) -> DocName:
        """Append one record to this device's log (its current shard); durable on return.

        Records logged while an earlier append to the same shard is being
        stored wait for it and then go in together, as one small
        transaction: under a scan storm the CRDT and observer overhead is
        paid per batch, not per scan (the SQLite writer's group commit, one
        level up).  Each caller still returns only once its own record is on
        disk, and an invalid record fails its caller alone.
        """
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
            values = batch.values
            await self.write(batch.name, lambda doc: DeviceLog(doc).extend_checked(values))
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

    def covers(self, name: str | DocName, update: bytes) -> bool:
        """True if applying ``update`` would change nothing here.

        Checked from bytes alone: the part of the update our state vector
        lacks must be empty, and its delete set must already be ours.  Used
        to drop duplicates without storing them, and to tell a read-only
        peer echoing our own state from one trying to change it.  Raises
        :class:`ProtocolError` if the bytes are not a valid update.
        """
        doc = self._docs[str(name)].doc
        try:
            diff = get_update(update, doc.get_state())  # decodes the whole update: validates it too
        except _FATAL:
            raise
        except BaseException:  # pycrdt raises ValueError; Yrs may panic (a BaseException)
            raise ProtocolError("bad_update", "the update is not a valid Yjs v1 update") from None
        theirs = delete_set_of_diff(diff)
        if theirs is None:
            return False
        if not any(theirs.values()):
            return True
        ours = delete_set_of_diff(doc.get_update(doc.get_state())) or {}
        return delete_set_covers(ours, theirs)

    async def receive(self, name: str | DocName, update: bytes, origin: str, source: object = None) -> bool:
        """Store, apply, project and relay a peer's update; False if it added nothing."""
        live = await self.open(name)
        key = str(live.name)
        if self.covers(key, update):
            return False
        # Shielded: once stored, the update is applied, relayed and projected even if
        # the session that brought it is torn down meanwhile.
        return await asyncio.shield(self._persist_remote(key, update, origin, source))

    async def _persist_remote(self, key: str, update: bytes, origin: str, source: object) -> bool:
        # If this fails nothing was applied: the doc is intact and the peer resends later.
        seq = await self.store.append(key, update, origin)
        live = await self.open(key)  # it may have been reloaded meanwhile (and then holds the update)
        try:
            with live.doc.transaction(origin=origin):
                live.doc.apply_update(update)
        except _FATAL:
            raise
        except BaseException:
            self._evict(live)
            raise ProtocolError("bad_update", "the update could not be applied") from None
        changes = live.take_changes()
        bad = sum(isinstance(c, Quarantined) for c in changes)
        if bad:
            log.warning("%s: %d invalid values from %s quarantined (see sync_quarantine)", key, bad, origin)
        # Relay as soon as the update is durable: peers need not wait for our projection.
        self._after_append(live, update, source)
        try:
            await self.store.mark_projected(key, seq, changes)
        except BaseException:
            self._evict(live)  # reloading re-projects the stored, unprojected row
            raise
        return True

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
        live = self._docs.get(key)
        if live is None:
            loading = self._loading.get(key)
            if loading is None:
                return False
            try:
                live = await asyncio.shield(loading)
            except asyncio.CancelledError:
                if not loading.cancelled():
                    raise  # we were cancelled, not the load
                return False
            except Exception:
                return False  # the load failed: the next use loads it again, with this update
        try:
            if self.covers(key, update):
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

    def state_vector(self, name: str | DocName) -> bytes:
        return self._docs[str(name)].doc.get_state()

    def diff(self, name: str | DocName, state_vector: bytes | None = None) -> bytes:
        doc = self._docs[str(name)].doc
        return doc.get_update(state_vector) if state_vector is not None else doc.get_update()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def peer_reported(self, peer: str, name: str | DocName, state_vector: bytes) -> None:
        """A peer told us its state vector (sync step 1): our acknowledgement."""
        if self.acks.peer_state(peer, str(name), decode_state_vector(state_vector)):
            await self.store.save_peer_state(peer, str(name), state_vector)

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
