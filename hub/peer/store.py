"""The update log in PostgreSQL (the hub's store), shared by every hub worker.

Same tables, same rules as the appliance's SQLite log
(:mod:`sync.sqlite_store`, :mod:`sync.store`): a local write is one
transaction with its author clock and its projection; a remote update is
stored unprojected, then projected by :meth:`PostgresUpdateStore.mark_projected`;
compaction merges projected rows into segments and, rarely, into the
snapshot.  What PostgreSQL adds:

* **several writers** — every worker appends to the same log.  Reads that
  must see one state (:meth:`~PostgresUpdateStore.load`) run in one
  repeatable-read snapshot, and two workers compacting the same document
  queue on a transaction-scoped advisory lock instead of merging the same
  rows twice.
* **fan-out** — every append also sends ``NOTIFY konferenco_sync,
  '<worker> <seq> <doc>'`` in its transaction, delivered only if it commits,
  so the other workers can apply the update to their in-memory copy
  (:mod:`hub.peer.fanout`).

The schema belongs to Alembic (``hub/migrations``): :meth:`open` only checks
that it is there.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import zlib
from collections.abc import Sequence
from typing import Any, Protocol

import asyncpg  # type: ignore[import-untyped, unused-ignore]
from pycrdt import merge_updates

from konferenco.types import now_ms
from sync.documents import Change, Quarantined
from sync.sqlite_store import MAX_SEGMENTS, SEGMENT_BYTES, SEGMENT_ORIGIN
from sync.store import Authored, Compaction, LoadedDoc, StorageError, StoredUpdate, WriteGuard, check_deadline

#: The channel every append notifies, with ``'<worker id> <seq> <doc>'``.
SYNC_CHANNEL = "konferenco_sync"
#: First key of the advisory lock that serialises compaction of one document (the second is its hash).
COMPACT_LOCK = 0x6B66_7363  # "kfsc"

#: What a lost or broken database connection raises.  ``InternalClientError`` is what asyncpg
#: raises when a connection was cut while the worker was busy with something else.
CONNECTION_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError)

LOG_TABLES = ("sync_update", "sync_snapshot", "sync_authored", "sync_quarantine", "sync_peer_state")

_INSERT_UPDATE = (
    "INSERT INTO sync_update (doc, origin, update_bytes, received_at, projected)"
    " VALUES ($1, $2, $3, $4, $5) RETURNING seq"
)
# One statement (one round trip) for the row, its author clock and the notification.
# A data-modifying WITH runs to completion even though the outer query does not read it.
_APPEND = f"""
WITH u AS ({_INSERT_UPDATE}),
a AS (
    INSERT INTO sync_authored (doc, client_id, clock_end, at)
    SELECT $1, $6::bigint, $7::bigint, $8::bigint WHERE $6::bigint IS NOT NULL
    ON CONFLICT DO NOTHING
)
SELECT seq, CASE WHEN $9::text IS NOT NULL
    THEN pg_notify('{SYNC_CHANNEL}', $9::text || ' ' || seq || ' ' || $1) IS NULL END
FROM u
"""


class Projection(Protocol):
    """Turns document changes into query tables, inside the store's transaction.

    Must be idempotent per record id: :meth:`PostgresUpdateStore.rebuild`
    calls ``reset`` and then projects every document again, and two workers
    may project the same stored row (both loading it unprojected).
    """

    async def project(self, conn: Any, changes: Sequence[Change]) -> None: ...

    async def reset(self, conn: Any) -> None: ...


class NoProjection:
    async def project(self, conn: Any, changes: Sequence[Change]) -> None:
        pass

    async def reset(self, conn: Any) -> None:
        pass


class SchemaMissing(RuntimeError):
    """The database has not been migrated: the store never creates tables itself."""


def storage_error(exc: BaseException) -> StorageError:
    """The :class:`StorageError` a sync session reports for a failed PostgreSQL write."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, asyncpg.DiskFullError):
        return StorageError("disk_full", f"the database is full ({text}); nothing was written")
    if isinstance(
        exc, asyncpg.PostgresConnectionError | asyncpg.InterfaceError | asyncpg.InternalClientError | OSError
    ):
        return StorageError("storage_failed", f"the database connection failed ({text}); retry")
    return StorageError("storage_failed", f"the write was not stored ({type(exc).__name__}: {text})")


