"""The sign-in limit is one budget for the whole hub, however many workers serve it.

Two real hub processes on one database; guesses alternate between them and
between the console's form and the API's token exchange, as an attacker
spreading them over a load balancer would.  With the old per-process
counters each worker allowed five, so ten guesses a minute got through.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import HubProcess, konferenco
from tests.hub.test_sessions import OWNER, PASSWORD, Browser


@pytest.fixture
def hubs(hub_db: str, tmp_path: Path) -> Iterator[tuple[HubProcess, HubProcess]]:
    konferenco(
        "hub", "create-organization", "--database-url", hub_db, "--name", "Acme", "--slug", "acme",
        "--owner-email", OWNER, "--owner-password", PASSWORD,
    )  # fmt: skip
    with HubProcess(hub_db, tmp_path / "secrets") as a, HubProcess(hub_db, tmp_path / "secrets") as b:
        yield a, b


def _api(hub: HubProcess, email: str, password: str) -> httpx.Response:
    body = {"email": email, "password": password, "organization": "acme"}
    return httpx.post(f"{hub.url}/api/v1/auth/token", json=body, timeout=30)


def test_five_wrong_passwords_spread_over_two_workers_lock_the_account_on_both(
    hubs: tuple[HubProcess, HubProcess],
) -> None:
    a, b = hubs
    for i in range(5):
        hub = (a, b)[i % 2]
        if i % 3:
            assert _api(hub, OWNER, f"guess {i}").status_code == 401
        else:
            assert Browser(hub.url).sign_in(OWNER, f"guess {i}").status_code == 401
    for hub in (a, b):
        refused = _api(hub, OWNER, PASSWORD)  # even the right password waits now
        assert refused.status_code == 429, refused.text
        assert refused.json()["code"] == "too_many_attempts"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        page = Browser(hub.url).sign_in(OWNER, PASSWORD)
        assert page.status_code == 429 and "too many failed sign-ins" in page.text
        assert "kf_session" not in page.headers.get("set-cookie", "")


def test_guessing_many_accounts_from_one_address_is_bounded_on_every_worker(
    hubs: tuple[HubProcess, HubProcess],
) -> None:
    a, b = hubs
    for i in range(5):  # a different account each time: no account's own count reaches five
        assert _api((a, b)[i % 2], f"someone{i}@acme.example", "password1").status_code == 401
    for hub in (a, b):
        refused = _api(hub, OWNER, PASSWORD)
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["retry-after"]) >= 1


def test_a_good_password_clears_the_accounts_count_but_not_the_addresss(
    hubs: tuple[HubProcess, HubProcess],
) -> None:
    a, b = hubs
    for _ in range(4):
        assert _api(a, OWNER, "guess").status_code == 401
    assert _api(b, OWNER, PASSWORD).status_code == 201
    # The account starts afresh, but the address has spent 4 of its 5: one more failure from
    # anywhere, and this address waits.
    assert _api(a, "nobody@acme.example", "guess").status_code == 401
    assert _api(b, OWNER, PASSWORD).status_code == 429
