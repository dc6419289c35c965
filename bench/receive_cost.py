"""Where convergence time goes: the cost of each step of receiving one device-log shard.

The convergence run is CPU-bound on a shared machine, so its profile mixes
five processes.  This measures, in one quiet process, each step the real
code takes when a replica receives one prepared shard of a device log (the
steps of ``Replica.receive``; 2,000 scans with the default shard size) and
when the hub relays it (framing and permessage-deflate with the parameters
uvicorn and websockets negotiate).  Each figure is also given per
``scale_to`` records (50,000: one device's whole log, as earlier runs
received it in one document), so the table stays comparable.  Multiplying
by how often each step happens in a convergence run gives a CPU budget to
hold against the measured total.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pycrdt import Array, Doc

from bench.common import Series, Table
from sync.documents import Change, observe
from sync.names import DocName
from sync.projection import RecordProjection
from sync.protocol import decode, update_message
from sync.replica import Replica
from sync.sqlite_store import SQLiteUpdateStore

# What uvicorn (server) and websockets (client) agree on for permessage-deflate.
_WBITS = 12
_MEM_LEVEL = 5


def _time(fn: Callable[[], Any], repetitions: int) -> Series:
    samples = []
    for _ in range(repetitions):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return Series.of(samples, "ms")


def _apply_plain(update: bytes) -> None:
    Doc().apply_update(update)


def _apply_delta(update: bytes) -> None:
    doc: Doc[Any] = Doc()
    log = doc.get("log", type=Array)
    events: list[Any] = []
    sub = log.observe(lambda e: events.append(e.delta))
    doc.apply_update(update)
    log.unobserve(sub)


def _apply_observed(name: DocName, update: bytes) -> list[Change]:
    doc: Doc[Any] = Doc()
    changes: list[Change] = []
    subs = observe(name, doc, changes.append)
    doc.apply_update(update)
    del subs
    return changes


def _deflate(frame: bytes) -> bytes:
    encoder = zlib.compressobj(wbits=-_WBITS, memLevel=_MEM_LEVEL)
    return encoder.compress(frame) + encoder.flush(zlib.Z_SYNC_FLUSH)


def _inflate(data: bytes) -> bytes:
    return zlib.decompressobj(wbits=-_WBITS).decompress(data)


async def _store_steps(
    root: Path, name: DocName, update: bytes, changes: list[Change]
) -> tuple[float, float]:
    """Milliseconds to store the update (one commit) and to project its changes (another)."""
    store = SQLiteUpdateStore(root / "store.db", projector=RecordProjection())
    await store.open()
    try:
        t0 = time.perf_counter()
        seq = await store.append(str(name), update, "peer")
        t1 = time.perf_counter()
        await store.mark_projected(str(name), seq, changes)
        t2 = time.perf_counter()
        return (t1 - t0) * 1000, (t2 - t1) * 1000
    finally:
        await store.close()


async def _receive(root: Path, name: DocName, update: bytes) -> tuple[float, float]:
    """Milliseconds for ``covers`` on an empty document, then for the whole ``receive``."""
    replica = Replica(SQLiteUpdateStore(root / "replica.db", projector=RecordProjection()))
    await replica.start()
    try:
        await replica.open(name)
        t0 = time.perf_counter()
        await replica.covers(name, update)
        t1 = time.perf_counter()
        await replica.receive(name, update, "peer")
        return (t1 - t0) * 1000, (time.perf_counter() - t1) * 1000
    finally:
        await replica.close()


def measure(
    name: DocName,
    update: bytes,
    repetitions: int,
    total_cpu_s: float | None = None,
    *,
    scale_to: int | None = None,
    receives: int = 16,
) -> Table:
    """Time each step of receiving and relaying ``update`` (one device-log shard).

    ``scale_to``: also give each step per that many records (default: the
    shard's own count, i.e. no scaling).  ``receives``: how many such
    updates a convergence run receives (and sends) in all, for the budget.
    """
    frame = update_message(update)
    compressed = _deflate(frame)
    changes = _apply_observed(name, update)
    stored: list[float] = []
    projected: list[float] = []
    received: list[float] = []
    covered: list[float] = []
    with tempfile.TemporaryDirectory(prefix="konferenco-bench-receive-") as tmp:
        for rep in range(repetitions):
            (Path(tmp) / str(rep)).mkdir()
            s, p = asyncio.run(_store_steps(Path(tmp) / str(rep), name, update, changes))
            stored.append(s)
            projected.append(p)
            c, r = asyncio.run(_receive(Path(tmp) / str(rep), name, update))
            covered.append(c)
            received.append(r)
    steps: list[tuple[str, Series, str]] = [
        (
            "Replica.covers: get_update(update, our state), a full decode that also validates it",
            Series.of(covered, "ms"),
            "receive",
        ),
        ("store.append of the update (SQLite, FULL, one commit)", Series.of(stored, "ms"), "receive"),
        (
            "apply_update alone (Yrs, no observer)",
            _time(lambda: _apply_plain(update), repetitions),
            "receive",
        ),
        (
            "apply_update + ArrayEvent.delta to Python (pycrdt)",
            _time(lambda: _apply_delta(update), repetitions),
            "receive",
        ),
        (
            "apply_update + sync.documents.observe (delta, msgspec validation, Change objects)",
            _time(lambda: _apply_observed(name, update), repetitions),
            "receive",
        ),
        (
            f"store.mark_projected: {len(changes):,} rows into sync_record (the store's background chunks)",
            Series.of(projected, "ms"),
            "receive",
        ),
        ("= Replica.receive end to end (fresh replica)", Series.of(received, "ms"), "total"),
        (
            "update_message framing (hub, per recipient)",
            _time(lambda: update_message(update), repetitions),
            "relay",
        ),
        (
            "permessage-deflate compress (per message sent)",
            _time(lambda: _deflate(frame), repetitions),
            "relay",
        ),
        (
            "permessage-deflate inflate (per message received)",
            _time(lambda: _inflate(compressed), repetitions),
            "relay",
        ),
        (
            "protocol.decode of the frame (per message received)",
            _time(lambda: decode(frame), repetitions),
            "relay",
        ),
    ]
    records = len(changes)
    target = scale_to or records
    factor = target / records

    def ms(value: float) -> str:
        return f"{value:,.1f}" if value < 10 else f"{value:,.0f}"

    rows = tuple(
        (label, ms(s.median), f"{ms(s.low)}-{ms(s.high)}", f"{s.median * factor:,.0f}", scope)
        for label, s, scope in steps
    )
    table_rows = list(rows)
    # A convergence run: each shard of each log received (hub: all 4 logs, each device the other 3),
    # and as many messages of a shard sent and received.
    per_update = next(s.median for _, s, scope in steps if scope == "total")
    relay = sum(s.median for _, s, scope in steps if scope == "relay")
    budget = receives * (per_update + relay) / 1000
    note = (
        f"≈ {budget:.1f} s CPU for a run ({receives:,} receives of a {records:,}-record shard + "
        f"{receives:,} shard messages sent and received)"
    )
    if total_cpu_s is not None:
        note += f"; measured: {total_cpu_s:.1f} s CPU in all 5 processes from go to stop"
    table_rows.append((f"Budget: {receives:,} x receive + {receives:,} x relay steps", note, "", "", ""))
    return Table(
        f"Where the time goes: one {records:,}-scan shard ({len(update) / 1e6:.2f} MB), one quiet process "
        f"(ms, median of {repetitions}; last column scaled to {target:,} records)",
        ("step", "median (ms)", "min-max (ms)", f"per {target:,} records (ms)", "part of"),
        tuple(table_rows),
    )
