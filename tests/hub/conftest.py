"""A throw-away PostgreSQL database per test, migrated to head, dropped afterwards.

Creating a database from ``template0`` and migrating takes ~0.3 s; tests
that only read share one per module (``hub_db_module``).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from hub.db import migrate
from hub.db.urls import with_database

SERVER_URL = os.environ.get("KONFERENCO_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(SERVER_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _create() -> str:
    name = f"kf_test_{secrets.token_hex(6)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}" TEMPLATE template0'))
    url = with_database(SERVER_URL, name)
    migrate.upgrade(url)
    return url


def _drop(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def hub_db() -> Iterator[str]:
    """URL (postgresql://…) of a fresh, migrated database."""
    url = _create()
    try:
        yield url
    finally:
        _drop(url)


@pytest.fixture(scope="module")
def hub_db_module() -> Iterator[str]:
    url = _create()
    try:
        yield url
    finally:
        _drop(url)


@pytest.fixture
async def pg(hub_db: str) -> AsyncIterator[asyncpg.Connection]:
    """A plain (owner) connection to the test database."""
    conn = await asyncpg.connect(hub_db)
    try:
        yield conn
    finally:
        await conn.close()
