"""PIN guessing at a real appliance is bounded per client address, and a restart does not reset it.

A device on the venue network that tries one wrong PIN against each of many
names never trips any account's lock; after ten failures in five minutes
its address is refused (429 ``too_many_attempts`` with ``Retry-After``),
even with a right PIN, and still after the appliance restarts.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx
import pytest

from appliance.staff.limiter import ADDRESS_ATTEMPTS, AddressLimiter
from konferenco.errors import TooManyAttempts
from sync.sqlite_writer import SQLiteWriter
from tests.helpers import ApplianceProcess, konferenco

PIN = "2468"


@pytest.fixture
def box(tmp_path: Path) -> Path:
    data = tmp_path / "box"
    konferenco("demo", "seed", "--data", str(data), "--attendees", "3", "--seed", "2")
    konferenco(
        "appliance", "staff", "add", "--data", str(data), "--name", "Anna", "--role", "door",
        input=f"{PIN}\n{PIN}\n",
    )  # fmt: skip
    return data


def _login(url: str, name: str, secret: str) -> httpx.Response:
    return httpx.post(f"{url}/api/v1/auth/login", json={"name": name, "secret": secret}, timeout=30)


def test_one_address_guessing_across_names_is_refused_and_stays_refused_after_a_restart(box: Path) -> None:
    with ApplianceProcess(box) as appliance:
        assert _login(appliance.url, "Anna", PIN).status_code == 200
        for i in range(ADDRESS_ATTEMPTS):  # one wrong PIN per name: no account lock ever triggers
            wrong = _login(appliance.url, f"Guess {i}" if i % 2 else "Anna", "0000")
            assert wrong.status_code == 401, wrong.text
            assert wrong.json()["code"] == "wrong_credentials"
        refused = _login(appliance.url, "Anna", PIN)  # even the right PIN
        assert refused.status_code == 429, refused.text
        assert refused.json()["code"] == "too_many_attempts"
        assert 1 <= int(refused.headers["retry-after"]) <= 300
        assert "token" not in refused.json()

    with ApplianceProcess(box) as restarted:
        again = _login(restarted.url, "Anna", PIN)
        assert again.status_code == 429, again.text
        assert int(again.headers["retry-after"]) >= 1


async def test_the_window_passes_and_other_addresses_are_not_held_back(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "limits.db", check_same_thread=False)
    writer = SQLiteWriter(tmp_path / "limits.db")
    writer.start()
    try:
        limiter = AddressLimiter(conn, writer, attempts=3, window_ms=400)
        for _ in range(3):
            await limiter.check("10.0.0.7")
            await limiter.failed("10.0.0.7")
        with pytest.raises(TooManyAttempts) as refused:
            await limiter.check("10.0.0.7")
        assert refused.value.details["retry_after"] == 1
        await limiter.check("10.0.0.8")  # another device at the venue signs in as usual
        await asyncio.sleep(0.5)
        await limiter.check("10.0.0.7")  # the window has passed
    finally:
        await writer.close()
        conn.close()
