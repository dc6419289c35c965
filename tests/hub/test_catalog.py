"""The roster on the hub: imports that land whole or not at all, and bundles appliances accept."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from sqlalchemy import text

from appliance.catalog.importer import import_bundle
from appliance.config import DataDir
from appliance.storage import open_replica
from hub.catalog.distribution import build_bundle
from hub.catalog.events import add_ticket_type, create_event, put_gate, put_list
from hub.catalog.keys import create_key
from hub.catalog.roster import ImportRefused, cancel_attendee, import_attendees
from hub.tenants.accounts import OrgRole, Principal
from hub.tenants.tiers import TierLimit
from konferenco.badges import KeyRing, TrustedKey, raw_public_key, unb64, verify
from konferenco.catalog.bundle import BundleError, decode_bundle, read_bundle
from konferenco.errors import Conflict, Forbidden, Invalid
from sync.sqlite_store import SQLiteUpdateStore
from tests.hub.services import Hub, hub_services, organization

GOOD = (
    "external_ref,name,company,email,ticket_type\n"
    "T-1,Ada Lovelace,Analytical Engines,ada@example.com,General\n"
    "T-2,Grace Hopper,US Navy,grace@example.com,general\n"
    "T-3,Zoë Ångström-Łukasiewicz,,zoe@example.com,General\n"
)


async def _event(hub: Hub, who: Principal) -> str:
    async with hub.db.tenant(who.org_id) as conn:
        return await create_event(conn, hub.sealer, who, "Summit", timezone="Europe/Berlin")


async def _import(hub: Hub, who: Principal, event: str, data: str | bytes, fmt: str = "csv") -> object:
    raw = data.encode() if isinstance(data, str) else data
    async with hub.db.tenant(who.org_id) as conn:
        return await import_attendees(conn, hub.sealer, who, event, raw, fmt)


async def _count(hub: Hub, who: Principal, event: str) -> int:
    async with hub.db.tenant(who.org_id) as conn:
        return int(
            (
                await conn.execute(text("SELECT count(*) FROM attendee WHERE event_id = :e"), {"e": event})
            ).scalar_one()
        )


async def test_a_csv_import_adds_then_reimporting_it_changes_nothing(hub_db: str, tmp_path: Path) -> None:
    async with hub_services(hub_db, tmp_path / "s") as hub:
        acme = await organization(hub, "acme")
        event = await _event(hub, acme)
        first = await _import(hub, acme, event, GOOD)
        assert (first.added, first.updated, first.unchanged) == (3, 0, 0)  # type: ignore[attr-defined]
        again = await _import(hub, acme, event, GOOD)
        assert (again.added, again.updated, again.unchanged) == (0, 0, 3)  # type: ignore[attr-defined]
        renamed = await _import(hub, acme, event, GOOD.replace("Grace Hopper", "Rear Admiral Grace Hopper"))
        assert (renamed.added, renamed.updated) == (0, 1)  # type: ignore[attr-defined]
        assert await _count(hub, acme, event) == 3


async def test_one_bad_row_rejects_the_whole_file_and_reports_its_line(hub_db: str, tmp_path: Path) -> None:
    async with hub_services(hub_db, tmp_path / "s") as hub:
        acme = await organization(hub, "acme")
        event = await _event(hub, acme)
        bad = GOOD + "T-4,,Nameless Inc,x@example.com,General\nT-5,Bob,,bob@example.com,Platinum\n"
        with pytest.raises(ImportRefused) as refused:
            await _import(hub, acme, event, bad)
        problems = refused.value.details["problems"]
        assert [(p["line"], p["field"]) for p in problems] == [(5, "name"), (6, "ticket_type")]
        assert "Platinum" in problems[1]["message"]
        assert await _count(hub, acme, event) == 0


async def test_json_import_uses_the_same_rules(hub_db: str, tmp_path: Path) -> None:
    async with hub_services(hub_db, tmp_path / "s") as hub:
        acme = await organization(hub, "acme")
        event = await _event(hub, acme)
        rows = [
            {"external_ref": "J-1", "name": "Lin", "ticket_type": "general"},
            {"name": "", "ticket_type": "x"},
        ]
        with pytest.raises(ImportRefused) as refused:
            await _import(hub, acme, event, json.dumps(rows), "json")
        assert {p["line"] for p in refused.value.details["problems"]} == {2}
        result = await _import(hub, acme, event, json.dumps({"attendees": rows[:1]}), "json")
        assert result.added == 1  # type: ignore[attr-defined]
        with pytest.raises(ImportRefused, match="rejected"):
            await _import(hub, acme, event, b"{not json", "json")


async def test_the_attendee_limit_of_the_tier_refuses_the_import_whole(hub_db: str, tmp_path: Path) -> None:
    async with hub_services(hub_db, tmp_path / "s") as hub:
        small = await organization(hub, "small", tier="free")
        event = await _event(hub, small)
        rows = "external_ref,name,ticket_type\n" + "".join(f"R-{i},Person {i},general\n" for i in range(101))
        with pytest.raises(TierLimit, match="100 attendees per event"):
            await _import(hub, small, event, rows)
        assert await _count(hub, small, event) == 0


async def test_a_viewer_cannot_import(hub_db: str, tmp_path: Path) -> None:
    async with hub_services(hub_db, tmp_path / "s") as hub:
        acme = await organization(hub, "acme")
        event = await _event(hub, acme)
        viewer = Principal(acme.account_id, acme.org_id, "acme", OrgRole.VIEWER)
        with pytest.raises(Forbidden, match="organizer role"):
            await _import(hub, viewer, event, GOOD)


async def _appliance(tmp_path: Path, hub: Hub, event: str) -> tuple[DataDir, SQLiteUpdateStore]:
    data = DataDir(tmp_path / "box")
    data.init([event], catalog_keys=[_b64(raw_public_key(hub.secrets.catalog_key.public_key()))])
    store = open_replica(data).store
    assert isinstance(store, SQLiteUpdateStore)
    await store.open()
    return data, store


def _b64(raw: bytes) -> str:
    import base64

    return base64.b64encode(raw).decode()


async def test_a_snapshot_and_then_a_delta_reach_an_appliance_which_verifies_them(
    hub_db: str, tmp_path: Path
) -> None:
    async with hub_services(hub_db, tmp_path / "s") as hub:
        acme = await organization(hub, "acme")
        event = await _event(hub, acme)
        await _import(hub, acme, event, GOOD)
        async with hub.db.tenant(acme.org_id) as conn:
            snapshot, rev1 = await build_bundle(conn, hub.secrets.catalog_key, event)
        data, store = await _appliance(tmp_path, hub, event)
        try:
            report = await import_bundle(data, store.writer, snapshot, event)
            assert report.result is not None and report.result.added == 3
            # A badge the hub issued verifies offline with the keys the bundle carried.
            catalog, _ = read_bundle(snapshot, [raw_public_key(hub.secrets.catalog_key.public_key())])
            ada = next(a for a in catalog.attendees if a.name == "Ada Lovelace")
            ring = KeyRing(
                [TrustedKey(k.kid, unb64(k.public_key), event, 0, 0, "event") for k in catalog.keys]
            )
            assert verify(ada.badge_code, ring, event).payload.attendee == ada.id

            # Changes on the hub: one new attendee, one cancelled, one new ticket type.
            await _import(hub, acme, event, GOOD + "T-9,Katherine Johnson,NASA,kj@example.com,General\n")
            async with hub.db.tenant(acme.org_id) as conn:
                await cancel_attendee(conn, acme, event, ada.id)
                await add_ticket_type(conn, acme, event, "vip", "VIP")
                delta, rev2 = await build_bundle(conn, hub.secrets.catalog_key, event, since=rev1)
            body = decode_bundle(delta).catalog
            assert body.base_revision == rev1 and rev2 > rev1
            assert sorted(a.name for a in body.attendees) == ["Ada Lovelace", "Katherine Johnson"]
            report = await import_bundle(data, store.writer, delta, event)
            assert report.result is not None and report.result.revision == rev2
            conn2 = data.reader()
            try:
                status = dict(conn2.execute("SELECT name, status FROM attendee WHERE event_id = ?", (event,)))
                types = {r[0] for r in conn2.execute("SELECT id FROM catalog_ticket_type")}
            finally:
                conn2.close()
            assert status["Ada Lovelace"] == "cancelled" and status["Katherine Johnson"] == "valid"
            assert types == {"general", "vip"}
        finally:
            await store.close()


async def test_an_altered_bundle_is_refused_by_the_appliance(hub_db: str, tmp_path: Path) -> None:
    async with hub_services(hub_db, tmp_path / "s") as hub:
        acme = await organization(hub, "acme")
        event = await _event(hub, acme)
        await _import(hub, acme, event, GOOD)
        async with hub.db.tenant(acme.org_id) as conn:
            snapshot, _ = await build_bundle(conn, hub.secrets.catalog_key, event)
        forged = msgspec.json.decode(snapshot)
        forged["catalog"]["attendees"][0]["name"] = "Mallory"
        data, store = await _appliance(tmp_path, hub, event)
        try:
            with pytest.raises(BundleError, match="altered"):
                await import_bundle(data, store.writer, msgspec.json.encode(forged), event)
        finally:
            await store.close()


async def test_a_rotated_key_signs_new_badges_and_old_badges_stay_valid(hub_db: str, tmp_path: Path) -> None:
    async with hub_services(hub_db, tmp_path / "s") as hub:
        acme = await organization(hub, "acme")
        event = await _event(hub, acme)
        await _import(hub, acme, event, GOOD)
        async with hub.db.tenant(acme.org_id) as conn:
            new_kid = await create_key(conn, hub.sealer, acme.org_id, event)
        await _import(hub, acme, event, "external_ref,name,ticket_type\nT-7,Newcomer,general\n")
        async with hub.db.tenant(acme.org_id) as conn:
            snapshot, _ = await build_bundle(conn, hub.secrets.catalog_key, event)
        catalog = decode_bundle(snapshot).catalog
        assert len(catalog.keys) == 2
        ring = KeyRing([TrustedKey(k.kid, unb64(k.public_key), event, 0, 0, "event") for k in catalog.keys])
        kids = {a.name: verify(a.badge_code, ring, event).kid for a in catalog.attendees}
        assert kids["Newcomer"] == new_kid
        assert kids["Ada Lovelace"] != new_kid  # printed before the rotation, still admitted


async def test_a_delta_from_the_future_is_refused(hub_db: str, tmp_path: Path) -> None:
    async with hub_services(hub_db, tmp_path / "s") as hub:
        acme = await organization(hub, "acme")
        event = await _event(hub, acme)
        async with hub.db.tenant(acme.org_id) as conn:
            with pytest.raises(Conflict, match="full snapshot"):
                await build_bundle(conn, hub.secrets.catalog_key, event, since=10_000)


async def test_a_vip_list_and_its_gate_reach_the_appliance_and_bad_ones_are_refused(
    hub_db: str, tmp_path: Path
) -> None:
    async with hub_services(hub_db, tmp_path / "s") as hub:
        acme = await organization(hub, "acme")
        event = await _event(hub, acme)
        async with hub.db.tenant(acme.org_id) as conn:
            await add_ticket_type(conn, acme, event, "vip", "VIP")
            with pytest.raises(Invalid, match="unknown ticket types \\['gold'\\]"):
                await put_list(conn, acme, event, "lounge", "VIP lounge", ["vip", "gold"])
            await put_list(conn, acme, event, "lounge", "VIP lounge", ["vip"], room_id="lounge", capacity=40)
            with pytest.raises(Invalid, match="no check-in list 'backstage'"):
                await put_gate(conn, acme, event, "lounge-door", "Lounge door", "backstage")
            await put_gate(conn, acme, event, "lounge-door", "Lounge door", "lounge")
            snapshot, _ = await build_bundle(conn, hub.secrets.catalog_key, event)
        catalog = decode_bundle(snapshot).catalog
        assert {(c.id, tuple(c.ticket_types or ())) for c in catalog.lists} == {
            ("main", ()),
            ("lounge", ("vip",)),
        }
        # a list tied to a room reaches the boxes with it: they count who is inside each session
        assert {(c.id, c.room_id, c.capacity) for c in catalog.lists} == {
            ("main", None, None),
            ("lounge", "lounge", 40),
        }
        assert {(g.id, g.default_list) for g in catalog.gates} == {
            ("main", "main"),
            ("lounge-door", "lounge"),
        }
        data, store = await _appliance(tmp_path, hub, event)
        try:
            await import_bundle(data, store.writer, snapshot, event)
            reader = data.reader()
            try:
                gates = dict(
                    reader.execute("SELECT id, default_list FROM catalog_gate WHERE event_id = ?", (event,))
                )
            finally:
                reader.close()
            assert gates == {"main": "main", "lounge-door": "lounge"}
        finally:
            await store.close()
        viewer = Principal(acme.account_id, acme.org_id, "acme", OrgRole.VIEWER)
        with pytest.raises(Forbidden):
            async with hub.db.tenant(acme.org_id) as conn:
                await put_list(conn, viewer, event, "x", "X")
