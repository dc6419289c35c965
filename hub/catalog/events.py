"""Events and their ticket types, check-in lists and gates.

A new event gets what an appliance needs to admit anyone at once: one
ticket type, one check-in list for every ticket type, one gate, and a
badge key.  Every change that an appliance must learn bumps the event's
``catalog_revision`` so the next delta bundle carries it.
"""

from __future__ import annotations

import secrets
import zoneinfo
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.catalog.keys import KeySealer, create_key
from hub.errors import Invalid, NotFound
from hub.tenants.accounts import OrgRole, Principal
from hub.tenants.tiers import check_events
from sync.names import check_id


@dataclass(frozen=True, slots=True)
class EventRow:
    id: str
    org_id: str
    name: str
    timezone: str
    starts_at: int
    ends_at: int
    parent_id: str | None
    catalog_revision: int


async def tier_of(conn: AsyncConnection, org_id: str) -> str:
    row = (await conn.execute(text("SELECT tier FROM organization WHERE id = :o"), {"o": org_id})).one()
    return str(row.tier)


async def create_event(
    conn: AsyncConnection,
    sealer: KeySealer,
    principal: Principal,
    name: str,
    *,
    timezone: str = "UTC",
    starts_at: int = 0,
    ends_at: int = 0,
    parent_id: str | None = None,
    event_id: str | None = None,
) -> str:
    """Create an event ready for check-in; ``conn`` must be the principal's tenant transaction."""
    principal.require(OrgRole.ORGANIZER)
    name = name.strip()
    if not name or len(name) > 200:
        raise Invalid("an event needs a name of 1-200 characters", field="name")
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"unknown time zone {timezone!r} (use an IANA name such as Europe/Berlin)") from None
    try:
        event_id = check_id(event_id or f"ev-{secrets.token_hex(5)}")
    except ValueError as exc:
        raise Invalid(str(exc), field="id") from None
    count = (await conn.execute(text("SELECT count(*) FROM event"))).scalar_one()
    check_events(await tier_of(conn, principal.org_id), int(count))
    if parent_id is not None:
        await get_event(conn, parent_id)  # RLS: a parent in another organization is "not found"
    await conn.execute(
        text(
            "INSERT INTO event (id, org_id, parent_id, name, timezone, starts_at, ends_at)"
            " VALUES (:id, :org, :parent, :name, :tz, :s, :e)"
        ),
        {
            "id": event_id,
            "org": principal.org_id,
            "parent": parent_id,
            "name": name,
            "tz": timezone,
            "s": starts_at,
            "e": ends_at,
        },
    )
    params = {"e": event_id, "o": principal.org_id}
    await conn.execute(
        text("INSERT INTO ticket_type (event_id, id, org_id, name) VALUES (:e, 'general', :o, 'General')"),
        params,
    )
    await conn.execute(
        text(
            "INSERT INTO checkin_list (event_id, id, org_id, name) VALUES (:e, 'main', :o, 'Main entrance')"
        ),
        params,
    )
    await conn.execute(
        text(
            "INSERT INTO gate (event_id, id, org_id, name, default_list)"
            " VALUES (:e, 'main', :o, 'Main entrance', 'main')"
        ),
        params,
    )
    await create_key(conn, sealer, principal.org_id, event_id)
    return event_id


async def get_event(conn: AsyncConnection, event_id: str) -> EventRow:
    row = (
        await conn.execute(
            text(
                "SELECT id, org_id, name, timezone, starts_at, ends_at, parent_id, catalog_revision"
                " FROM event WHERE id = :e"
            ),
            {"e": event_id},
        )
    ).first()
    if row is None:
        raise NotFound(f"no event {event_id!r} in this organization")
    return EventRow(
        row.id,
        str(row.org_id),
        row.name,
        row.timezone,
        row.starts_at,
        row.ends_at,
        row.parent_id,
        row.catalog_revision,
    )


async def list_events(conn: AsyncConnection) -> list[EventRow]:
    rows = await conn.execute(
        text(
            "SELECT id, org_id, name, timezone, starts_at, ends_at, parent_id, catalog_revision"
            " FROM event ORDER BY starts_at DESC, created_at DESC"
        )
    )
    return [
        EventRow(
            r.id, str(r.org_id), r.name, r.timezone, r.starts_at, r.ends_at, r.parent_id, r.catalog_revision
        )
        for r in rows
    ]


async def ticket_types(conn: AsyncConnection, event_id: str) -> dict[str, str]:
    rows = await conn.execute(
        text("SELECT id, name FROM ticket_type WHERE event_id = :e ORDER BY id"), {"e": event_id}
    )
    return {r.id: r.name for r in rows}


async def add_ticket_type(
    conn: AsyncConnection, principal: Principal, event_id: str, type_id: str, name: str
) -> None:
    principal.require(OrgRole.ORGANIZER)
    await get_event(conn, event_id)
    try:
        check_id(type_id)
    except ValueError as exc:
        raise Invalid(str(exc), field="id") from None
    if not name.strip():
        raise Invalid("a ticket type needs a name", field="name")
    await conn.execute(
        text(
            "INSERT INTO ticket_type (event_id, id, org_id, name) VALUES (:e, :id, :o, :n)"
            " ON CONFLICT (event_id, id) DO UPDATE SET name = excluded.name"
        ),
        {"e": event_id, "id": type_id, "o": principal.org_id, "n": name.strip()},
    )
    await conn.execute(
        text("UPDATE event SET catalog_revision = catalog_revision + 1 WHERE id = :e"), {"e": event_id}
    )
