"""Transactions: tenant-scoped for requests, system-wide for the few jobs that need it.

``tenant(org)`` opens a transaction that runs as the ``konferenco_tenant``
role with ``konferenco.org`` set to the organization: PostgreSQL's
row-level security then hides every other organization's rows, so a query
that forgets its ``WHERE org_id`` still reads one tenant (tested in
tests/hub/test_tenancy.py).  Both settings are transaction-local
(``set_config(..., true)``): a pooled connection carries nothing over to
the next request.

``system()`` runs as the tables' owner, which RLS does not restrict.  It is
for work that is not on behalf of one tenant (sign-in by e-mail, token and
credential lookups, sync projections), and each use names its reason.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from hub.db.urls import sqlalchemy_url

TENANT_ROLE = "konferenco_tenant"
_ENTER_TENANT = text("SELECT set_config('role', :role, true), set_config('konferenco.org', :org, true)")


class Database:
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.engine: AsyncEngine = create_async_engine(
            sqlalchemy_url(url), pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
        )

    @asynccontextmanager
    async def tenant(self, org_id: uuid.UUID | str) -> AsyncIterator[AsyncConnection]:
        """A transaction that can only see and change ``org_id``'s rows."""
        async with self.engine.begin() as conn:
            await conn.execute(_ENTER_TENANT, {"role": TENANT_ROLE, "org": str(org_id)})
            yield conn

    @asynccontextmanager
    async def system(self) -> AsyncIterator[AsyncConnection]:
        """A transaction across tenants; only for the jobs listed in this module's docstring."""
        async with self.engine.begin() as conn:
            yield conn

    async def close(self) -> None:
        await self.engine.dispose()


async def raw(conn: AsyncConnection) -> Any:
    """The asyncpg connection under a SQLAlchemy one, for COPY (bulk import)."""
    fairy = await conn.get_raw_connection()
    return fairy.driver_connection
