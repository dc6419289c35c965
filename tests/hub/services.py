"""Building blocks for hub tests: a Database, secrets, and an organization with an owner."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from hub.catalog.keys import KeySealer
from hub.db.session import Database
from hub.settings import HubSecrets
from hub.tenants.accounts import OrgRole, Principal, create_account, create_organization

PASSWORD = "correct horse battery"


@dataclass
class Hub:
    db: Database
    secrets: HubSecrets
    sealer: KeySealer


@asynccontextmanager
async def hub_services(url: str, secrets_dir: Path) -> AsyncIterator[Hub]:
    db = Database(url, pool_size=2)
    secrets = HubSecrets(secrets_dir)
    try:
        yield Hub(db, secrets, KeySealer(secrets.derive("event-keys")))
    finally:
        await db.close()


async def organization(
    hub: Hub, slug: str, tier: str = "professional", email: str | None = None
) -> Principal:
    async with hub.db.system() as conn:
        account = await create_account(conn, email or f"owner@{slug}.example", PASSWORD)
        org = await create_organization(conn, slug.title(), slug, account, tier)
    return Principal(account, org, slug, OrgRole.OWNER)
