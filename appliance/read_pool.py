"""A small pool of aiosqlite read connections for the API's heavier queries.

Search, statistics and the duplicates list can take tens of milliseconds
on a 180,000-attendee event; they run on aiosqlite's threads so the event
loop keeps answering scans meanwhile.  WAL mode lets these readers run in
parallel with the single writer, each on a consistent snapshot.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite


class ReadPool:
    def __init__(self, path: Path, size: int = 3) -> None:
        self.path = path
        self.size = size
        self._idle: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._all: list[aiosqlite.Connection] = []

    async def open(self) -> None:
        for _ in range(self.size):
            conn = await aiosqlite.connect(self.path)
            await conn.execute("PRAGMA busy_timeout=5000")
            await conn.execute("PRAGMA query_only=ON")
            self._all.append(conn)
            self._idle.put_nowait(conn)

    async def close(self) -> None:
        for conn in self._all:
            await conn.close()
        self._all.clear()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[aiosqlite.Connection]:
        conn = await self._idle.get()
        try:
            yield conn
        finally:
            self._idle.put_nowait(conn)
