"""Pairing a kiosk: a short code shown to staff, exchanged once for a 30-day ``kiosk`` staff token.

The code lives in SQLite (``kiosk_pairing_code``), so ``konferenco appliance
kiosk pair-code`` can make one whether or not the appliance is serving, and
a code survives a restart.  It is stored only as an HMAC under a key derived
from the box's staff-token secret: a copy of the database alone does not
give away a code still waiting to be used.  Each row is written by one
statement (autocommit from the CLI, one writer transaction in the server),
so ``kill -9`` leaves a code either there or not, and using it is a single
``UPDATE … WHERE used_at IS NULL``: two kiosks racing with one code cannot
both win.

Wrong codes are counted per client address *in memory* (a restart clears
the count, which at worst gives a guesser five more tries in a million).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import time
from collections import defaultdict, deque

from appliance.config import DataDir
from konferenco.errors import KonferencoError
from konferenco.types import now_ms
from sync.sqlite_writer import connect
from sync.tokens import load_secret

#: How long a code may wait to be used.
CODE_LIFE_MS = 10 * 60 * 1000
#: How long a paired kiosk's token lasts.
TOKEN_LIFE_S = 30 * 24 * 3600
#: Wrong codes from one address within the window before it must wait.
MAX_WRONG = 5
WRONG_WINDOW_S = 10 * 60

SCHEMA = """
CREATE TABLE IF NOT EXISTS kiosk_pairing_code (
    code_hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
)
"""


def _key(data: DataDir) -> bytes:
    secret = load_secret(data.secrets / "staff-token.key")
    return hmac.new(secret, b"konferenco kiosk pairing code", hashlib.sha256).digest()


class PairingCodes:
    """Make and use pairing codes in one appliance's database."""

    def __init__(self, data: DataDir) -> None:
        self._key = _key(data)

    def digest(self, code: str) -> str:
        return hmac.new(self._key, code.encode(), hashlib.sha256).hexdigest()

    def create(self, conn: sqlite3.Connection, name: str) -> tuple[str, int]:
        """A fresh code and its expiry (ms), recorded; a used or expired row with the same code is reused."""
        conn.execute(SCHEMA)
        now = now_ms()
        for _ in range(20):
            code = f"{secrets.randbelow(10**6):06d}"
            inserted = conn.execute(
                "INSERT INTO kiosk_pairing_code (code_hash, name, created_at, expires_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (code_hash) DO UPDATE SET name = excluded.name,"
                " created_at = excluded.created_at, expires_at = excluded.expires_at, used_at = NULL"
                " WHERE used_at IS NOT NULL OR expires_at <= ?",
                (self.digest(code), name, now, now + CODE_LIFE_MS, now),
            ).rowcount
            if inserted:
                return code, now + CODE_LIFE_MS
        raise KonferencoError(
            "too many pairing codes are waiting; use one or wait 10 minutes", code="conflict"
        )

    def use(self, conn: sqlite3.Connection, code: str) -> str | None:
        """The kiosk name of a valid, unused code, now marked used; None for any other code."""
        conn.execute(SCHEMA)
        now = now_ms()
        row = conn.execute(
            "UPDATE kiosk_pairing_code SET used_at = ?"
            " WHERE code_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING name",
            (now, self.digest(code), now),
        ).fetchone()
        return None if row is None else str(row[0])


def create_code(data: DataDir, name: str) -> tuple[str, int]:
    """For the command line: a code written straight to the database (the server need not run)."""
    conn = connect(data.database)
    try:
        return PairingCodes(data).create(conn, name)
    finally:
        conn.close()


class WrongCodes:
    """Wrong pairing codes per client address, in memory (see the module docstring)."""

    def __init__(self, limit: int = MAX_WRONG, window_s: float = WRONG_WINDOW_S) -> None:
        self.limit = limit
        self.window_s = window_s
        self._wrong: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, address: str) -> deque[float]:
        times = self._wrong[address]
        cutoff = time.monotonic() - self.window_s
        while times and times[0] <= cutoff:
            times.popleft()
        return times

    def check(self, address: str) -> None:
        times = self._recent(address)
        if len(times) >= self.limit:
            wait = max(1, int(times[0] + self.window_s - time.monotonic()) + 1)
            raise KonferencoError(
                f"too many wrong pairing codes from this device; try again in {wait} s",
                code="locked",
                retry_after_s=wait,
                retry_after=wait,
            )

    def failed(self, address: str) -> None:
        self._recent(address).append(time.monotonic())
