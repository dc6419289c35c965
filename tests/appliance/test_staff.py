"""Staff sign-in offline: PIN hashes, ``ks1.`` tokens, lock-out, accounts in a real SQLite file."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.catalog.schema import migrate
from appliance.staff.service import (
    SHIFT_SECONDS,
    SignInError,
    StaffDirectory,
    StaffRole,
    StaffTokens,
    add_staff,
    check_secret,
    hash_secret,
    lockout_ms,
)
from sync.sqlite_writer import SQLiteWriter, connect

SECRET = b"s" * 32
TOKENS = StaffTokens(SECRET)

# --- PIN hashes ------------------------------------------------------------------------------


def test_a_hash_checks_the_right_pin_only() -> None:
    stored = hash_secret("482913")
    assert check_secret("482913", stored)
    assert not check_secret("482914", stored)
    assert not check_secret("", stored)
    assert not check_secret("482913 ", stored)


def test_a_hash_does_not_give_away_the_pin() -> None:
    first, second = hash_secret("482913"), hash_secret("482913")
    assert "482913" not in first
    assert first.startswith("scrypt$")
    assert first != second  # salted
    assert check_secret("482913", second)


@pytest.mark.parametrize(
    "stored", ["", "482913", "sha256$abc", "bcrypt$1$2$3$00$00", "scrypt$only$four$parts"]
)
def test_a_malformed_stored_hash_never_matches(stored: str) -> None:
    assert not check_secret("482913", stored)


# --- tokens ------------------------------------------------------------------------------------


def test_a_token_round_trips_its_claims() -> None:
    token = TOKENS.issue("staff-1", "Desk", StaffRole.DESK)
    assert token.startswith("ks1.")
    claims = TOKENS.verify(token)
    assert (claims.sub, claims.name, claims.role) == ("staff-1", "Desk", StaffRole.DESK)
    assert abs(claims.exp - (time.time() + SHIFT_SECONDS)) < 5


def code_of(token: str | None, tokens: StaffTokens = TOKENS) -> str:
    with pytest.raises(SignInError) as info:
        tokens.verify(token)
    assert info.value.message
    assert info.value.status == 401
    return info.value.code


def test_a_tampered_token_is_refused() -> None:
    token = TOKENS.issue("staff-1", "Door", StaffRole.DOOR)
    prefix, payload, mac = token.split(".")
    # Promote oneself to organizer, keeping the original signature.
    claims = msgspec.json.decode(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "organizer"
    forged = base64.urlsafe_b64encode(msgspec.json.encode(claims)).rstrip(b"=").decode()
    assert code_of(f"{prefix}.{forged}.{mac}") == "unauthorized"
    # One changed character of the signature.
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    assert code_of(f"{prefix}.{payload}.{flipped}") == "unauthorized"


def test_a_token_of_another_appliance_is_refused() -> None:
    token = StaffTokens(b"x" * 32).issue("staff-1", "Door", StaffRole.DOOR)
    assert code_of(token) == "unauthorized"


def test_an_expired_token_is_refused() -> None:
    token = TOKENS.issue("staff-1", "Door", StaffRole.DOOR, ttl_seconds=-1)
    assert code_of(token) == "token_expired"


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (None, "unauthorized"),
        ("", "unauthorized"),
        ("ks2.abc.def", "unauthorized"),
        ("Bearer ks1.abc.def", "unauthorized"),
        ("ks1.abc", "unauthorized"),
        ("ks1.a.b.c", "unauthorized"),
        ("eyJhbGciOiJIUzI1NiJ9.e30.sig", "unauthorized"),  # a JWT is not a staff token
    ],
)
def test_malformed_tokens_get_a_code(token: str | None, code: str) -> None:
    assert code_of(token) == code


def test_a_wrong_prefix_is_refused_even_with_a_valid_signature() -> None:
    _, payload, mac = TOKENS.issue("staff-1", "Door", StaffRole.DOOR).split(".")
    assert code_of(f"ks2.{payload}.{mac}") == "unauthorized"


def _signed(payload: str) -> str:
    mac = hmac.new(SECRET, f"ks1.{payload}".encode(), hashlib.sha256).digest()
    return f"ks1.{payload}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "!!!",
        base64.urlsafe_b64encode(b"not json").decode(),
        base64.urlsafe_b64encode(b'{"sub":1}').decode(),
    ],
)
def test_a_signed_but_malformed_payload_is_refused(payload: str) -> None:
    assert code_of(_signed(payload)) == "unauthorized"


@settings(max_examples=200)
@given(st.text())
def test_arbitrary_text_is_refused_with_a_sign_in_error(text: str) -> None:
    try:
        TOKENS.verify(text)
    except SignInError as exc:
        assert exc.code == "unauthorized"
    else:  # pragma: no cover
        raise AssertionError(f"{text!r} accepted")


def test_a_short_token_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        StaffTokens(b"short")


def test_the_token_secret_file_is_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "staff-token.key"
    first = StaffTokens.from_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    token = first.issue("staff-1", "Door", StaffRole.DOOR)
    # After a restart, tokens issued before still verify.
    assert StaffTokens.from_file(path).verify(token).sub == "staff-1"


# --- lock-out schedule ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failures", "ms"),
    [
        (0, 0),
        (1, 0),
        (4, 0),
        (5, 60_000),
        (6, 120_000),
        (7, 240_000),
        (10, 1_920_000),
        (11, 3_600_000),  # 3,840,000 capped at an hour
        (12, 3_600_000),
        (1000, 3_600_000),
    ],
)
def test_lockout_schedule(failures: int, ms: int) -> None:
    assert lockout_ms(failures) == ms


# --- accounts and sign-in on a real database -----------------------------------------------------

PIN = "482913"


@dataclass
class Staff:
    conn: sqlite3.Connection
    directory: StaffDirectory
    door_id: str

    def state(self, staff_id: str) -> tuple[int, int]:
        row = self.conn.execute(
            "SELECT failed_attempts, locked_until FROM staff WHERE id = ?", (staff_id,)
        ).fetchone()
        return int(row[0]), int(row[1])


@pytest.fixture
async def staff(tmp_path: Path) -> AsyncIterator[Staff]:
    path = tmp_path / "appliance.db"
    conn = connect(path)
    migrate(conn)
    door_id = add_staff(conn, "Door", StaffRole.DOOR, PIN)
    writer = SQLiteWriter(path)
    writer.start()
    yield Staff(conn, StaffDirectory(conn, writer), door_id)
    await writer.close()
    conn.close()


async def test_sign_in_with_the_right_pin(staff: Staff) -> None:
    claims = await staff.directory.sign_in(" door ", PIN)  # names are matched case-insensitively
    assert (claims.sub, claims.name, claims.role) == (staff.door_id, "Door", StaffRole.DOOR)


async def sign_in_code(staff: Staff, name: str, secret: str) -> tuple[str, str]:
    with pytest.raises(SignInError) as info:
        await staff.directory.sign_in(name, secret)
    return info.value.code, info.value.message


async def test_a_wrong_pin_and_an_unknown_name_look_the_same(staff: Staff) -> None:
    wrong = await sign_in_code(staff, "Door", "000000")
    unknown = await sign_in_code(staff, "Nobody", "000000")
    assert wrong == unknown == ("wrong_credentials", "wrong name or PIN")
    assert staff.state(staff.door_id) == (1, 0)


async def test_success_resets_the_failure_count(staff: Staff) -> None:
    for _ in range(4):
        await sign_in_code(staff, "Door", "000000")
    assert staff.state(staff.door_id) == (4, 0)
    await staff.directory.sign_in("Door", PIN)
    assert staff.state(staff.door_id) == (0, 0)
    # Four more mistakes after a success do not lock the account.
    for _ in range(4):
        assert (await sign_in_code(staff, "Door", "000000"))[0] == "wrong_credentials"
    assert (await staff.directory.sign_in("Door", PIN)).sub == staff.door_id


async def test_five_wrong_pins_lock_the_account_even_against_the_right_pin(staff: Staff) -> None:
    for _ in range(4):
        assert (await sign_in_code(staff, "Door", "111111"))[0] == "wrong_credentials"
    before = time.time() * 1000
    assert (await sign_in_code(staff, "Door", "111111"))[0] == "wrong_credentials"
    failures, locked_until = staff.state(staff.door_id)
    assert failures == 5
    assert before + 59_000 <= locked_until <= time.time() * 1000 + 60_000
    code, message = await sign_in_code(staff, "Door", PIN)
    assert code == "locked"
    seconds = re.search(r"locked for (\d+) s more", message)
    assert seconds is not None and 1 <= int(seconds.group(1)) <= 60, message
    # Other accounts are not affected.
    other = add_staff(staff.conn, "Desk", StaffRole.DESK, "2468")
    assert (await staff.directory.sign_in("desk", "2468")).sub == other


async def test_after_the_lock_ends_the_right_pin_works_and_a_wrong_one_locks_longer(staff: Staff) -> None:
    for _ in range(5):
        await sign_in_code(staff, "Door", "111111")
    staff.conn.execute("UPDATE staff SET locked_until = 0 WHERE id = ?", (staff.door_id,))  # a minute later
    await sign_in_code(staff, "Door", "111111")  # the sixth wrong PIN in a row
    failures, locked_until = staff.state(staff.door_id)
    assert failures == 6
    assert locked_until - time.time() * 1000 > 110_000  # two minutes now
    staff.conn.execute("UPDATE staff SET locked_until = 0 WHERE id = ?", (staff.door_id,))
    assert (await staff.directory.sign_in("Door", PIN)).sub == staff.door_id
    assert staff.state(staff.door_id) == (0, 0)


async def test_trying_while_locked_does_not_extend_the_lock(staff: Staff) -> None:
    for _ in range(5):
        await sign_in_code(staff, "Door", "111111")
    locked = staff.state(staff.door_id)
    for _ in range(3):
        assert (await sign_in_code(staff, "Door", "111111"))[0] == "locked"
    assert staff.state(staff.door_id) == locked  # trying while locked does not extend the lock


async def test_concurrent_guesses_do_not_get_around_the_lockout(staff: Staff) -> None:
    async def attempt(pin: str) -> str:
        try:
            await staff.directory.sign_in("Door", pin)
        except SignInError as exc:
            return exc.code
        return "signed_in"

    results = await asyncio.gather(*(attempt(f"{i:06d}") for i in range(20)), attempt(PIN))
    assert results.count("wrong_credentials") <= 5
    assert results[-1] == "locked"
    assert staff.state(staff.door_id)[1] > time.time() * 1000


def test_add_staff_rejects_short_pins(tmp_path: Path) -> None:
    conn = connect(tmp_path / "a.db")
    migrate(conn)
    with pytest.raises(ValueError, match="at least 4"):
        add_staff(conn, "Door", StaffRole.DOOR, "123")
    assert conn.execute("SELECT count(*) FROM staff").fetchone() == (0,)
    add_staff(conn, "Door", StaffRole.DOOR, "1234")  # four is enough
    conn.close()


@pytest.mark.parametrize("name", ["Door", "door", "DOOR", "  Door "])
def test_add_staff_rejects_duplicate_names(tmp_path: Path, name: str) -> None:
    conn = connect(tmp_path / "a.db")
    migrate(conn)
    add_staff(conn, "Door", StaffRole.DOOR, PIN)
    with pytest.raises(ValueError, match="exists already"):
        add_staff(conn, name, StaffRole.ORGANIZER, "9999")
    assert conn.execute("SELECT name, role FROM staff").fetchall() == [("Door", "door")]
    conn.close()


def test_add_staff_rejects_a_blank_name_and_strips_names(tmp_path: Path) -> None:
    conn = connect(tmp_path / "a.db")
    migrate(conn)
    with pytest.raises(ValueError, match="name"):
        add_staff(conn, "   ", StaffRole.DOOR, PIN)
    staff_id = add_staff(conn, "  Kiosk  ", StaffRole.KIOSK, PIN)
    row = conn.execute("SELECT name, secret_hash FROM staff WHERE id = ?", (staff_id,)).fetchone()
    assert row[0] == "Kiosk"
    assert check_secret(PIN, row[1]) and PIN not in row[1]
    conn.close()


def test_every_route_goes_through_the_staff_check(tmp_path: Path) -> None:
    """The check is the app's ``before_request``: a route with its own hook would silently skip it."""
    from litestar.handlers.http_handlers.base import HTTPRouteHandler

    from appliance.app import create_app
    from appliance.config import DataDir
    from tests.helpers import konferenco

    data = tmp_path / "data"
    konferenco("appliance", "init", "--data", str(data), "--event", "e1", "--device-id", "box1")
    app = create_app(DataDir(data))
    handlers = [
        handler
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        if isinstance(handler, HTTPRouteHandler)
    ]
    guarded = [h for h in handlers if h.opt.get("roles")]
    assert len(guarded) > 10  # the API's routes carry roles...
    hook = app.before_request
    assert hook is not None
    for handler in handlers:  # ...and every route runs the app's hook, none its own
        assert handler.resolve_before_request() is hook, handler.paths
