"""Console sessions end for good, on every hub worker: sign out everywhere, password and role changes.

Two real ``konferenco hub serve`` processes on one PostgreSQL database and
one secrets directory stand for two workers behind a load balancer: a
browser signed in through one is served by the other, and what ends a
session on one ends it on both.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.db.session import Database
from hub.tenants.accounts import OrgRole, add_member, create_account
from tests.helpers import HubProcess, konferenco

OWNER, PASSWORD = "owner@acme.example", "correct horse battery"
ORGANIZER = "organizer@acme.example"


class Browser:
    """A browser at one hub address: its cookies, and the CSRF token of the last page it loaded."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, follow_redirects=False, timeout=30)
        self.csrf = ""

    def get(self, path: str) -> httpx.Response:
        response = self.http.get(path)
        if match := re.search(r'(?:name="_csrf" value|name="csrf-token" content)="([^"]+)"', response.text):
            self.csrf = match.group(1)
        return response

    def post(self, path: str, data: dict[str, str] | None = None) -> httpx.Response:
        return self.http.post(path, data={**(data or {}), "_csrf": self.csrf})

    def sign_in(self, email: str, password: str = PASSWORD) -> httpx.Response:
        self.get("/console/login")
        response = self.post("/console/login", {"email": email, "password": password})
        if response.status_code == 303:
            self.get("/console/account")
        return response

    def at(self, hub: HubProcess) -> Browser:
        """The same browser (same cookies) sent to another worker."""
        other = Browser(hub.url)
        other.http.cookies = self.http.cookies
        other.csrf = self.csrf
        return other

    def signed_in(self) -> bool:
        response = self.http.get("/console/acme")
        assert response.status_code in (200, 303), response.text
        return response.status_code == 200

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def hubs(hub_db: str, tmp_path: Path) -> Iterator[tuple[HubProcess, HubProcess]]:
    konferenco(
        "hub", "create-organization", "--database-url", hub_db, "--name", "Acme", "--slug", "acme",
        "--owner-email", OWNER, "--owner-password", PASSWORD,
    )  # fmt: skip
    asyncio.run(_add_organizer(hub_db))
    with HubProcess(hub_db, tmp_path / "secrets") as a, HubProcess(hub_db, tmp_path / "secrets") as b:
        yield a, b


async def _add_organizer(url: str, role: OrgRole = OrgRole.ORGANIZER) -> None:
    db = Database(url, pool_size=1)
    try:
        async with db.system() as conn:
            org_id = (
                await conn.exec_driver_sql("SELECT id FROM organization WHERE slug = 'acme'")
            ).scalar_one()
            if role == OrgRole.ORGANIZER:
                await create_account(conn, ORGANIZER, PASSWORD)
            await add_member(conn, str(org_id), ORGANIZER, role)
    finally:
        await db.close()


def test_a_session_made_on_one_worker_is_honoured_and_ended_on_the_other(
    hubs: tuple[HubProcess, HubProcess],
) -> None:
    a, b = hubs
    laptop = Browser(a.url)
    assert laptop.sign_in(OWNER).status_code == 303
    assert laptop.at(b).signed_in()  # the other worker knows the session
    phone = Browser(b.url)
    assert phone.sign_in(OWNER).status_code == 303

    # Signing out on worker B ends that browser's session on worker A too.
    phone_at_a = phone.at(a)
    assert phone_at_a.signed_in()
    assert phone.post("/console/logout").status_code == 303
    assert not phone_at_a.signed_in()
    assert laptop.signed_in()  # only that browser
    laptop.close()
    phone.close()


def test_sign_out_everywhere_ends_every_session_of_the_account_on_every_worker(
    hubs: tuple[HubProcess, HubProcess],
) -> None:
    a, b = hubs
    laptop, phone, colleague = Browser(a.url), Browser(b.url), Browser(b.url)
    assert laptop.sign_in(OWNER).status_code == 303
    assert phone.sign_in(OWNER).status_code == 303
    assert colleague.sign_in(ORGANIZER).status_code == 303

    response = laptop.post("/console/account/sign-out-everywhere")
    assert response.status_code == 303 and response.headers["location"] == "/console/login"
    assert not laptop.signed_in()
    assert not phone.signed_in()  # served by the other worker
    assert not phone.at(a).signed_in()
    assert colleague.signed_in()  # another account is untouched
    assert phone.sign_in(OWNER).status_code == 303  # and signing in again works
    for browser in (laptop, phone, colleague):
        browser.close()


def test_a_password_change_ends_every_other_session_and_the_old_password(
    hubs: tuple[HubProcess, HubProcess],
) -> None:
    a, b = hubs
    laptop, stolen = Browser(a.url), Browser(b.url)
    assert laptop.sign_in(OWNER).status_code == 303
    assert stolen.sign_in(OWNER).status_code == 303

    wrong = laptop.post(
        "/console/account/password",
        {
            "current_password": "not it at all",
            "new_password": "a new long secret",
            "repeat_password": "a new long secret",
        },
    )
    assert wrong.status_code == 401 and "the current password is wrong" in wrong.text
    assert stolen.signed_in()  # a refused change ends nothing

    laptop.get("/console/account")
    changed = laptop.post(
        "/console/account/password",
        {
            "current_password": PASSWORD,
            "new_password": "a new long secret",
            "repeat_password": "a new long secret",
        },
    )
    assert changed.status_code == 303, changed.text
    assert "Password changed. 2 sessions ended" in laptop.get(changed.headers["location"]).text
    assert laptop.signed_in()  # this browser got a new session with the change
    assert not stolen.signed_in()
    assert not stolen.at(a).signed_in()
    assert Browser(b.url).sign_in(OWNER).status_code == 401  # the old password
    assert Browser(b.url).sign_in(OWNER, "a new long secret").status_code == 303
    laptop.close()
    stolen.close()


def test_a_role_change_ends_the_members_sessions(hubs: tuple[HubProcess, HubProcess], hub_db: str) -> None:
    a, b = hubs
    organizer, owner = Browser(a.url), Browser(b.url)
    assert organizer.sign_in(ORGANIZER).status_code == 303
    assert owner.sign_in(OWNER).status_code == 303
    assert organizer.at(b).signed_in()

    asyncio.run(_add_organizer(hub_db, OrgRole.VIEWER))  # demoted

    assert not organizer.signed_in()
    assert not organizer.at(b).signed_in()
    assert owner.signed_in()
    assert organizer.sign_in(ORGANIZER).status_code == 303
    page = organizer.get("/console/acme")
    assert 'title="your role in this organization">viewer<' in page.text
    # The same role again is no change: nothing ends.
    asyncio.run(_add_organizer(hub_db, OrgRole.VIEWER))
    assert organizer.signed_in()
    organizer.close()
    owner.close()


def test_behind_a_tls_proxy_the_cookies_are_secure(hubs: tuple[HubProcess, HubProcess]) -> None:
    """A proxy on this machine terminates TLS and says so; the hub's public URL is plain http here."""
    a, _ = hubs
    direct = httpx.get(f"{a.url}/console/login")
    assert "secure" not in {p.strip().lower() for p in direct.headers["set-cookie"].split(";")}
    proxied = httpx.get(f"{a.url}/console/login", headers={"X-Forwarded-Proto": "https"})
    attributes = {p.strip().lower() for p in proxied.headers["set-cookie"].split(";")[1:]}
    assert {"secure", "httponly", "samesite=strict"} <= attributes
