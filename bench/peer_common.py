"""What the hub and device processes of the convergence benchmark share.

Each process talks to the parent in JSON lines: it writes events to stdout
(``ready``, ``docs_converged``, ``projected``, ``stats``) and reads commands
from stdin (``go``, ``stop``).  Times are ``time.monotonic()``, which on
Linux is one system-wide clock, so the parent can subtract its own start
time from a child's timestamps.

Byte counting wraps the channel classes of ``sync`` *in this process only*
(nothing under ``sync/`` changes): every sync message a process sends is
counted once, so the sum over all processes is the total sent.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import resource
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


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


COUNTERS = Counters()


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
    """What a converged replica holds: each device log's state vector and length."""

    state_vectors: dict[str, dict[int, int]]
    records: int

    @classmethod
    def load(cls, path: Path) -> Expected:
        raw = json.loads(path.read_text())
        svs = {doc: {int(c): k for c, k in sv.items()} for doc, sv in raw["state_vectors"].items()}
        return cls(svs, int(raw["records"]))

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps({"state_vectors": self.state_vectors, "records": self.records}))

    @property
    def total_records(self) -> int:
        return self.records * len(self.state_vectors)


@dataclass
class Watcher:
    """Polls a replica until its documents, then its projections, are complete."""

    replica: Replica
    db: Path
    expected: Expected
    interval: float = 0.02
    done: asyncio.Event = field(default_factory=asyncio.Event)

    async def docs_converged(self) -> bool:
        loaded = set(self.replica.loaded())
        for name, sv in self.expected.state_vectors.items():
            if name not in loaded:
                return False
            if decode_state_vector(await self.replica.state_vector(name)) != sv:
                return False
            if await self.replica.read(name, lambda doc: len(DeviceLog(doc))) != self.expected.records:
                return False
        return True

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


def report_stats(**extra: Any) -> None:
    cpu = _cpu()
    say(
        "stats",
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        cpu_s=cpu - COUNTERS.cpu_at_go,
        cpu_total_s=cpu,
        frames=COUNTERS.frames,
        frame_bytes=COUNTERS.frame_bytes,
        wire_sent=COUNTERS.wire_sent,
        wire_received=COUNTERS.wire_received,
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
