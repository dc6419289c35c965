"""Schema migrations (Alembic), run by ``konferenco hub migrate`` and by tests.

The Alembic environment lives in ``hub/migrations``; there is no
``alembic.ini`` because the only setting, the database URL, comes from the
command line or the environment, never from a file in the repository.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from hub.db.urls import plain_url, sqlalchemy_url, with_database

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation: a literal '%' in a password must be doubled.
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database to ``revision``; idempotent.  Blocking: call it from a thread in async code."""
    command.upgrade(alembic_config(database_url), revision)


async def create_database(database_url: str) -> bool:
    """Create the URL's database if it is missing (``make hub`` on a fresh machine); True if created."""
    import asyncpg

    url = plain_url(database_url)
    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    conn = await asyncpg.connect(with_database(url, "postgres"))
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        await conn.execute(f'CREATE DATABASE "{name.replace(chr(34), "")}"')
        return True
    finally:
        await conn.close()
