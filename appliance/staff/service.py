"""Staff sign-in that works with no internet: local accounts, PINs, short-lived tokens.

* PINs and passwords are hashed with scrypt (memory-hard, in the standard
  library: 16 MiB and ~50 ms per try), so a stolen appliance disk does not
  give away a 6-digit PIN in seconds.
* Five wrong tries lock the account for a minute, doubling each further
  try up to an hour; an unknown name costs the same time and gets the same
  answer, so names cannot be probed.  One client address may fail ten
  times in five minutes, whatever names it tries
  (:class:`appliance.staff.limiter.AddressLimiter`).  Both counts are in
  the appliance's SQLite, so a restart resets neither.
* A successful sign-in returns a ``ks1.`` token: role, staff id and expiry,
  HMAC-signed with this appliance's secret.  Verifying it needs no database,
  and it expires at the end of a shift.

Roles: ``door`` (scan), ``kiosk`` (self check-in: scan, look up own name),
``desk`` (search, walk-ins, reprints, undo), ``organizer`` (everything,
including roster corrections).
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any

import msgspec

from appliance.staff.limiter import AddressLimiter
from konferenco.errors import KonferencoError
from konferenco.passwords import check_secret, hash_secret
from konferenco.types import new_id, now_ms
from sync.sqlite_writer import SQLiteWriter
from sync.tokens import InvalidToken, SealedTokens, load_secret

PREFIX = "ks1"
STAFF_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}\Z")
SHIFT_SECONDS = 12 * 3600
MAX_FAILURES = 5


class StaffRole(StrEnum):
    DOOR = "door"
    KIOSK = "kiosk"
    DESK = "desk"
    ORGANIZER = "organizer"


class StaffClaims(msgspec.Struct, frozen=True):
    sub: str  # staff id
    name: str
    role: StaffRole
    exp: int


class SignInError(KonferencoError):
    """Sign-in or token refused: ``unauthorized``, ``wrong_credentials``, ``token_expired`` or ``locked``."""

    code = "unauthorized"

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message, code=code, **details)


_DUMMY_HASH = hash_secret("not a real secret")


class StaffTokens:
    """Issues and checks ``ks1.`` staff tokens with one appliance secret."""

    def __init__(self, secret: bytes) -> None:
        self._tokens = SealedTokens(PREFIX, secret, StaffClaims)

    @classmethod
    def from_file(cls, path: Path) -> StaffTokens:
        return cls(load_secret(path))

    def issue(self, staff_id: str, name: str, role: StaffRole, ttl_seconds: int = SHIFT_SECONDS) -> str:
        if not STAFF_ID.match(staff_id):
            # The id is written into every scan record, whose schema allows only these characters.
            raise ValueError(f"staff id {staff_id!r} must be 1-64 of A-Z a-z 0-9 _ . : -")
        return self._tokens.seal(StaffClaims(staff_id, name, role, int(time.time()) + ttl_seconds))

    def verify(self, token: str | None) -> StaffClaims:
        if not token:
            raise SignInError("unauthorized", "sign in first: send 'Authorization: Bearer <staff token>'")
        if not token.startswith(PREFIX + "."):
            raise SignInError("unauthorized", "this is not a staff token")
        try:
            claims = self._tokens.open(token)
        except InvalidToken as exc:
            raise SignInError("unauthorized", f"the staff token is not valid ({exc})") from None
        if claims.exp < time.time():
            raise SignInError("token_expired", "the staff session has ended; sign in again")
        return claims


def add_staff(conn: sqlite3.Connection, name: str, role: StaffRole, secret: str) -> str:
    """Create an account (names are unique, case-insensitively); return its id."""
    if len(secret) < 4:
        raise ValueError("a PIN or password needs at least 4 characters")
    if not name.strip():
        raise ValueError("a staff account needs a name")
    if conn.execute("SELECT 1 FROM staff WHERE lower(name) = lower(?)", (name.strip(),)).fetchone():
        raise ValueError(f"a staff account named '{name.strip()}' exists already")
    staff_id = f"staff-{new_id()[:12].lower()}"
    conn.execute(
        "INSERT INTO staff (id, name, role, secret_hash, failed_attempts, locked_until, created_at) "
        "VALUES (?, ?, ?, ?, 0, 0, ?)",
        (staff_id, name.strip(), role.value, hash_secret(secret), now_ms()),
    )
    return staff_id


def lockout_ms(failures: int) -> int:
    """How long an account stays locked after ``failures`` wrong tries in a row."""
    if failures < MAX_FAILURES:
        return 0
    return int(min(60_000 * 2 ** (failures - MAX_FAILURES), 3600_000))


class StaffDirectory:
    """Sign-in against the ``staff`` table: reads on the caller's connection, writes on the writer.

    The KDF runs in a worker thread, never on the event loop or the single
    SQLite writer (50 ms there would stall every scan behind it).
    """

    def __init__(self, conn: sqlite3.Connection, writer: SQLiteWriter) -> None:
        self.conn = conn
        self.writer = writer
        self.limiter = AddressLimiter(conn, writer)
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, int] = {}

    async def sign_in(self, name: str, secret: str, address: str = "") -> StaffClaims:
        """Check a name and secret; return claims without expiry (the caller issues the token).

        ``address``: the client's, for the per-address limit (empty: not over the network).
        Attempts on one account, and from one address, are taken one at a time:
        checked concurrently, twenty guesses sent at once would all be tried
        before the first failure is counted, and no limit would ever trigger.
        """
        async with self._one_at_a_time(f"addr:{address}" if address else ""):
            if address:
                await self.limiter.check(address)
            try:
                async with self._one_at_a_time(f"name:{name.strip().lower()}"):
                    return await self._sign_in(name, secret)
            except SignInError as exc:
                if address and exc.code == "wrong_credentials":
                    await self.limiter.failed(address)
                raise

    @asynccontextmanager
    async def _one_at_a_time(self, key: str) -> AsyncIterator[None]:
        if not key:
            yield
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key], self._locks[key]

    async def _sign_in(self, name: str, secret: str) -> StaffClaims:
        row = self.conn.execute(
            "SELECT id, name, role, secret_hash, locked_until FROM staff WHERE lower(name) = lower(?)",
            (name.strip(),),
        ).fetchone()
        if row is None:
            await asyncio.to_thread(check_secret, secret, _DUMMY_HASH)
            raise SignInError("wrong_credentials", "wrong name or PIN")
        staff_id, real_name, role, stored, locked_until = row
        now = now_ms()
        if locked_until > now:
            wait = -(-(locked_until - now) // 1000)
            raise SignInError(
                "locked", f"too many wrong PINs: this account is locked for {wait} s more", retry_after=wait
            )
        if not await asyncio.to_thread(check_secret, secret, stored):
            await self.writer.run(lambda conn: _record_failure(conn, staff_id))
            raise SignInError("wrong_credentials", "wrong name or PIN")
        await self.writer.run(
            lambda conn: conn.execute(
                "UPDATE staff SET failed_attempts = 0, locked_until = 0 WHERE id = ?", (staff_id,)
            )
        )
        return StaffClaims(staff_id, real_name, StaffRole(role), 0)


def _record_failure(conn: sqlite3.Connection, staff_id: str) -> None:
    failures = conn.execute(
        "UPDATE staff SET failed_attempts = failed_attempts + 1 WHERE id = ? RETURNING failed_attempts",
        (staff_id,),
    ).fetchone()[0]
    wait = lockout_ms(failures)
    if wait:
        conn.execute("UPDATE staff SET locked_until = ? WHERE id = ?", (now_ms() + wait, staff_id))