async def quarantine_changes(conn: Any, changes: Sequence[Change]) -> None:
    """Report the :class:`~sync.documents.Quarantined` changes (the projection adds its own)."""
    rows = [
        (str(c.doc), c.root, c.key, json.dumps(c.raw, default=repr), c.error, now_ms())
        for c in changes
        if isinstance(c, Quarantined)
    ]
    if rows:
        await conn.executemany(
            "INSERT INTO sync_quarantine (doc, root, key, raw, error, at) VALUES ($1, $2, $3, $4, $5, $6)",
            rows,
        )


class PostgresUpdateStore:
    """:class:`~sync.store.UpdateStore` on a PostgreSQL database (asyncpg pool).

    ``worker_id`` names this process in notifications, so its fan-out can
    tell its own appends from the other workers'.  The pool is the caller's
    unless the store was made with :meth:`connect`.
    """

    def __init__(
        self,
        pool: Any,
        *,
        projector: Projection | None = None,
        notify: bool = True,
        worker_id: str | None = None,
    ) -> None:
        self.pool = pool
        self.projector: Projection = projector or NoProjection()
        self.notify = notify
        self.worker_id = worker_id or secrets.token_hex(4)
        if not self.worker_id or " " in self.worker_id:
            raise ValueError(f"invalid worker id {self.worker_id!r}: it may not be empty or hold spaces")
        #: Remote rows this process stored and has not projected yet: the fan-out must not
        #: apply them from the log, or their changes would be observed there, not projected.
        self.projecting: set[int] = set()
        self._owns_pool = False

    @classmethod
    async def connect(
        cls, dsn: str, *, min_size: int = 2, max_size: int = 10, **kwargs: Any
    ) -> PostgresUpdateStore:
        """A store with a pool of its own, closed by :meth:`close`."""
        pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size)
        store = cls(pool, **kwargs)
        store._owns_pool = True
        return store

    async def open(self) -> None:
        missing = await self.pool.fetchval(
            "SELECT array_agg(t) FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NULL", list(LOG_TABLES)
        )
        if missing:
            raise SchemaMissing(
                f"the hub database has no sync tables ({', '.join(missing)}): run 'konferenco hub migrate'"
            )

    async def _project(self, conn: Any, changes: Sequence[Change]) -> None:
        await quarantine_changes(conn, changes)
        await self.projector.project(conn, changes)

    # --- writes -----------------------------------------------------------------------

    async def append(
        self,
        doc: str,
        update: bytes,
        origin: str,
        *,
        guard: WriteGuard | None = None,
        authored: Authored | None = None,
        changes: Sequence[Change] | None = None,
        deadline: float | None = None,
    ) -> int:
        check_deadline(deadline)
        if guard is not None and guard.broken:
            raise StorageError("stale", "an earlier write to this document failed; retry")
        args = (
            doc,
            origin,
            update,
            now_ms(),
            changes is not None,
            authored.client_id if authored else None,
            authored.clock_end if authored else None,
            authored.at if authored else None,
            self.worker_id if self.notify else None,
        )
        try:
            async with self.pool.acquire() as conn:
                if changes:
                    async with conn.transaction():
                        seq: int = (await conn.fetchrow(_APPEND, *args))[0]
                        await self._project(conn, changes)
                else:  # one statement is its own transaction
                    seq = (await conn.fetchrow(_APPEND, *args))[0]
                    if changes is None:  # before the next await: the fan-out may look right after
                        self.projecting.add(seq)
        except BaseException as exc:
            if guard is not None:
                guard.broken = True  # later writes from this copy would build on a clock never stored
            if isinstance(exc, CONNECTION_ERRORS):
                raise storage_error(exc) from exc
            raise
        return seq

    async def mark_projected(self, doc: str, seq: int, changes: Sequence[Change]) -> None:
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                await self._project(conn, changes)
                await conn.execute("UPDATE sync_update SET projected = true WHERE seq = $1", seq)
        except CONNECTION_ERRORS as exc:
            raise storage_error(exc) from exc
        finally:
            # Projected, or failed and the replica reloads the document (which projects it).
            self.projecting.discard(seq)

    async def quarantine_update(self, doc: str, seq: int, error: str) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            update = await conn.fetchval("DELETE FROM sync_update WHERE seq = $1 RETURNING update_bytes", seq)
            if update is None:
                return
            await conn.execute(
                "INSERT INTO sync_quarantine (doc, root, key, raw, error, at)"
                " VALUES ($1, '', $2, $3, $4, $5)",
                doc,
                f"update #{seq}",
                json.dumps({"update_hex": bytes(update).hex()}),
                error,
                now_ms(),
            )
        self.projecting.discard(seq)

    async def save_peer_state(self, peer: str, doc: str, state_vector: bytes) -> None:
        await self.pool.execute(
            "INSERT INTO sync_peer_state (peer, doc, state_vector, updated_at) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (peer, doc) DO UPDATE SET state_vector = excluded.state_vector,"
            " updated_at = excluded.updated_at",
            peer,
            doc,
            state_vector,
            now_ms(),
        )

    async def compact(self, doc: str, *, limit: int = 5000, full: bool = False) -> Compaction:
        """Merge projected updates in two tiers, as :meth:`sync.sqlite_store.SQLiteUpdateStore.compact`.

        Runs in one transaction holding an advisory lock on the document, so a
        second worker compacting it waits and then finds the rows merged.
        The merges run in a thread: folding a large document takes ~0.5 s of
        CPU, which would otherwise stall every sync session of this worker.
        """
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", COMPACT_LOCK, doc)
            small = await conn.fetch(
                "SELECT seq, update_bytes FROM sync_update WHERE doc = $1 AND projected"
                " AND origin <> $2 AND octet_length(update_bytes) < $3 ORDER BY seq LIMIT $4 FOR UPDATE",
                doc,
                SEGMENT_ORIGIN,
                SEGMENT_BYTES,
                limit,
            )
            if len(small) > 1:
                segment = await asyncio.to_thread(merge_updates, *[bytes(row[1]) for row in small])
                await conn.execute(
                    "DELETE FROM sync_update WHERE seq = ANY($1::bigint[])", [r[0] for r in small]
                )
                await conn.execute(
                    "INSERT INTO sync_update (doc, origin, update_bytes, received_at, projected)"
                    " VALUES ($1, $2, $3, $4, true)",
                    doc,
                    SEGMENT_ORIGIN,
                    segment,
                    now_ms(),
                )
            merged = len(small) if len(small) > 1 else 0
            segments = list(
                await conn.fetch(
                    "SELECT seq, update_bytes FROM sync_update WHERE doc = $1 AND projected"
                    " AND (origin = $2 OR octet_length(update_bytes) >= $3) FOR UPDATE",
                    doc,
                    SEGMENT_ORIGIN,
                    SEGMENT_BYTES,
                )
            )
            if full:
                segments += small if len(small) == 1 else []
            snap = await conn.fetchval("SELECT state FROM sync_snapshot WHERE doc = $1", doc)
            if segments and (full or len(segments) > MAX_SEGMENTS):
                parts = [bytes(row[1]) for row in segments]
                packed = await asyncio.to_thread(_fold, snap, parts)
                await conn.execute(
                    "INSERT INTO sync_snapshot (doc, state, merged, updated_at) VALUES ($1, $2, $3, $4)"
                    " ON CONFLICT (doc) DO UPDATE SET state = excluded.state,"
                    " merged = sync_snapshot.merged + excluded.merged, updated_at = excluded.updated_at",
                    doc,
                    packed,
                    len(segments),
                    now_ms(),
                )
                await conn.execute(
                    "DELETE FROM sync_update WHERE seq = ANY($1::bigint[])", [r[0] for r in segments]
                )
                return Compaction(doc, merged, len(packed))
            return Compaction(doc, merged, len(snap) if snap else 0)

    async def rebuild(self, docs: dict[str, list[Change]]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await self.projector.reset(conn)
            await conn.execute("DELETE FROM sync_quarantine")
            for changes in docs.values():
                await self._project(conn, changes)
            await conn.execute("UPDATE sync_update SET projected = true WHERE NOT projected")

    # --- reads ----------------------------------------------------------------------------

    async def load(self, doc: str) -> LoadedDoc:
        # One snapshot: a compaction committing between two of these reads would
        # otherwise move rows into the snapshot after we read it and before we read them.
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            loaded = LoadedDoc()
            snap = await conn.fetchval("SELECT state FROM sync_snapshot WHERE doc = $1", doc)
            if snap is not None:
                loaded.base.append(StoredUpdate(0, zlib.decompress(snap), "snapshot"))
            for seq, update, origin, projected in await conn.fetch(
                "SELECT seq, update_bytes, origin, projected FROM sync_update WHERE doc = $1 ORDER BY seq",
                doc,
            ):
                (loaded.base if projected else loaded.unprojected).append(
                    StoredUpdate(seq, bytes(update), origin)
                )
            loaded.authored = [
                Authored(*row)
                for row in await conn.fetch(
                    "SELECT client_id, clock_end, at FROM sync_authored WHERE doc = $1 ORDER BY at", doc
                )
            ]
            return loaded

    async def all_updates(self, doc: str) -> list[bytes]:
        loaded = await self.load(doc)
        return [u.update for u in loaded.base + loaded.unprojected]

    async def documents(self) -> list[str]:
        rows = await self.pool.fetch(
            "SELECT doc FROM sync_update UNION SELECT doc FROM sync_snapshot ORDER BY 1"
        )
        return [row[0] for row in rows]

    async def peer_states(self) -> dict[tuple[str, str], bytes]:
        rows = await self.pool.fetch("SELECT peer, doc, state_vector FROM sync_peer_state")
        return {(peer, doc): bytes(sv) for peer, doc, sv in rows}

    async def quarantined(self) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT id, doc, root, key, raw, error, at FROM sync_quarantine ORDER BY id"
        )
        return [dict(row) for row in rows]

    # --- for the fan-out -------------------------------------------------------------------

    async def updates(self, seqs: Sequence[int]) -> dict[int, tuple[str, bytes]]:
        """The rows with these sequence numbers that still exist (not compacted or quarantined)."""
        rows = await self.pool.fetch(
            "SELECT seq, doc, update_bytes FROM sync_update WHERE seq = ANY($1::bigint[])", list(seqs)
        )
        return {seq: (doc, bytes(update)) for seq, doc, update in rows}

    async def updates_after(self, seq: int, received_since: int) -> list[tuple[int, str, bytes]]:
        """Rows after ``seq``, or received since ``received_since`` (ms), in log order.

        The second bound catches a row whose transaction took its sequence
        number before ``seq`` but committed after it.
        """
        rows = await self.pool.fetch(
            "SELECT seq, doc, update_bytes FROM sync_update WHERE seq > $1 OR received_at >= $2 ORDER BY seq",
            seq,
            received_since,
        )
        return [(s, doc, bytes(update)) for s, doc, update in rows]

    async def snapshots_since(self, updated_since: int) -> list[tuple[str, bytes]]:
        """Snapshots folded since ``updated_since`` (ms): rows merged into them left the log."""
        rows = await self.pool.fetch(
            "SELECT doc, state FROM sync_snapshot WHERE updated_at >= $1 ORDER BY doc", updated_since
        )
        return [(doc, zlib.decompress(state)) for doc, state in rows]

    async def last_seq(self) -> int:
        return int(await self.pool.fetchval("SELECT coalesce(max(seq), 0) FROM sync_update"))

    async def close(self) -> None:
        if self._owns_pool:
            await self.pool.close()


def _fold(snapshot: bytes | None, parts: list[bytes]) -> bytes:
    """The new compressed snapshot: the old one merged with ``parts``."""
    merged = ([zlib.decompress(snapshot)] if snapshot else []) + parts
    state = merge_updates(*merged) if len(merged) > 1 else merged[0]
    return zlib.compress(state, 1)
