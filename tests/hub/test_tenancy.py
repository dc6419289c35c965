"""Tenant isolation is PostgreSQL's job (row-level security), not each query's."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from hub.catalog.events import create_event, get_event, list_events
from hub.catalog.roster import import_attendees
from hub.tenants.tiers import TierLimit
from konferenco.errors import NotFound
from tests.hub.services import hub_services, organization

CSV = (
    b"external_ref,name,company,ticket_type\n"
    b"A-1,Ada Lovelace,Analytical,general\nA-2,Grace Hopper,Navy,general\n"
)


async def test_an_unfiltered_query_sees_only_its_own_tenant(hub_db: str, tmp_path: Path) -> None:
    async with hub_services(hub_db, tmp_path / "secrets") as hub:
        acme = await organization(hub, "acme")
        globex = await organization(hub, "globex")
        for who in (acme, globex):
            async with hub.db.tenant(who.org_id) as conn:
                event = await create_event(conn, hub.sealer, who, f"{who.org_slug} summit")
                await import_attendees(conn, hub.sealer, who, event, CSV)
        async with hub.db.tenant(acme.org_id) as conn:
            # Deliberately no WHERE clause: RLS must still keep Globex out.
            names = {r.name for r in await conn.execute(text("SELECT e.name FROM event e"))}
            orgs = {str(r.org_id) for r in await conn.execute(text("SELECT org_id FROM attendee"))}
            keys = (await conn.execute(text("SELECT count(*) FROM event_key"))).scalar_one()
        assert names == {"acme summit"}
        assert orgs == {acme.org_id}
        assert keys == 1
        async with hub.db.system() as conn:  # the rows are there: it is the policy that hides them
            assert (await conn.execute(text("SELECT count(*) FROM attendee"))).scalar_one() == 4


async def test_a_tenant_cannot_write_rows_for_another_tenant(hub_db: str, tmp_path: Path) -> None:
    async with hub_services(hub_db, tmp_path / "secrets") as hub:
        acme = await organization(hub, "acme")
        globex = await organization(hub, "globex")
        with pytest.raises(Exception, match="row-level security"):
            async with hub.db.tenant(acme.org_id) as conn:
                await conn.execute(
                    text("INSERT INTO event (id, org_id, name) VALUES ('ev-x', :o, 'forged')"),
                    {"o": globex.org_id},
                )


async def test_another_tenants_event_is_not_found_by_id(hub_db: str, tmp_path: Path) -> None:
    async with hub_services(hub_db, tmp_path / "secrets") as hub:
        acme = await organization(hub, "acme")
        globex = await organization(hub, "globex")
        async with hub.db.tenant(globex.org_id) as conn:
            event = await create_event(conn, hub.sealer, globex, "Globex private")
        async with hub.db.tenant(acme.org_id) as conn:
            with pytest.raises(NotFound):
                await get_event(conn, event)
            assert await list_events(conn) == []


async def test_a_transaction_without_a_tenant_sees_nothing(hub_db: str, tmp_path: Path) -> None:
    async with hub_services(hub_db, tmp_path / "secrets") as hub:
        acme = await organization(hub, "acme")
        async with hub.db.tenant(acme.org_id) as conn:
            await create_event(conn, hub.sealer, acme, "Acme days")
        async with hub.db.engine.begin() as conn:
            await conn.execute(text("SET LOCAL ROLE konferenco_tenant"))  # role, but no organization set
            assert (await conn.execute(text("SELECT count(*) FROM event"))).scalar_one() == 0


async def test_the_free_tier_stops_at_three_events_with_a_clear_error(hub_db: str, tmp_path: Path) -> None:
    async with hub_services(hub_db, tmp_path / "secrets") as hub:
        small = await organization(hub, "small", tier="free")
        async with hub.db.tenant(small.org_id) as conn:
            for n in range(3):
                await create_event(conn, hub.sealer, small, f"Meetup {n}")
        with pytest.raises(TierLimit, match="free plan allows 3 events"):
            async with hub.db.tenant(small.org_id) as conn:
                await create_event(conn, hub.sealer, small, "One too many")
        async with hub.db.tenant(small.org_id) as conn:
            assert len(await list_events(conn)) == 3
