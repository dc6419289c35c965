"""The single SQLite writer: group commit, per-job failure, broken guards."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import time
from pathlib import Path

import pytest

from sync.sqlite_writer import CHECKPOINT_EVERY, SQLiteWriter
from sync.store import StorageError, WriteGuard


def setup(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS t (v INTEGER UNIQUE)")


def insert(v: int):  # type: ignore[no-untyped-def]
    return lambda conn: conn.execute("INSERT INTO t VALUES (?)", (v,)).lastrowid


def values(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT v FROM t ORDER BY v")]


async def test_concurrent_jobs_share_commits_and_each_gets_its_own_answer(tmp_path: Path) -> None:
    writer = SQLiteWriter(tmp_path / "w.db", setup=setup)
    writer.start()
    results = await asyncio.gather(*(writer.run(insert(v)) for v in range(500)), return_exceptions=True)
    assert not [r for r in results if isinstance(r, BaseException)]
    assert writer.commits < 500  # grouped: fewer commits than jobs
    assert writer.jobs == 500
    await writer.close()
    assert values(tmp_path / "w.db") == list(range(500))


async def test_a_failing_job_is_rolled_back_alone(tmp_path: Path) -> None:
    writer = SQLiteWriter(tmp_path / "w.db", setup=setup)
    writer.start()
    await writer.run(insert(1))
    # 1 again violates UNIQUE; it is batched with 2 and 3, which must commit
    results = await asyncio.gather(
        writer.run(insert(2)), writer.run(insert(1)), writer.run(insert(3)), return_exceptions=True
    )
    assert isinstance(results[1], StorageError) and results[1].reason == "storage_failed"
    assert results[1].code == "unavailable" and results[1].status == 503
    assert "UNIQUE" in str(results[1])
    assert not isinstance(results[0], BaseException) and not isinstance(results[2], BaseException)

    def bug(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES (4)")
        raise KeyError("a bug in the job")

    with pytest.raises(KeyError):
        await writer.run(bug)
    await writer.close()
    assert values(tmp_path / "w.db") == [1, 2, 3]


async def test_after_a_failure_later_writes_of_the_same_guard_are_refused(tmp_path: Path) -> None:
    writer = SQLiteWriter(tmp_path / "w.db", setup=setup)
    writer.start()
    guard = WriteGuard()
    await writer.run(insert(1), guard)
    with pytest.raises(StorageError):
        await writer.run(insert(1), guard)
    assert guard.broken
    with pytest.raises(StorageError) as info:
        await writer.run(insert(2), guard)
    assert info.value.reason == "stale"
    assert await writer.run(insert(3)) is not None  # other writers are unaffected
    await writer.close()
    assert values(tmp_path / "w.db") == [1, 3]


async def test_a_cancelled_caller_does_not_cancel_its_write(tmp_path: Path) -> None:
    writer = SQLiteWriter(tmp_path / "w.db", setup=setup)
    writer.start()
    task = asyncio.create_task(writer.run(insert(7)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await writer.run(lambda conn: None)  # a barrier: everything queued before has run
    await writer.close()
    assert values(tmp_path / "w.db") == [7]


def _job(name: str, order: list[str], seconds: float = 0.0):  # type: ignore[no-untyped-def]
    def job(conn: sqlite3.Connection) -> str:
        time.sleep(seconds)
        order.append(name)
        return name

    return job


async def test_a_foreground_job_waits_for_one_background_job_at_most(tmp_path: Path) -> None:
    """A door scan queued behind a peer's catch-up goes before the rest of the catch-up."""
    writer = SQLiteWriter(tmp_path / "w.db", setup=setup)
    writer.start()
    order: list[str] = []
    behind = [
        asyncio.ensure_future(writer.run(_job(f"b{i}", order, 0.02), background=True)) for i in range(6)
    ]
    await asyncio.sleep(0.005)  # the first background job is running
    assert await writer.run(_job("door", order)) == "door"
    assert order.index("door") <= 1, order
    await asyncio.gather(*behind)
    assert sorted(order) == sorted(["door", *(f"b{i}" for i in range(6))])  # the lane still ran it all
    await writer.close()


async def test_background_work_takes_at_most_half_the_writer_while_foreground_work_comes(
    tmp_path: Path,
) -> None:
    writer = SQLiteWriter(tmp_path / "w.db", setup=setup)
    writer.start()
    spans: list[tuple[float, float]] = []

    def slow(conn: sqlite3.Connection) -> None:
        started = time.monotonic()
        time.sleep(0.05)
        spans.append((started, time.monotonic()))

    await writer.run(insert(1), WriteGuard())  # a door scan just committed
    await asyncio.gather(*(writer.run(slow, background=True) for _ in range(3)))
    pauses = [b[0] - a[1] for a, b in itertools.pairwise(spans)]
    assert all(p >= 0.04 for p in pauses), pauses  # each ~50 ms job is followed by ~50 ms for the door
    await asyncio.sleep(1.1)  # no door work for a while: full speed again...
    await writer.run(insert(2))  # ...bookkeeping (a load, a peer's acknowledgement) does not count
    spans.clear()
    await asyncio.gather(*(writer.run(slow, background=True) for _ in range(3)))
    pauses = [b[0] - a[1] for a, b in itertools.pairwise(spans)]
    assert all(p < 0.03 for p in pauses), pauses
    await writer.close()


async def test_only_background_work_may_skip_waiting_for_the_disk(tmp_path: Path) -> None:
    writer = SQLiteWriter(tmp_path / "w.db", setup=setup)
    writer.start()
    with pytest.raises(ValueError, match="background"):
        await writer.run(insert(1), durable=False)
    assert await writer.run(insert(2), background=True, durable=False) is not None
    await writer.close()
    assert values(tmp_path / "w.db") == [2]


async def test_the_wal_is_checkpointed_beside_the_writer_not_inside_a_commit(tmp_path: Path) -> None:
    """Without checkpoints the WAL grows without end; inside a commit they stall the door."""
    writer = SQLiteWriter(tmp_path / "w.db", setup=setup)
    writer.start()
    assert await writer.run(lambda conn: conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]) == 0

    def many(first: int):  # type: ignore[no-untyped-def]
        return lambda conn: conn.executemany(
            "INSERT INTO t VALUES (?)", [(v,) for v in range(first, first + 500)]
        )

    for first in range(0, 20_000, 500):
        await writer.run(many(first))
    await asyncio.sleep(CHECKPOINT_EVERY * 3)
    with sqlite3.connect(tmp_path / "w.db") as conn:
        busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert (busy, copied) == (0, frames) and frames > 0  # every frame was already in the database
    await writer.close()
    assert len(values(tmp_path / "w.db")) == 20_000
