"""The single SQLite writer: group commit, per-job failure, broken guards."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from sync.sqlite_writer import SQLiteWriter
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
