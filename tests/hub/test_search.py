"""Attendee search on the hub: accents ignored, any script, order codes, every write path, the console.

Against a real PostgreSQL: rosters go in through the import service (what
the console and the API call), walk-ins and corrections through the hub's
sync projection, and the console page is fetched like a browser does.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from pycrdt import Doc

from hub.catalog.events import create_event
from hub.catalog.roster import import_attendees
from hub.catalog.search import search
from hub.db import migrate
from hub.peer.projection import HubProjection
from hub.peer.store import PostgresUpdateStore
from hub.tenants.accounts import Principal
from sync.documents import ControlDoc, DeviceLog
from sync.names import DocName
from sync.records import WalkIn
from sync.replica import Replica
from tests.helpers import PG_SERVER, _admin, drop_database
from tests.hub.services import Hub, hub_services, organization
from tests.hub.test_console import HTMX, Console, console  # noqa: F401  (the console fixture)

ROSTER = (
    "external_ref,name,company,email,order code,ticket_type\n"
    "T-1,Ramón Núñez,Ñandú Labs,ramon@example.com,ORD-7Q2X,general\n"
    "T-2,Jürgen Müller,Straßenbahn AG,jurgen@example.com,ORD-55KD,general\n"
    "T-3,Søren Østergaard,Nørrebro Robotics,,ORD-19AB,general\n"
    "T-4,Zoë Ångström-Łukasiewicz,,zoe@example.com,,general\n"
    "T-5,Иван Петров,Газпром,ivan@example.ru,ORD-RU01,general\n"
    "T-6,田中 太郎,株式会社サンプル,,ORD-JP01,general\n"
    "T-7,Nunes Ramos,,,ORD-7Q3A,general\n"
)


@pytest.fixture
async def hub(hub_db: str, tmp_path: Path) -> AsyncIterator[Hub]:
    async with hub_services(hub_db, tmp_path / "secrets") as services:
        yield services


async def _event_with_roster(hub: Hub, slug: str = "acme") -> tuple[Principal, str]:
    who = await organization(hub, slug)
    async with hub.db.tenant(who.org_id) as conn:
        event = await create_event(conn, hub.sealer, who, "Summit")
        await import_attendees(conn, hub.sealer, who, event, ROSTER.encode())
    return who, event


async def _names(hub: Hub, who: Principal, event: str, query: str) -> list[str]:
    async with hub.db.tenant(who.org_id) as conn:
        return [row["name"] for row in await search(conn, event, query)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("nunez", ["Ramón Núñez"]),
        ("NÚÑEZ", ["Ramón Núñez"]),
        ("ramon nun", ["Ramón Núñez"]),
        ("muller", ["Jürgen Müller"]),
        ("strassenbahn", ["Jürgen Müller"]),
        ("ostergaard", ["Søren Østergaard"]),
        ("nørrebro", ["Søren Østergaard"]),
        ("lukasiewicz", ["Zoë Ångström-Łukasiewicz"]),
        ("angstrom zoe", ["Zoë Ångström-Łukasiewicz"]),
        ("Ив", ["Иван Петров"]),
        ("газпром", ["Иван Петров"]),
        ("田", ["田中 太郎"]),
        ("太郎", ["田中 太郎"]),
        ("田中太郎", ["田中 太郎"]),
        ("サンプル", ["田中 太郎"]),
    ],
)
async def test_search_ignores_accents_and_works_in_any_script(
    hub: Hub, query: str, expected: list[str]
) -> None:
    who, event = await _event_with_roster(hub)
    assert await _names(hub, who, event, query) == expected


async def test_words_match_at_their_start_not_inside_other_words(hub: Hub) -> None:
    who, event = await _event_with_roster(hub)
    assert await _names(hub, who, event, "nune") == ["Nunes Ramos", "Ramón Núñez"]
    assert await _names(hub, who, event, "uller") == []  # not a word start: "Müller" is found by "mul"
    assert await _names(hub, who, event, "nobody") == []


@pytest.mark.parametrize("query", ["ORD-7Q2X", "ord-7q2x", "7Q2X", "ORD 7q2"])
async def test_search_by_order_code(hub: Hub, query: str) -> None:
    who, event = await _event_with_roster(hub)
    assert await _names(hub, who, event, query) == ["Ramón Núñez"]


async def test_an_exact_order_code_or_reference_ranks_first(hub: Hub) -> None:
    who, event = await _event_with_roster(hub)
    async with hub.db.tenant(who.org_id) as conn:
        hits = await search(conn, event, "ORD-7Q")
        exact = await search(conn, event, "T-7")
    assert [h["order_ref"] for h in hits] == ["ORD-7Q3A", "ORD-7Q2X"]  # by name: Nunes, Ramón
    assert exact[0]["name"] == "Nunes Ramos" and exact[0]["order_ref"] == "ORD-7Q3A"


async def test_another_organization_finds_nothing_of_this_event(hub: Hub) -> None:
    _, event = await _event_with_roster(hub)
    stranger = await organization(hub, "globex")
    assert await _names(hub, stranger, event, "nunez") == []
    assert await _names(hub, stranger, event, "ORD-7Q2X") == []


async def test_walk_ins_and_corrections_from_the_venue_are_searchable(hub: Hub, hub_db: str) -> None:
    who, event = await _event_with_roster(hub)
    store = await PostgresUpdateStore.connect(hub_db, min_size=1, max_size=2, projector=HubProjection())
    replica = Replica(store)
    await replica.start()
    try:
        box: Doc[Any] = Doc()
        DeviceLog(box).append(WalkIn(attendee_id="w1", name="Łucja Wąsowska", ticket_type_id="general"))
        DeviceLog(box).append(WalkIn(attendee_id="w2", name="佐藤 健", ticket_type_id="general"))
        log = DocName.device(event, "d1")
        await replica.open(log)
        await replica.receive(log, box.get_update(), "d1")
        assert await _names(hub, who, event, "wasowska") == ["Łucja Wąsowska"]
        assert await _names(hub, who, event, "佐") == ["佐藤 健"]

        control = DocName.control(event)
        await replica.write(control, lambda doc: ControlDoc(doc).amend("w1", "name", "Łucja Ødegård"))
        assert await _names(hub, who, event, "odegard") == ["Łucja Ødegård"]
        assert await _names(hub, who, event, "wasowska") == []
    finally:
        await replica.close()


async def test_an_existing_database_is_filled_by_the_migration(tmp_path: Path) -> None:
    name = f"kf_test_search_{secrets.token_hex(6)}"
    url = PG_SERVER.rsplit("/", 1)[0] + f"/{name}"
    await asyncio.to_thread(_admin, f'DROP DATABASE IF EXISTS "{name}"')
    await asyncio.to_thread(_admin, f'CREATE DATABASE "{name}" TEMPLATE template0')
    try:
        await asyncio.to_thread(migrate.upgrade, url, "0003")
        pg = await asyncpg.connect(url)
        try:
            org = await pg.fetchval(
                "INSERT INTO organization (name, slug) VALUES ('Acme', 'acme') RETURNING id"
            )
            await pg.execute("INSERT INTO event (id, org_id, name) VALUES ('e1', $1, 'Summit')", org)
            await pg.execute(
                "INSERT INTO attendee (event_id, id, org_id, external_ref, name, company, order_ref,"
                " ticket_type_id, revision) VALUES ('e1', 'a1', $1, 'T-1', 'Ramón Núñez', 'Ñandú Labs',"
                " 'ORD-7Q2X', 'general', 1), ('e1', 'a2', $1, NULL, '田中 太郎', '', '', 'general', 1)",
                org,
            )
        finally:
            await pg.close()
        await asyncio.to_thread(migrate.upgrade, url)
        async with hub_services(url, tmp_path / "secrets") as services, services.db.system() as conn:
            assert [h["id"] for h in await search(conn, "e1", "nunez")] == ["a1"]
            assert [h["id"] for h in await search(conn, "e1", "ord-7q2x")] == ["a1"]
            assert [h["id"] for h in await search(conn, "e1", "田")] == ["a2"]
    finally:
        await asyncio.to_thread(drop_database, url)


# --- the console ---------------------------------------------------------------------------


def _cells(html: str, testid: str) -> list[str]:
    return [m.strip() for m in re.findall(rf'data-testid="{testid}"[^>]*>([^<]*)<', html)]


async def test_the_console_shows_order_codes_and_finds_people_by_them(console: Console) -> None:  # noqa: F811
    await console.sign_in()
    event = await console.new_event()
    upload = await console.upload(event, ROSTER)
    assert upload.status_code in (200, 303), upload.text
    page = await console.client.get(f"{console.org}/events/{event}/attendees")
    assert page.status_code == 200
    assert sorted(_cells(page.text, "order-code")) == sorted(
        ["ORD-7Q2X", "ORD-55KD", "ORD-19AB", "ORD-RU01", "ORD-JP01", "ORD-7Q3A"]
    )
    assert ">Order</th>" in page.text

    found = await console.client.get(
        f"{console.org}/events/{event}/attendees/search", params={"q": "ord-55kd"}, headers=HTMX
    )
    assert re.findall(r"<td><strong>([^<]+)</strong>", found.text) == ["Jürgen Müller"]
    assert _cells(found.text, "order-code") == ["ORD-55KD"]
    # The attendee's own id and the shop's reference stay at hand, under the order code and on hover.
    async with console.hub.db.tenant(console.mine.org_id) as conn:
        (hit,) = await search(conn, event, "ORD-55KD")
    assert _cells(found.text, "attendee-ref") == ["T-2"]
    assert f'title="attendee id {hit["id"]}, ticket shop reference T-2"' in found.text

    accented = await console.client.get(
        f"{console.org}/events/{event}/attendees/search", params={"q": "nunez"}, headers=HTMX
    )
    assert re.findall(r"<td><strong>([^<]+)</strong>", accented.text) == ["Ramón Núñez"]
