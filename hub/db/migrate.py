"""Schema migrations (Alembic), run by ``konferenco hub migrate`` and by tests.

The Alembic environment lives in ``hub/migrations``; there is no
``alembic.ini`` because the only setting, the database URL, comes from the
command line or the environment, never from a file in the repository.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from hub.db.urls import sqlalchemy_url

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
