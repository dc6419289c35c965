"""One writer thread per SQLite database, with group commit.

SQLite allows one writer at a time; instead of letting coroutines fight for
the lock (``SQLITE_BUSY`` under a scan storm), every write is a job queued
to a single thread that owns the write connection.  The thread takes all
jobs waiting in the queue, runs each inside its own ``SAVEPOINT`` of one
``BEGIN IMMEDIATE`` transaction and commits once: a burst of 200 scans
costs one fsync, yet each caller learns its own job's outcome only after
the commit, so an acknowledgement always means "on disk".

A job that raises is rolled back to its savepoint and its error goes to its
caller alone.  A commit that fails (disk full, I/O error) fails every job
of the batch.  Either way the job's :class:`~sync.store.WriteGuard` is
marked broken, so later writes made from the same in-memory document are
refused instead of stored with a gap.

Two lanes.  Jobs run ``background=True`` (projecting a peer's catch-up,
compaction: work nobody stands waiting for) never share a transaction with
the others and never get ahead of them: each turn of the thread commits
every waiting foreground job first (a door scan, a print), then runs at
most one background job in its own transaction.  A scan therefore waits
for at most one background job, which is why those jobs are kept small
(see :meth:`~sync.sqlite_store.SQLiteUpdateStore.mark_projected`), and a
steady foreground load still lets the background lane advance instead of
starving it.  While the door keeps writing, a background job is followed
by a pause twice as long as itself: the background lane gets at most a
third of the writer (and of the GIL its Python code holds), and a catch-up
runs at full speed only when no door is scanning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from sync.store import StorageError, WriteGuard

T = TypeVar("T")
log = logging.getLogger(__name__)

Synchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]

#: Seconds between two WAL checkpoints (done beside the writer, see :class:`_Checkpointer`).
CHECKPOINT_EVERY = 0.5
#: While door work (a foreground job with a document's guard) came in the last this many seconds,
#: background jobs are paced: each is followed by a pause this many times as long.
BUSY_FOR = 1.0
BACKGROUND_YIELDS = 2.0


@dataclass(slots=True)
class _Job(Generic[T]):
    fn: Callable[[sqlite3.Connection], T]
    future: asyncio.Future[T]
    loop: asyncio.AbstractEventLoop
    guard: WriteGuard | None
    durable: bool = True
    paces: bool = False


def connect(path: Path | str, *, synchronous: Synchronous = "FULL") -> sqlite3.Connection:
    """Open a connection with the settings every Konferenco database uses.

    ``synchronous=FULL`` in WAL mode fsyncs the WAL at each commit, so an
    acknowledged write also survives a power cut, not only ``kill -9``.
    """
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def execute_script(conn: sqlite3.Connection, script: str) -> None:
    """Run DDL statements inside the current transaction.

    ``Connection.executescript`` commits any open transaction first, which
    would break the writer's batch; our schema scripts hold no ``;`` in
    literals, so splitting is safe.
    """
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def storage_error(exc: BaseException) -> StorageError:
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and "full" in text:
        return StorageError("disk_full", f"the database is full ({text}); nothing was written")
    return StorageError("storage_failed", f"the write was not stored ({type(exc).__name__}: {text})")


class SQLiteWriter:
    """The single writer of one SQLite file."""

    def __init__(
        self,
        path: Path | str,
        *,
        synchronous: Synchronous = "FULL",
        max_batch: int = 512,
        setup: Callable[[sqlite3.Connection], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self._synchronous = synchronous
        self._max_batch = max_batch
        self._setup = setup
        self._foreground: deque[_Job[Any]] = deque()
        self._background: deque[_Job[Any]] = deque()
        self._wake = threading.Condition()
        self._closing = False
        self._foreground_at = float("-inf")  # when a foreground batch last committed
        self._background_after = float("-inf")  # no background job before this (monotonic)
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self.commits = 0
        self.jobs = 0
        self.background_jobs = 0

    def start(self) -> None:
        if self._thread is not None:
            return
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=f"sqlite-writer:{self.path.name}", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._start_error is not None:
            raise self._start_error

    async def run(
        self,
        fn: Callable[[sqlite3.Connection], T],
        guard: WriteGuard | None = None,
        *,
        background: bool = False,
        durable: bool = True,
    ) -> T:
        """Run ``fn(conn)`` in the next batch of its lane; return once that batch committed.

        ``durable=False`` (background jobs only) commits without waiting for
        the disk (``synchronous=NORMAL``): for work that can be redone from
        what is durable, such as projecting a stored update whose row stays
        flagged unprojected until its last chunk.  In WAL mode the next
        durable commit syncs it too, and a power cut can only lose a suffix
        of the log, never a transaction before a durable one.
        """
        if not durable and not background:
            raise ValueError("only background jobs may skip waiting for the disk")
        # Door work paces the background lane: a write through a document's guard (a scan, a
        # print). Loads and sync bookkeeping carry no guard, and do not.
        paces = guard is not None and not background
        if self._thread is None:
            self.start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._wake:
            (self._background if background else self._foreground).append(
                _Job(fn, future, loop, guard, durable, paces)
            )
            self._wake.notify()
        # A caller that gives up (cancelled) cancels only its wait: the job is queued
        # and runs all the same, so the document and the store never disagree.
        return await future

    def backlog(self) -> tuple[int, int]:
        """(foreground, background) jobs waiting, for health and metrics."""
        return len(self._foreground), len(self._background)

    async def close(self) -> None:
        """Run every job already queued, then stop the thread."""
        if self._thread is None:
            return
        with self._wake:
            self._closing = True
            self._wake.notify()
        await asyncio.to_thread(self._thread.join)
        self._thread = None

    # --- the writer thread --------------------------------------------------------------

    def _run(self) -> None:
        try:
            conn = connect(self.path, synchronous=self._synchronous)
            # Checkpoints copy the WAL into the database and fsync it: run inside a commit
            # (SQLite's default, every 1,000 pages) they held door scans for tens of
            # milliseconds during a catch-up. A thread of its own does them instead.
            conn.execute("PRAGMA wal_autocheckpoint=0")
            if self._setup is not None:
                self._setup(conn)
        except BaseException as exc:
            self._start_error = exc
            self._ready.set()
            return
        self._ready.set()
        checkpoints = _Checkpointer(self.path)
        try:
            while True:
                with self._wake:
                    while True:
                        if self._foreground or self._closing:
                            break
                        rest = self._background_after - time.monotonic()
                        if self._background and rest <= 0:
                            break
                        self._wake.wait(rest if self._background else None)
                    if not (self._foreground or self._background):
                        return  # closing, and everything queued has run
                    batch = [
                        self._foreground.popleft() for _ in range(min(len(self._foreground), self._max_batch))
                    ]
                    ready = self._closing or time.monotonic() >= self._background_after
                    behind = self._background.popleft() if self._background and ready else None
                if batch:
                    self._run_batch(conn, batch)
                    if any(job.paces for job in batch):
                        self._foreground_at = time.monotonic()
                if behind is not None:
                    self._run_background(conn, behind)
        finally:
            checkpoints.stop()
            conn.close()

    def _run_background(self, conn: sqlite3.Connection, job: _Job[Any]) -> None:
        started = time.monotonic()
        relax = not job.durable and self._synchronous in ("FULL", "EXTRA")
        if relax:
            conn.execute("PRAGMA synchronous=NORMAL")
        try:
            self._run_batch(conn, [job])
        finally:
            if relax:
                conn.execute(f"PRAGMA synchronous={self._synchronous}")
        self.background_jobs += 1
        if started - self._foreground_at < BUSY_FOR:
            # The door is at work: the background lane gets at most a third of the writer.
            self._background_after = time.monotonic() + BACKGROUND_YIELDS * (time.monotonic() - started)

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Job[Any]]) -> None:
        # A lone job needs no savepoint: on error the whole transaction is its own.
        savepoints = len(batch) > 1
        outcomes: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._fail_batch(conn, batch, exc)
            return
        for job in batch:
            if job.guard is not None and job.guard.broken:
                outcomes.append(
                    (False, StorageError("stale", "an earlier write to this document failed; retry"))
                )
                continue
            if savepoints:
                conn.execute("SAVEPOINT job")
            try:
                result = job.fn(conn)
            except BaseException as exc:
                if job.guard is not None:
                    job.guard.broken = True
                if not savepoints or not conn.in_transaction:
                    # Either the job was alone, or SQLite rolled the whole transaction
                    # back (SQLITE_FULL can): every job of the batch is lost.
                    self._fail_batch(conn, batch, exc)
                    return
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
                outcomes.append((False, storage_error(exc) if isinstance(exc, sqlite3.Error) else exc))
                continue
            if savepoints:
                conn.execute("RELEASE job")
            outcomes.append((True, result))
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._fail_batch(conn, batch, exc)
            return
        self.commits += 1
        self.jobs += len(batch)
        for job, (ok, value) in zip(batch, outcomes, strict=True):
            self._deliver(job, ok, value)

    def _fail_batch(self, conn: sqlite3.Connection, batch: list[_Job[Any]], exc: BaseException) -> None:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if not isinstance(exc, sqlite3.Error) and len(batch) == 1:
            error: BaseException = exc  # the job's own error (e.g. a bug), not the storage's
        else:
            log.error("write batch failed, %d writes rolled back: %s", len(batch), exc)
            error = storage_error(exc)
        for job in batch:
            if job.guard is not None:
                job.guard.broken = True
            self._deliver(job, False, error)

    @staticmethod
    def _deliver(job: _Job[Any], ok: bool, value: Any) -> None:
        def settle() -> None:
            if job.future.done():
                return
            if ok:
                job.future.set_result(value)
            else:
                job.future.set_exception(value)

        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            job.loop.call_soon_threadsafe(settle)


class _Checkpointer:
    """Copies the WAL into the database every :data:`CHECKPOINT_EVERY` seconds, beside the writer.

    ``PRAGMA wal_checkpoint(PASSIVE)`` on its own connection never blocks the
    writer (WAL lets one writer and a checkpointer work at once); the writer
    restarts the WAL once a checkpoint has caught up.  Durability does not
    depend on it: a commit is durable when its WAL frames are synced.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sqlite-checkpoint:{path.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=5000")
        except sqlite3.Error as exc:
            log.error("no WAL checkpoints for %s: %s", self._path, exc)
            return
        try:
            while not self._stopping.wait(CHECKPOINT_EVERY):
                self._checkpoint(conn)
            self._checkpoint(conn)
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:  # the disk, mostly: the next turn tries again
            log.warning("WAL checkpoint of %s failed: %s", self._path.name, exc)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()
