"""The update log in SQLite (the appliance's store).

Tables (all prefixed ``sync_``; the projections own the others):

* ``sync_update(seq, doc, origin, update, received_at, projected)`` —
  the append-only log.
* ``sync_snapshot(doc, state, merged, updated_at)`` — the compacted
  prefix, zlib-compressed (5-10x on these documents).
* ``sync_authored(doc, client_id, clock_end, at)`` — the clocks this
  replica wrote, for acknowledgement counts; kept across compaction.
* ``sync_quarantine`` — values from remote peers that failed validation.
* ``sync_peer_state(peer, doc, state_vector)`` — the last state vector each
  peer reported, so "not yet acknowledged by the hub" survives a restart.

Every method is one job on the :class:`~sync.sqlite_writer.SQLiteWriter`,
so its effects commit together or not at all.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from pycrdt import merge_updates

from konferenco.types import now_ms
from sync.documents import Change, Quarantined
from sync.sqlite_writer import SQLiteWriter, Synchronous, execute_script
from sync.store import Authored, Compaction, LoadedDoc, StoredUpdate, WriteGuard, check_deadline

SCHEMA = """
CREATE TABLE IF NOT EXISTS sync_update (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    doc TEXT NOT NULL,
    origin TEXT NOT NULL,
    update_bytes BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    projected INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS sync_update_doc ON sync_update (doc, projected, seq);
CREATE TABLE IF NOT EXISTS sync_snapshot (
    doc TEXT PRIMARY KEY,
    state BLOB NOT NULL,
    merged INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sync_authored (
    doc TEXT NOT NULL,
    client_id INTEGER NOT NULL,
    clock_end INTEGER NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (doc, client_id, clock_end)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sync_quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc TEXT NOT NULL,
    root TEXT NOT NULL,
    key TEXT,
    raw TEXT NOT NULL,
    error TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sync_peer_state (
    peer TEXT NOT NULL,
    doc TEXT NOT NULL,
    state_vector BLOB NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (peer, doc)
) WITHOUT ROWID;
"""


#: ``origin`` of a row that holds merged updates (a compaction segment).
SEGMENT_ORIGIN = "segment"
#: Segments a document may have before they are folded into its snapshot.
MAX_SEGMENTS = 32
#: Changes projected per background transaction (about 6 ms of writer time at a time).
PROJECT_CHUNK = 1000
#: A stored update this large (a peer's Step 2) already counts as a segment:
#: merging small updates into it would cost as much as a snapshot fold.
SEGMENT_BYTES = 64 * 1024


class Projector(Protocol):
    """Turns document changes into query tables, inside the store's transaction.

    Must be idempotent per record id: :meth:`SQLiteUpdateStore.rebuild`
    calls ``reset`` and then projects every document again.
    """

    def setup(self, conn: sqlite3.Connection) -> None: ...

    def project(self, conn: sqlite3.Connection, changes: Sequence[Change]) -> None: ...

    def reset(self, conn: sqlite3.Connection) -> None: ...


class NoProjection:
    def setup(self, conn: sqlite3.Connection) -> None:
        pass

    def project(self, conn: sqlite3.Connection, changes: Sequence[Change]) -> None:
        pass

    def reset(self, conn: sqlite3.Connection) -> None:
        pass


def quarantine_changes(conn: sqlite3.Connection, changes: Sequence[Change]) -> None:
    """Report the :class:`~sync.documents.Quarantined` changes, once per value."""
    rows = [
        (str(c.doc), c.root, c.key, json.dumps(c.raw, default=repr, sort_keys=True), c.error, now_ms())
        for c in changes
        if isinstance(c, Quarantined)
    ]
    if rows:
        # Once per value (keys sorted: the same record may come back with its keys in another
        # order): an update projected again (a crash before its last chunk) reports nothing new.
        conn.executemany(
            "INSERT INTO sync_quarantine (doc, root, key, raw, error, at) SELECT ?1, ?2, ?3, ?4, ?5, ?6"
            " WHERE NOT EXISTS (SELECT 1 FROM sync_quarantine"
            " WHERE doc = ?1 AND root = ?2 AND key IS ?3 AND raw = ?4 AND error = ?5)",
            rows,
        )


class SQLiteUpdateStore:
    """:class:`~sync.store.UpdateStore` on one SQLite file."""

    def __init__(
        self,
        path: Path | str,
        *,
        projector: Projector | None = None,
        synchronous: Synchronous = "FULL",
        writer: SQLiteWriter | None = None,
    ) -> None:
        self.projector: Projector = projector or NoProjection()
        self.writer = writer or SQLiteWriter(path, synchronous=synchronous)
        self.path = self.writer.path
        self._opened = False

    async def open(self) -> None:
        if not self._opened:
            await self.writer.run(self._setup)
            self._opened = True

    def _setup(self, conn: sqlite3.Connection) -> None:
        execute_script(conn, SCHEMA)
        self.projector.setup(conn)

    def _project(self, conn: sqlite3.Connection, changes: Sequence[Change]) -> None:
        quarantine_changes(conn, changes)
        self.projector.project(conn, changes)

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
        def job(conn: sqlite3.Connection) -> int:
            check_deadline(deadline)  # on the writer, as the transaction begins: refused, or stored
            return self.append_in(conn, doc, update, origin, authored=authored, changes=changes)

        # A peer's update (stored now, projected later) goes behind the door's scans.
        return await self.writer.run(job, guard, background=changes is None)

    def append_in(
        self,
        conn: sqlite3.Connection,
        doc: str,
        update: bytes,
        origin: str,
        *,
        authored: Authored | None = None,
        changes: Sequence[Change] | None = None,
    ) -> int:
        """Append inside the caller's transaction (for callers already on the writer)."""
        cur = conn.execute(
            "INSERT INTO sync_update (doc, origin, update_bytes, received_at, projected)"
            " VALUES (?, ?, ?, ?, ?)",
            (doc, origin, update, now_ms(), int(changes is not None)),
        )
        seq = cur.lastrowid
        assert seq is not None
        if authored is not None:
            conn.execute(
                "INSERT OR IGNORE INTO sync_authored (doc, client_id, clock_end, at) VALUES (?, ?, ?, ?)",
                (doc, authored.client_id, authored.clock_end, authored.at),
            )
        if changes:
            self._project(conn, changes)
        return seq

    async def mark_projected(self, doc: str, seq: int, changes: Sequence[Change]) -> None:
        """Project a stored remote update in small background transactions, then flag it.

        A peer's catch-up can carry 50,000 records; projected as one job it
        held the writer for a second while door scans queued behind it.  In
        chunks of :data:`PROJECT_CHUNK` on the writer's background lane a scan
        waits for one chunk at most (a few milliseconds).  Only the last chunk
        flags the row projected, so a crash half-way leaves it unprojected and
        the next load projects it again, whole: every projection step is
        idempotent per record id, so nothing is counted twice.
        """
        last = max(len(changes) - PROJECT_CHUNK, 0)
        for start in range(0, last, PROJECT_CHUNK):
            part = changes[start : start + PROJECT_CHUNK]
            await self.writer.run(partial(self._project, changes=part), background=True, durable=False)

        def finish(conn: sqlite3.Connection) -> None:
            self._project(conn, changes[last:])
            conn.execute("UPDATE sync_update SET projected = 1 WHERE seq = ?", (seq,))

        await self.writer.run(finish, background=True, durable=False)

    async def quarantine_update(self, doc: str, seq: int, error: str) -> None:
        def job(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT update_bytes FROM sync_update WHERE seq = ?", (seq,)).fetchone()
            if row is None:
                return
            conn.execute(
                "INSERT INTO sync_quarantine (doc, root, key, raw, error, at) VALUES (?, '', ?, ?, ?, ?)",
                (doc, f"update #{seq}", json.dumps({"update_hex": row[0].hex()}), error, now_ms()),
            )
            conn.execute("DELETE FROM sync_update WHERE seq = ?", (seq,))

        await self.writer.run(job)

    async def save_peer_state(self, peer: str, doc: str, state_vector: bytes) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO sync_peer_state (peer, doc, state_vector, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (peer, doc) DO UPDATE SET state_vector = excluded.state_vector,"
                " updated_at = excluded.updated_at",
                (peer, doc, state_vector, now_ms()),
            )

        # What a peer acknowledged: losing the last of it to a power cut only means a resend.
        await self.writer.run(job, background=True, durable=False)

    async def compact(self, doc: str, *, limit: int = 5000, full: bool = False) -> Compaction:
        """Merge projected updates, in two tiers, so the writer never stalls for long.

        Ordinary compaction merges up to ``limit`` small projected updates into
        one *segment* row (milliseconds: only those updates are merged; a
        large received update is a segment already).
        Only when a document has more than :data:`MAX_SEGMENTS` segments, or
        with ``full``, are the segments folded into the snapshot — the step
        whose cost grows with the whole document (about 0.5 s for a
        100,000-scan log), hence rare.  Call again while ``merged_updates``
        equals ``limit``.
        """

        def job(conn: sqlite3.Connection) -> Compaction:
            small = conn.execute(
                "SELECT seq, update_bytes FROM sync_update WHERE doc = ? AND projected = 1"
                " AND origin != ? AND length(update_bytes) < ? ORDER BY seq LIMIT ?",
                (doc, SEGMENT_ORIGIN, SEGMENT_BYTES, limit),
            ).fetchall()
            if len(small) > 1:
                segment = merge_updates(*[row[1] for row in small])
                conn.executemany("DELETE FROM sync_update WHERE seq = ?", [(row[0],) for row in small])
                conn.execute(
                    "INSERT INTO sync_update (doc, origin, update_bytes, received_at, projected)"
                    " VALUES (?, ?, ?, ?, 1)",
                    (doc, SEGMENT_ORIGIN, segment, now_ms()),
                )
            merged = len(small) if len(small) > 1 else 0
            segments = conn.execute(
                "SELECT seq, update_bytes FROM sync_update WHERE doc = ? AND projected = 1"
                " AND (origin = ? OR length(update_bytes) >= ?)",
                (doc, SEGMENT_ORIGIN, SEGMENT_BYTES),
            ).fetchall()
            if full:
                segments += small if len(small) == 1 else []
            snap = conn.execute("SELECT state FROM sync_snapshot WHERE doc = ?", (doc,)).fetchone()
            if segments and (full or len(segments) > MAX_SEGMENTS):
                parts = ([zlib.decompress(snap[0])] if snap else []) + [row[1] for row in segments]
                state = merge_updates(*parts) if len(parts) > 1 else parts[0]
                packed = zlib.compress(state, 1)
                conn.execute(
                    "INSERT INTO sync_snapshot (doc, state, merged, updated_at) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (doc) DO UPDATE SET state = excluded.state,"
                    " merged = sync_snapshot.merged + excluded.merged, updated_at = excluded.updated_at",
                    (doc, packed, len(segments), now_ms()),
                )
                conn.executemany("DELETE FROM sync_update WHERE seq = ?", [(row[0],) for row in segments])
                return Compaction(doc, merged, len(packed))
            return Compaction(doc, merged, len(snap[0]) if snap else 0)

        return await self.writer.run(job, background=True, durable=False)

    async def rebuild(self, docs: dict[str, list[Change]]) -> None:
        def job(conn: sqlite3.Connection) -> None:
            self.projector.reset(conn)
            conn.execute("DELETE FROM sync_quarantine")
            for changes in docs.values():
                self._project(conn, changes)
            conn.execute("UPDATE sync_update SET projected = 1 WHERE projected = 0")

        await self.writer.run(job)

    # --- reads (on the writer thread too: they are rare and must see every commit) -----

    async def load(self, doc: str) -> LoadedDoc:
        def job(conn: sqlite3.Connection) -> LoadedDoc:
            loaded = LoadedDoc()
            snap = conn.execute("SELECT state FROM sync_snapshot WHERE doc = ?", (doc,)).fetchone()
            if snap:
                loaded.base.append(StoredUpdate(0, zlib.decompress(snap[0]), "snapshot"))
            for seq, update, origin, projected in conn.execute(
                "SELECT seq, update_bytes, origin, projected FROM sync_update WHERE doc = ? ORDER BY seq",
                (doc,),
            ):
                (loaded.base if projected else loaded.unprojected).append(StoredUpdate(seq, update, origin))
            loaded.authored = [
                Authored(*row)
                for row in conn.execute(
                    "SELECT client_id, clock_end, at FROM sync_authored WHERE doc = ? ORDER BY at", (doc,)
                )
            ]
            return loaded

        return await self.writer.run(job)

    async def all_updates(self, doc: str) -> list[bytes]:
        loaded = await self.load(doc)
        return [u.update for u in loaded.base + loaded.unprojected]

    async def documents(self) -> list[str]:
        def job(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT doc FROM sync_update UNION SELECT doc FROM sync_snapshot ORDER BY 1"
            ).fetchall()
            return [row[0] for row in rows]

        return await self.writer.run(job)

    async def peer_states(self) -> dict[tuple[str, str], bytes]:
        def job(conn: sqlite3.Connection) -> dict[tuple[str, str], bytes]:
            rows = conn.execute("SELECT peer, doc, state_vector FROM sync_peer_state").fetchall()
            return {(peer, doc): sv for peer, doc, sv in rows}

        return await self.writer.run(job)

    async def quarantined(self) -> list[dict[str, Any]]:
        def job(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute(
                "SELECT id, doc, root, key, raw, error, at FROM sync_quarantine ORDER BY id"
            ).fetchall()
            keys = ("id", "doc", "root", "key", "raw", "error", "at")
            return [dict(zip(keys, row, strict=True)) for row in rows]

        return await self.writer.run(job)

    async def close(self) -> None:
        await self.writer.close()
