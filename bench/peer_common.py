"""What the hub and device processes of the convergence benchmark share.

Each process talks to the parent in JSON lines: it writes events to stdout
(``ready``, ``docs_converged``, ``projected``, ``stats``) and reads commands
from stdin (``go``, ``stop``).  Times are ``time.monotonic()``, which on
Linux is one system-wide clock, so the parent can subtract its own start
time from a child's timestamps.

Byte counting wraps the channel classes of ``sync`` *in this process only*
(nothing under ``sync/`` changes): every sync message a process sends is
counted once, so the sum over all processes is the total sent.  The same
way, :func:`count_writer_pacing` wraps the SQLite writer's background lane
to add up how long it was held back, for the report's "where the time goes".
With ``BENCH_TIMELINE`` set in the environment, each process also stamps
when each peer update was received, stored, relayed and projected, and
returns the stamps in its ``stats`` (a diagnosis aid, not in the report).
``BENCH_SETUP`` may name a Python file each process runs before it starts
(:func:`run_setup_hook`): a way to try a change to the code under test,
say a constant of ``sync``, in this benchmark's processes only.

Peak RSS is the kernel's ``VmHWM`` of the process, not ``ru_maxrss``: on
Linux ``ru_maxrss`` survives ``exec`` and so starts at the parent's peak
(here the benchmark's, which holds all 200,000 rows for the floor).
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import resource
import runpy
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sync.documents import DeviceLog
from sync.protocol import decode_state_vector
from sync.replica import Replica
from sync.sqlite_store import SQLiteUpdateStore
from sync.sqlite_writer import SQLiteWriter

DB_FILE = "konferenco.db"


def say(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, "t": time.monotonic(), **fields}) + "\n")
    sys.stdout.flush()


@dataclass
class Counters:
    frames: int = 0
    frame_bytes: int = 0
    wire_sent: int = 0
    wire_received: int = 0
    cpu_at_go: float = 0.0
    go_at: float = 0.0  # monotonic
    background_jobs: int = 0
    background_s: float = 0.0  # writer time in background jobs
    paced_s: float = 0.0  # pauses the writer imposed after them (foreground work was about)
    remote_appends: int = 0  # peers' updates stored (each one durable background job)
    remote_append_s: float = 0.0  # from asking the writer to store one until it is stored (queue included)
    remote_append_max_s: float = 0.0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


COUNTERS = Counters()


def peak_rss_mb() -> float:
    """This process's own peak resident set (``VmHWM``), in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: may include the parent's


def count_writer_pacing() -> None:
    """Wrap the SQLite writer's background lane to see what holds a peer's update back.

    ``SQLiteWriter._run_background``: its jobs' time and the pauses it sets
    after them; ``SQLiteUpdateStore.append`` of a peer's update: how long it
    waited until stored (it is relayed only then).
    """
    original = SQLiteWriter._run_background

    def run_background(self: SQLiteWriter, conn: Any, job: Any) -> None:
        started = time.monotonic()
        original(self, conn, job)
        ended = time.monotonic()
        COUNTERS.background_jobs += 1
        COUNTERS.background_s += ended - started
        COUNTERS.paced_s += max(0.0, self._background_after - ended)

    SQLiteWriter._run_background = run_background  # type: ignore[method-assign]

    append = SQLiteUpdateStore.append

    async def timed_append(self: SQLiteUpdateStore, doc: str, update: bytes, origin: str, **kw: Any) -> int:
        if kw.get("changes") is not None:  # a local write: not what this run measures
            return await append(self, doc, update, origin, **kw)
        started = time.monotonic()
        try:
            return await append(self, doc, update, origin, **kw)
        finally:
            waited = time.monotonic() - started
            COUNTERS.remote_appends += 1
            COUNTERS.remote_append_s += waited
            COUNTERS.remote_append_max_s = max(COUNTERS.remote_append_max_s, waited)

    SQLiteUpdateStore.append = timed_append  # type: ignore[method-assign]
    if os.environ.get("BENCH_TIMELINE"):
        _record_timeline()


TIMELINE: list[tuple[str, str, float]] = []  # (document, step, monotonic time), with BENCH_TIMELINE set


def _record_timeline() -> None:
    """Stamp each peer update's steps (received, stored, applied, projected) for a diagnosis."""
    receive = Replica.receive
    project = Replica._project
    after_append = Replica._after_append
    append = SQLiteUpdateStore.append

    async def receive_(self: Replica, name: Any, update: bytes, origin: str, source: object = None) -> bool:
        TIMELINE.append((str(name), "received", time.monotonic()))
        return await receive(self, name, update, origin, source)

    async def append_(self: SQLiteUpdateStore, doc: str, update: bytes, origin: str, **kw: Any) -> int:
        seq = await append(self, doc, update, origin, **kw)
        TIMELINE.append((doc, "stored", time.monotonic()))
        return seq

    def after_append_(self: Replica, live: Any, update: bytes, source: object) -> None:
        TIMELINE.append((str(live.name), "relayed", time.monotonic()))
        after_append(self, live, update, source)

    async def project_(self: Replica, key: str, seq: int, changes: Any) -> None:
        await project(self, key, seq, changes)
        TIMELINE.append((key, "projected", time.monotonic()))

    Replica.receive = receive_  # type: ignore[method-assign]
    Replica._project = project_  # type: ignore[method-assign]
    Replica._after_append = after_append_  # type: ignore[method-assign]
    SQLiteUpdateStore.append = append_  # type: ignore[method-assign]


