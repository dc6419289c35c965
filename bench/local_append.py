"""Local append: what a scan costs the appliance before it can say "admitted".

One append is ``replica.write`` of one scan: mutate the in-memory document,
then store the update, the author clock and the projected row in one
committed SQLite transaction.  The baseline, measured in the same run, is
the least any durable append can cost here: stdlib ``sqlite3`` on a WAL
database, one ``INSERT`` of a similar row and a ``COMMIT`` per append.

Concurrent appends (``asyncio.gather``) show what group commit in
``sync/sqlite_writer.py`` buys when a burst of scans arrives at once.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from pycrdt import Doc

from bench.common import EVENT, BenchResult, Row, Series, Table, Verdict, percentile, progress, scan_fields
from sync.documents import DeviceLog
from sync.names import DocName
from sync.projection import SCHEMA as RECORD_SCHEMA
from sync.projection import RecordProjection
from sync.records import Scan
from sync.replica import Replica
from sync.sqlite_store import SQLiteUpdateStore
from sync.sqlite_writer import Synchronous, connect, execute_script

APPENDS = 2_000
WARMUP = 200
TARGET_MS = 0.2
MODES: tuple[Synchronous, ...] = ("FULL", "NORMAL")


@dataclass(frozen=True, slots=True)
class _Run:
    median_ms: float
    p95_ms: float
    per_s: float  # appends per second over the whole series
    store_ms: float = 0.0  # median time inside store.append (the writer thread's round trip)


def _summarize(latencies_ns: list[int], wall_s: float, store_ns: list[int] | None = None) -> _Run:
    ms = [x / 1e6 for x in latencies_ns]
    store = percentile([x / 1e6 for x in store_ns], 50) if store_ns else 0.0
    return _Run(percentile(ms, 50), percentile(ms, 95), len(ms) / wall_s, store)


def _time_store_appends(store: Any, into: list[int]) -> None:
    """Wrap this store instance's ``append`` (bench only) to split a write's latency."""
    append = store.append

    async def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter_ns()
        try:
            return await append(*args, **kwargs)
        finally:
            into.append(time.perf_counter_ns() - t0)

    store.append = timed


def _scan(fields: dict[str, Any]) -> Callable[[Doc[Any]], Scan]:
    """The mutation of one local append: one scan into the device log."""
    return lambda doc: DeviceLog(doc).append_scan(**fields)


async def _open_replica(path: Path, synchronous: Synchronous) -> Replica:
    replica = Replica(SQLiteUpdateStore(path, projector=RecordProjection(), synchronous=synchronous))
    await replica.start()
    return replica


async def _sequential(path: Path, synchronous: Synchronous, seed: int) -> _Run:
    rng = random.Random(seed)
    fields = [scan_fields("dev1", i, rng) for i in range(WARMUP + APPENDS)]
    replica = await _open_replica(path, synchronous)
    name = DocName.device(EVENT, "dev1")
    store_ns: list[int] = []
    _time_store_appends(replica.store, store_ns)
    try:
        latencies: list[int] = []
        started = 0.0
        for i, kw in enumerate(fields):
            if i == WARMUP:
                started = time.perf_counter()
            t0 = time.perf_counter_ns()
            await replica.write(name, _scan(kw))
            if i >= WARMUP:
                latencies.append(time.perf_counter_ns() - t0)
        return _summarize(latencies, time.perf_counter() - started, store_ns[WARMUP:])
    finally:
        await replica.close()


async def _concurrent(path: Path, synchronous: Synchronous, seed: int) -> tuple[float, float]:
    """Appends per second for one ``gather`` of APPENDS writes, and the mean batch size."""
    rng = random.Random(seed)
    replica = await _open_replica(path, synchronous)
    name = DocName.device(EVENT, "dev1")

    def writes(n: int, offset: int) -> list[Any]:
        batch = [scan_fields("dev1", offset + i, rng) for i in range(n)]
        return [replica.write(name, _scan(kw)) for kw in batch]

    try:
        await asyncio.gather(*writes(WARMUP, 0))
        writer = replica.store.writer  # type: ignore[attr-defined]
        commits, jobs = writer.commits, writer.jobs
        burst = writes(APPENDS, WARMUP)
        t0 = time.perf_counter()
        await asyncio.gather(*burst)
        elapsed = time.perf_counter() - t0
        batch = (writer.jobs - jobs) / max(1, writer.commits - commits)
        return APPENDS / elapsed, batch
    finally:
        await replica.close()


def _raw_sqlite(path: Path, synchronous: Synchronous, seed: int) -> _Run:
    """The baseline: one INSERT + COMMIT per append, nothing else."""
    rng = random.Random(seed)
    doc = str(DocName.device(EVENT, "dev1"))
    rows = []
    for i in range(WARMUP + APPENDS):
        scan = Scan(**scan_fields("dev1", i, rng))
        rows.append((doc, "log", scan.id, "scan", scan.at, msgspec.json.encode(scan).decode()))
    conn = connect(path, synchronous=synchronous)
    try:
        execute_script(conn, RECORD_SCHEMA)
        latencies: list[int] = []
        started = 0.0
        for i, row in enumerate(rows):
            if i == WARMUP:
                started = time.perf_counter()
            t0 = time.perf_counter_ns()
            conn.execute("BEGIN")
            conn.execute("INSERT INTO sync_record VALUES (?, ?, ?, ?, ?, ?)", row)
            conn.execute("COMMIT")
            if i >= WARMUP:
                latencies.append(time.perf_counter_ns() - t0)
        return _summarize(latencies, time.perf_counter() - started)
    finally:
        conn.close()


def _med(values: list[float]) -> float:
    return Series.of(values, "").median


def run(repetitions: int = 5) -> BenchResult:
    """Measure sequential and concurrent appends and the raw SQLite baseline."""
    seq: dict[str, list[_Run]] = {m: [] for m in MODES}
    raw: dict[str, list[_Run]] = {m: [] for m in MODES}
    conc: dict[str, list[float]] = {m: [] for m in MODES}
    batches: dict[str, list[float]] = {m: [] for m in MODES}
    with tempfile.TemporaryDirectory(prefix="konferenco-bench-append-") as tmp:
        for rep in range(repetitions):
            for mode in MODES:
                base = Path(tmp) / f"{rep}-{mode}"
                base.mkdir()
                progress(f"local append {mode}, repetition {rep + 1}/{repetitions}")
                raw[mode].append(_raw_sqlite(base / "raw.db", mode, rep))
                seq[mode].append(asyncio.run(_sequential(base / "seq.db", mode, rep)))
                per_s, batch = asyncio.run(_concurrent(base / "conc.db", mode, rep))
                conc[mode].append(per_s)
                batches[mode].append(batch)

    rows: list[Row] = []
    verdicts: list[Verdict] = []
    for mode in MODES:
        median = Series.of([r.median_ms for r in seq[mode]], "ms")
        rows.append(
            Row(
                f"append latency, median (synchronous={mode})",
                median,
                Series.of([r.median_ms for r in raw[mode]], "ms"),
                "sqlite3 INSERT+COMMIT",
                f"≤ {TARGET_MS} ms",
            )
        )
        rows.append(
            Row(
                f"append latency, p95 (synchronous={mode})",
                Series.of([r.p95_ms for r in seq[mode]], "ms"),
                Series.of([r.p95_ms for r in raw[mode]], "ms"),
                "sqlite3 INSERT+COMMIT",
            )
        )
        rows.append(
            Row(
                f"sequential throughput (synchronous={mode})",
                Series.of([r.per_s for r in seq[mode]], "appends/s"),
                Series.of([r.per_s for r in raw[mode]], "appends/s"),
                "sqlite3 INSERT+COMMIT",
            )
        )
        rows.append(
            Row(
                f"{APPENDS:,} concurrent appends (synchronous={mode})",
                Series.of(conc[mode], "appends/s"),
                Series.of([r.per_s for r in raw[mode]], "appends/s"),
                "sqlite3 INSERT+COMMIT",
            )
        )
        verdicts.append(
            Verdict(
                f"median local append ≤ {TARGET_MS} ms (synchronous={mode})",
                f"{median.median:.3f} ms",
                median.median <= TARGET_MS,
            )
        )

    split = Table(
        "Where a sequential append's time goes (medians over repetitions of per-series medians)",
        (
            "synchronous",
            "whole write (ms)",
            "in store.append: writer thread round trip (ms)",
            "difference: mutate, observer, clock, scheduling (ms)",
            "raw sqlite3 INSERT+COMMIT (ms)",
        ),
        tuple(
            (
                mode,
                f"{_med([r.median_ms for r in seq[mode]]):.3f}",
                f"{_med([r.store_ms for r in seq[mode]]):.3f}",
                f"{_med([r.median_ms - r.store_ms for r in seq[mode]]):.3f}",
                f"{_med([r.median_ms for r in raw[mode]]):.3f}",
            )
            for mode in MODES
        ),
    )
    notes = [
        "Group commit: the concurrent burst averaged "
        + ", ".join(f"{sum(batches[m]) / len(batches[m]):.0f} appends per commit ({m})" for m in MODES)
        + " (the writer takes at most 512 jobs per batch).",
        f"Each repetition uses fresh databases; the first {WARMUP} appends of each series are a warm-up "
        "and are not counted. With the default compact_every=2000, the sequential series triggers one "
        "background compaction near its end, as it would in production.",
    ]
    return BenchResult(
        title="Local append",
        method=(
            f"Median latency of `await replica.write(name, lambda d: DeviceLog(d).append_scan(...))` — "
            f"update, author clock and projected row committed in one SQLite transaction — over {APPENDS:,} "
            f"sequential appends after {WARMUP} warm-up appends, on a `SQLiteUpdateStore` with "
            "`RecordProjection`, for `synchronous=FULL` and `synchronous=NORMAL` (WAL in both). "
            "Baseline in the same run: stdlib `sqlite3` on a WAL database, one `INSERT` of a similar "
            "row (the `sync_record` schema, a scan's JSON body) and a `COMMIT` per append. "
            f"Concurrent: one `asyncio.gather` of {APPENDS:,} writes to the same document. "
            "Each table value is the median over repetitions of that repetition's statistic "
            "(median or p95 over its appends)."
        ),
        repetitions=repetitions,
        rows=rows,
        verdicts=verdicts,
        details=[split],
        notes=notes,
    )
