"""The import's worker processes: badge signing and search folding on every core of the hub.

Signing holds the GIL (Ed25519 is ~35 µs a badge in OpenSSL, and the rest is Python), so threads
do not help: 180,000 badges are ~7 s of one core, their search texts ~2 s more.  A big file is
therefore cut into chunks of :data:`CHUNK_ROWS` rows, prepared by a ``ProcessPoolExecutor`` with
a process per core, and the roster writes each chunk while the next ones are signed
(:func:`hub.catalog.roster.import_attendees`).  The processes are started with ``spawn``: they
inherit nothing of the hub worker (its event loop, its connections, its threads), and receive
only the rows and the event key (:mod:`hub.catalog.prepare` says why the codes are the same).

Small files never touch it: below :data:`POOL_MIN_ROWS` rows the work runs in a thread, as
before, so a 50-person import never waits for a process to start.  The processes start when the
first big file arrives (:meth:`ImportPool.warm`, while the file is parsed) and stay for the next
one, until :data:`IDLE_S` pass without an import.  :meth:`ImportPool.close` stops them
(:func:`lifespan`, when the hub worker stops), and each process also exits by itself when the
hub worker is gone, however it ended.  A process that dies (killed for memory, say) does not
fail the import: the chunks left are prepared in a thread, and the next big import starts new
processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager

from hub.catalog.prepare import Pending, Prepared, prepare, prepare_with_key, private_bytes, ready
from konferenco.badges import BadgeSigner

log = logging.getLogger(__name__)

#: Fewer rows than this are prepared in a thread: ~0.2 s of signing, less than starting processes.
POOL_MIN_ROWS = 4_000
#: Rows per task: ~0.4 s of work, small enough that writing starts soon and the cores stay busy.
CHUNK_ROWS = 8_000
#: A file this big (~4,000 CSV rows) starts the processes before it is parsed, to hide their start.
WARM_BYTES = 256 * 1024
#: More processes than this would only queue for PostgreSQL, which writes one chunk at a time.
MAX_PROCESSES = 4
#: Worker processes yield the CPU to the hub's requests and to PostgreSQL, which writes the chunks.
NICENESS = 5
#: Seconds without an import after which the processes stop (~65 MB each): imports come in bursts.
IDLE_S = 600.0


def default_processes() -> int:
    """The cores this process may run on (not the machine's: a container may have fewer)."""
    try:
        return min(len(os.sched_getaffinity(0)), MAX_PROCESSES)
    except AttributeError:  # not Linux
        return min(os.cpu_count() or 1, MAX_PROCESSES)


def _start_worker() -> None:
    """Set up a worker process: lower priority, no Ctrl-C, and gone when the hub worker is.

    Signing a big file would otherwise take both cores from the hub's other requests and from
    PostgreSQL, whose writing of the chunks is what the organizer waits for.  Ctrl-C is for the
    hub, which then stops its pool.  And a hub worker can end without stopping it: uvicorn
    re-raises the SIGTERM it handled once the app has shut down, which skips the interpreter's
    exit hooks, and a killed worker runs none at all; so each process watches its parent.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.nice(NICENESS)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), name="parent-watch", daemon=True).start()


def _exit_with(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(0)


class ImportPool:
    """Worker processes that prepare an import's rows (:func:`hub.catalog.prepare.prepare`)."""

    def __init__(self, processes: int | None = None, idle_s: float = IDLE_S) -> None:
        self.processes = default_processes() if processes is None else processes
        self.idle_s = idle_s
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._busy = 0  # imports using the processes now
        self._used = 0.0  # time.monotonic() of the last use

    @property
    def enabled(self) -> bool:
        """On one core a process would only add the cost of sending the rows there and back."""
        return self.processes > 1

    @property
    def pids(self) -> list[int]:
        """The worker processes running now (for health checks and tests)."""
        executor = self._executor
        processes = getattr(executor, "_processes", None) or {}
        return sorted(pid for pid, p in processes.items() if p.is_alive())

    def warm(self) -> None:
        """Start the processes now, so that they are ready when the file is parsed (~0.1 s each)."""
        executor = self._running()
        if executor is not None:
            for _ in range(self.processes):
                executor.submit(ready)
            self._used_now()

    async def prepared(
        self, signer: BadgeSigner, event_id: str, rows: Sequence[Pending]
    ) -> AsyncGenerator[tuple[int, Prepared], None]:
        """Each chunk's offset in ``rows`` and its codes and texts, in the rows' order.

        Use it with ``contextlib.aclosing``: leaving early cancels the chunks not yet started.
        """
        executor, futures = self._submit(signer, event_id, rows) if len(rows) >= POOL_MIN_ROWS else (None, [])
        if executor is None:
            yield 0, await asyncio.to_thread(prepare, signer, event_id, rows)
            return
        broken = False
        with self._lock:
            self._busy += 1
        try:
            for start, future in zip(range(0, len(rows), CHUNK_ROWS), futures, strict=True):
                chunk = None
                if not broken:
                    try:
                        chunk = await asyncio.wrap_future(future)
                    except BrokenProcessPool:
                        log.warning("an import worker process died; the import goes on in a thread")
                        broken = True  # the chunks after this one are lost with it
                        self._discard(executor)
                if chunk is None:
                    chunk = await asyncio.to_thread(
                        prepare, signer, event_id, rows[start : start + CHUNK_ROWS]
                    )
                yield start, chunk
        finally:
            for future in futures:
                future.cancel()
            with self._lock:
                self._busy -= 1
            self._used_now()

    def _submit(
        self, signer: BadgeSigner, event_id: str, rows: Sequence[Pending]
    ) -> tuple[ProcessPoolExecutor | None, list[Future[Prepared]]]:
        """Every chunk handed to the processes; no pool if there is none (one core, a stopping hub)."""
        key = private_bytes(signer)
        for _attempt in range(2):  # a pool broken since the last import is replaced once
            executor = self._running()
            if executor is None:
                break
            try:
                return executor, [
                    executor.submit(prepare_with_key, key, event_id, rows[start : start + CHUNK_ROWS])
                    for start in range(0, len(rows), CHUNK_ROWS)
                ]
            except BrokenProcessPool:
                self._discard(executor)
            except RuntimeError:  # shut down while this import was starting
                break
        return None, []

    def close(self) -> None:
        """Stop the processes (after the tasks they are running); a later big import starts new ones."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def _used_now(self) -> None:
        """Note a use, and look again when the processes would have been idle for :attr:`idle_s`."""
        self._used = time.monotonic()
        with contextlib.suppress(RuntimeError):  # no event loop: the processes stay until close()
            asyncio.get_running_loop().call_later(self.idle_s, self._stop_if_idle)

    def _stop_if_idle(self) -> None:
        with self._lock:
            if self._busy or time.monotonic() - self._used < self.idle_s * 0.99:
                return
            executor, self._executor = self._executor, None
        if executor is not None:
            log.info("stopping the idle import processes")
            executor.shutdown(wait=False)  # on the event loop: the processes exit on their own

    def _running(self) -> ProcessPoolExecutor | None:
        if not self.enabled:
            return None
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    self.processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                )
            return self._executor

    def _discard(self, executor: ProcessPoolExecutor) -> None:
        """Forget a broken pool (its processes are gone or going); the next import starts another."""
        with self._lock:
            if self._executor is executor:
                self._executor = None
        executor.shutdown(wait=False, cancel_futures=True)


#: The hub worker's pool (one per worker process; it starts nothing until a big import arrives).
POOL = ImportPool()


@asynccontextmanager
async def lifespan(_app: object) -> AsyncIterator[None]:
    """For the app's ``lifespan`` list: stop the import processes when the hub worker stops."""
    try:
        yield
    finally:
        await asyncio.to_thread(POOL.close)
