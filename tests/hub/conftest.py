"""A throw-away PostgreSQL database per test, migrated to head, dropped afterwards.

Creating a database from ``template0`` and migrating takes ~0.3 s; tests
that only read share one per module (``hub_db_module``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest

from tests.helpers import HubProcess, scratch_database


@pytest.fixture
def hub_db() -> Iterator[str]:
    """URL (postgresql://…) of a fresh, migrated database."""
    with scratch_database() as url:
        yield url


@pytest.fixture(scope="module")
def hub_db_module() -> Iterator[str]:
    with scratch_database() as url:
        yield url


@pytest.fixture
async def pg(hub_db: str) -> AsyncIterator[asyncpg.Connection]:
    """A plain (owner) connection to the test database."""
    conn = await asyncpg.connect(hub_db)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def hub(hub_db_module: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """A real ``konferenco hub serve`` on the module's database (modules may define their own ``hub``)."""
    with HubProcess(hub_db_module, tmp_path_factory.mktemp("hub") / "secrets") as process:
        yield process


@pytest.fixture(scope="module")
def http(hub: HubProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hub.url, timeout=30) as client:
        yield client
