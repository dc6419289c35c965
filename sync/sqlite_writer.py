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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from sync.store import StorageError, WriteGuard

T = TypeVar("T")
log = logging.getLogger(__name__)

Synchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]


@dataclass(slots=True)
class _Job(Generic[T]):
    fn: Callable[[sqlite3.Connection], T]
    future: asyncio.Future[T]
    loop: asyncio.AbstractEventLoop
    guard: WriteGuard | None


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
        self._queue: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self.commits = 0
        self.jobs = 0

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=f"sqlite-writer:{self.path.name}", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._start_error is not None:
            raise self._start_error

    async def run(self, fn: Callable[[sqlite3.Connection], T], guard: WriteGuard | None = None) -> T:
        """Run ``fn(conn)`` in the next batch; return once the batch committed."""
        if self._thread is None:
            self.start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Job(fn, future, loop, guard))
        # A caller that gives up (cancelled) cancels only its wait: the job is queued
        # and runs all the same, so the document and the store never disagree.
        return await future

    async def close(self) -> None:
        if self._thread is None:
            return
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join)
        self._thread = None

    # --- the writer thread --------------------------------------------------------------

    def _run(self) -> None:
        try:
            conn = connect(self.path, synchronous=self._synchronous)
            if self._setup is not None:
                self._setup(conn)
        except BaseException as exc:
            self._start_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                stop = False
                while len(batch) < self._max_batch:
                    try:
                        job = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if job is None:
                        stop = True
                        break
                    batch.append(job)
                self._run_batch(conn, batch)
                if stop:
                    return
        finally:
            conn.close()

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
