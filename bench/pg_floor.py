"""The PostgreSQL floor two hub benchmarks compare with: one COPY of the very rows, nothing else."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import asyncpg


async def copy_floor(dsn: str, like: str, rows: Sequence[tuple[Any, ...]], columns: Sequence[str]) -> float:
    """Seconds for one COPY of ``rows`` into a fresh table ``LIKE like INCLUDING ALL`` (its indexes too).

    The table is dropped afterwards; a short count is an error, so a floor never times fewer rows
    than the benchmark it is compared with.
    """
    table = f"bench_floor_{like}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"CREATE TABLE {table} (LIKE {like} INCLUDING ALL)")
        t0 = time.perf_counter()
        await conn.copy_records_to_table(table, records=rows, columns=list(columns))
        seconds = time.perf_counter() - t0
        copied = await conn.fetchval(f"SELECT count(*) FROM {table}")
        if copied != len(rows):
            raise RuntimeError(f"the floor copied {copied:,} rows, expected {len(rows):,}")
        await conn.execute(f"DROP TABLE {table}")
        return seconds
    finally:
        await conn.close()
