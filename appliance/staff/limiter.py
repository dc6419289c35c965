"""How many wrong PINs one client address may send, counted in the appliance's SQLite.

The account lock (:func:`appliance.staff.service.lockout_ms`) bounds guesses
against *one* name.  A device on the venue network guessing a 4-digit PIN
against every name in turn, or names it does not know, is bounded here: at
most :data:`ADDRESS_ATTEMPTS` failed sign-ins per client address in
:data:`ADDRESS_WINDOW_MS`, then ``429 too_many_attempts`` with
``Retry-After``.  The failures are rows of ``staff_signin_failure`` in the
appliance's database, written by the single writer, so restarting the
appliance (or crashing it) does not give a guesser a fresh budget.

The table is created here, on first use, with ``CREATE TABLE IF NOT EXISTS``:
it belongs to the staff module alone, is never synced and needs no data
migration, so it does not take a number in ``appliance.catalog.schema``.
"""

from __future__ import annotations

import sqlite3

from konferenco.errors import TooManyAttempts
from konferenco.types import now_ms
from sync.sqlite_writer import SQLiteWriter

#: Failed sign-ins one client address may make in :data:`ADDRESS_WINDOW_MS`.
ADDRESS_ATTEMPTS = 10
ADDRESS_WINDOW_MS = 5 * 60_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS staff_signin_failure (address TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS staff_signin_failure_address ON staff_signin_failure (address, at);
"""


def _create_table(conn: sqlite3.Connection) -> None:
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


class AddressLimiter:
    """Failed PIN sign-ins per client address, persisted; checks read, failures go through the writer."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        writer: SQLiteWriter,
        attempts: int = ADDRESS_ATTEMPTS,
        window_ms: int = ADDRESS_WINDOW_MS,
    ) -> None:
        self.conn = conn
        self.writer = writer
        self.attempts = attempts
        self.window_ms = window_ms
        self._ready = False

    async def _ensure_table(self) -> None:
        if not self._ready:
            await self.writer.run(_create_table)
            self._ready = True

    async def check(self, address: str) -> None:
        """TooManyAttempts (``retry_after`` in seconds) if the address has used its budget."""
        await self._ensure_table()
        since = now_ms() - self.window_ms
        count, oldest = self.conn.execute(
            "SELECT count(*), min(at) FROM staff_signin_failure WHERE address = ? AND at > ?",
            (address, since),
        ).fetchone()
        if count >= self.attempts:
            wait = max(1, -(-(oldest + self.window_ms - now_ms()) // 1000))
            raise TooManyAttempts(
                f"too many wrong PINs from this device; try again in {wait} s", retry_after=wait
            )

    async def failed(self, address: str) -> None:
        now = now_ms()

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "DELETE FROM staff_signin_failure WHERE address = ? AND at <= ?",
                (address, now - self.window_ms),
            )
            conn.execute("INSERT INTO staff_signin_failure (address, at) VALUES (?, ?)", (address, now))

        await self.writer.run(write)
