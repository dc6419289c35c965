"""Building blocks for tests that talk to a real hub process over HTTP and WebSocket.

The tests are synchronous (an ``httpx.Client`` against ``HubProcess``); the
few steps that need the database (creating an organization and its owner,
reading what the hub stored) run their coroutine with :func:`run`.  Every
test makes its own organization with a random short name, so tests can
share one hub process per module without seeing each other's data.
"""

from __future__ import annotations

import asyncio
import secrets
import zlib
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pycrdt import Array, Doc
from sqlalchemy import text

from hub.db.session import Database
from hub.tenants.accounts import OrgRole, add_member, create_account, create_organization
from konferenco.badges import b64, raw_public_key, unb64
from sync.documents import DeviceLog

T = TypeVar("T")
PASSWORD = "correct horse battery"
ROSTER = (
    b"external_ref,name,company,ticket_type\n"
    b"T-1,Ada Lovelace,Analytical Engines,general\n"
    b"T-2,Grace Hopper,US Navy,general\n"
)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine from a synchronous test (no event loop is running there)."""
    return asyncio.run(coro)


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Org:
    """An organization, its owner's e-mail and an API token of the owner."""

    slug: str
    org_id: str
    email: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.token)


async def _create_org(db_url: str, slug: str, email: str, tier: str) -> str:
    db = Database(db_url, pool_size=1)
    try:
        async with db.system() as conn:  # creating a tenant precedes any tenant
            account = await create_account(conn, email, PASSWORD)
            return await create_organization(conn, slug.title(), slug, account, tier)
    finally:
        await db.close()


async def _add_member(db_url: str, org_id: str, email: str, role: OrgRole) -> None:
    db = Database(db_url, pool_size=1)
    try:
        async with db.system() as conn:
            found = await conn.execute(
                text("SELECT 1 FROM account WHERE lower(email) = lower(:e)"), {"e": email}
            )
            exists = found.first()
            if exists is None:
                await create_account(conn, email, PASSWORD)
            await add_member(conn, org_id, email, role)
    finally:
        await db.close()


def api_token(http: httpx.Client, email: str, slug: str, password: str = PASSWORD) -> str:
    response = http.post(
        "/api/v1/auth/token", json={"email": email, "password": password, "organization": slug}
    )
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    assert isinstance(token, str)
    return token


def new_org(db_url: str, http: httpx.Client, tier: str = "professional") -> Org:
    """A fresh organization whose owner signed in through the API."""
    slug = unique("org")
    email = f"owner@{slug}.example"
    org_id = run(_create_org(db_url, slug, email, tier))
    return Org(slug, org_id, email, api_token(http, email, slug))


def set_member(db_url: str, org: Org, email: str, role: OrgRole) -> None:
    """Give ``email`` (created if new) ``role`` in ``org``: how an owner adds or demotes a member."""
    run(_add_member(db_url, org.org_id, email, role))


def new_event(http: httpx.Client, org: Org, roster: bytes | None = ROSTER, name: str = "Summit") -> str:
    response = http.post("/api/v1/events", json={"name": name}, headers=org.auth)
    assert response.status_code == 201, response.text
    event = response.json()["id"]
    assert isinstance(event, str)
    if roster is not None:
        imported = http.post(f"/api/v1/events/{event}/attendees/import", content=roster, headers=org.auth)
        assert imported.status_code == 200, imported.text
    return event


def enrolment_token(
    http: httpx.Client, org: Org, event: str, capabilities: tuple[str, ...] = ("scanner",)
) -> str:
    response = http.post(
        f"/api/v1/events/{event}/enrolments", json={"capabilities": list(capabilities)}, headers=org.auth
    )
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    assert isinstance(token, str)
    return token


def redeem(
    http: httpx.Client, token: str, key: Ed25519PrivateKey | None = None, name: str = ""
) -> httpx.Response:
    """What a device sends for its enrolment token: the token and its walk-in badge key."""
    key = key or Ed25519PrivateKey.generate()
    return http.post(
        "/api/v1/enrol",
        json={"token": token, "badge_public_key": b64(raw_public_key(key.public_key())), "name": name},
    )


@dataclass(frozen=True)
class Device:
    """An enrolled device as the hub's grant described it."""

    device_id: str
    event_id: str
    credential: str
    catalog_key: bytes

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.credential)


def enrol_device(
    http: httpx.Client, org: Org, event: str, capabilities: tuple[str, ...] = ("scanner",)
) -> Device:
    response = redeem(http, enrolment_token(http, org, event, capabilities))
    assert response.status_code == 201, response.text
    grant = response.json()
    return Device(grant["device_id"], grant["event_id"], grant["credential"], unb64(grant["catalog_keys"][0]))


async def _fetch(db_url: str, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(db_url)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


def sql(db_url: str, query: str, *args: object) -> list[asyncpg.Record]:
    """Run one statement as the tables' owner (to look behind the API, or to age a row)."""
    return run(_fetch(db_url, query, *args))


def stored_document(db_url: str, name: str) -> Doc[Any]:
    """The document as the hub stored it in PostgreSQL: its snapshot plus its update log."""
    doc: Doc[Any] = Doc()
    for row in sql(db_url, "SELECT state FROM sync_snapshot WHERE doc = $1", name):
        doc.apply_update(zlib.decompress(row["state"]))
    for row in sql(db_url, "SELECT update_bytes FROM sync_update WHERE doc = $1 ORDER BY seq", name):
        doc.apply_update(bytes(row["update_bytes"]))
    return doc


def stored_updates(db_url: str, name: str) -> int:
    rows = sql(db_url, "SELECT count(*) AS n FROM sync_update WHERE doc = $1", name)
    return int(rows[0]["n"])


def scan_update(gate: str = "A") -> bytes:
    """A Yjs update appending one well-formed scan to a device log."""
    doc: Doc[Any] = Doc()
    doc.get("log", type=Array)
    DeviceLog(doc).append_scan(nonce=secrets.token_hex(8), gate=gate, result="admitted")
    return doc.get_update()


def assert_error(response: httpx.Response, status: int, code: str) -> str:
    """The API's error contract: JSON with a stable code and a message for people."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return str(body["message"])