def count_channel_sends(channel_class: type[Any]) -> None:
    """Wrap ``channel_class.send`` so every sync message sent here is counted."""
    original = channel_class.send

    async def send(self: Any, data: bytes) -> None:
        COUNTERS.frames += 1
        COUNTERS.frame_bytes += len(data)
        await original(self, data)

    channel_class.send = send


@dataclass(frozen=True)
class Expected:
    """What a converged replica holds: each document's state vector and record count.

    One entry per device-log shard (``event/{e}/device/{d}``, ``…/{d}/1``, …).
    """

    state_vectors: dict[str, dict[int, int]]
    records: dict[str, int]

    @classmethod
    def load(cls, path: Path) -> Expected:
        raw = json.loads(path.read_text())
        svs = {doc: {int(c): k for c, k in sv.items()} for doc, sv in raw["state_vectors"].items()}
        return cls(svs, {doc: int(n) for doc, n in raw["records"].items()})

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps({"state_vectors": self.state_vectors, "records": self.records}))

    @property
    def total_records(self) -> int:
        return sum(self.records.values())


@dataclass
class Watcher:
    """Polls a replica until its documents, then its projections, are complete.

    A document's state only grows, so one that matched is not looked at again:
    the watcher neither keeps every document in memory (the replica drops
    idle ones) nor loads one the replica does not hold yet.
    """

    replica: Replica
    db: Path
    expected: Expected
    interval: float = 0.02
    done: asyncio.Event = field(default_factory=asyncio.Event)
    converged: set[str] = field(default_factory=set)

    async def docs_converged(self) -> bool:
        loaded = set(self.replica.loaded())
        for name, sv in self.expected.state_vectors.items():
            if name in self.converged or name not in loaded:
                continue
            if decode_state_vector(await self.replica.state_vector(name)) != sv:
                continue
            if await self.replica.read(name, lambda doc: len(DeviceLog(doc))) != self.expected.records[name]:
                continue
            self.converged.add(name)
        return len(self.converged) == len(self.expected.state_vectors)

    def projected_rows(self) -> int:
        names = list(self.expected.state_vectors)
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            sql = f"SELECT count(*) FROM sync_record WHERE doc IN ({','.join('?' * len(names))})"
            return int(conn.execute(sql, names).fetchone()[0])
        finally:
            conn.close()

    async def run(self) -> None:
        while not await self.docs_converged():  # noqa: ASYNC110 (polling is the measurement: no event exists)
            await asyncio.sleep(self.interval)
        say("docs_converged")
        while True:
            rows = await asyncio.to_thread(self.projected_rows)
            if rows >= self.expected.total_records:
                break
            await asyncio.sleep(self.interval)
        say("projected", rows=rows)
        self.done.set()


def run_setup_hook() -> None:
    """Run the file named by ``BENCH_SETUP``, if any (an experiment's monkeypatches)."""
    path = os.environ.get("BENCH_SETUP")
    if path:
        runpy.run_path(path, run_name="bench_setup")


def watch_stdin(loop: asyncio.AbstractEventLoop, on_line: Callable[[str], None]) -> None:
    """Deliver each stdin line to ``on_line`` on the event loop (EOF counts as ``stop``)."""

    def reader() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(on_line, line.strip())
        loop.call_soon_threadsafe(on_line, "stop")

    threading.Thread(target=reader, name="stdin", daemon=True).start()


def mark_go() -> None:
    """Sync starts now: CPU used from here on is the sync's, not start-up's."""
    COUNTERS.cpu_at_go = _cpu()
    COUNTERS.go_at = time.monotonic()


def report_stats(replica: Replica | None = None, **extra: Any) -> None:
    cpu = _cpu()
    if replica is not None:
        writer = getattr(replica.store, "writer", None)
        extra.update(
            unloaded=replica.unloaded,
            loaded=len(replica.loaded()),
            commits=getattr(writer, "commits", 0),
            writer_jobs=getattr(writer, "jobs", 0),
        )
    say(
        "stats",
        peak_rss_mb=peak_rss_mb(),
        cpu_s=cpu - COUNTERS.cpu_at_go,
        cpu_total_s=cpu,
        frames=COUNTERS.frames,
        frame_bytes=COUNTERS.frame_bytes,
        wire_sent=COUNTERS.wire_sent,
        wire_received=COUNTERS.wire_received,
        background_jobs=COUNTERS.background_jobs,
        background_s=COUNTERS.background_s,
        paced_s=COUNTERS.paced_s,
        remote_appends=COUNTERS.remote_appends,
        remote_append_s=COUNTERS.remote_append_s,
        remote_append_max_s=COUNTERS.remote_append_max_s,
        **({"timeline": TIMELINE, "go_at": COUNTERS.go_at} if TIMELINE else {}),
        **extra,
    )


class Profiler:
    """cProfile of the event-loop thread when BENCH_PROFILE names an output file."""

    def __init__(self) -> None:
        self.path = os.environ.get("BENCH_PROFILE")
        self._profile = cProfile.Profile() if self.path else None

    def start(self) -> None:
        if self._profile is not None:
            self._profile.enable()

    def stop(self) -> None:
        if self._profile is not None and self.path:
            self._profile.disable()
            self._profile.dump_stats(self.path)
