"""Run a multi-statement SQL script inside a migration.

SQLAlchemy's asyncpg dialect prepares every statement, and PostgreSQL
refuses several commands in one prepared statement; asyncpg's own
``execute`` without arguments uses the simple query protocol, which
accepts a whole script.  The migration's transaction is the same one.
"""

from __future__ import annotations

from typing import Any

from alembic import op
from sqlalchemy.util import await_


def execute_script(sql: str) -> None:
    driver: Any = op.get_bind().connection.driver_connection
    await_(driver.execute(sql))
