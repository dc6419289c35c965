"""Events and their ticket types, check-in lists and gates.

A new event gets what an appliance needs to admit anyone at once: one
ticket type, one check-in list for every ticket type, one gate, and a
badge key.  Every change that an appliance must learn bumps the event's
``catalog_revision`` so the next delta bundle carries it.

Grassroots sessions approved in an event become its **child events**
(``kind = 'grassroots'``, migration 0007), written by the sync projection
(:mod:`hub.schedule.projection`), never by an organizer: they are listed
under their parent (``hub.schedule.queries.child_events``), not among the organization's
events, and do not count against the plan's event limit.
"""

from __future__ import annotations

import re
import secrets
import zoneinfo
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.catalog.keys import KeySealer, create_key
from hub.tenants.accounts import OrgRole, Principal
from hub.tenants.tiers import check_events
from konferenco.edge_input import INT64_MAX, INT64_MIN
from konferenco.errors import Conflict, Invalid, NotFound
from sync.names import check_id

#: A room's id in the schedule (``konferenco.schedule.model.Id``).
ROOM_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
#: The one answer when an event id is in use, whoever uses it (ids are global; see create_event).
EVENT_ID_TAKEN = (
    "the event id {event_id!r} is already in use; choose another id, or leave it out for a new one"
)


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
    kind: str = "event"  # or "grassroots": a child event the schedule projection keeps


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
    for field, value in (("starts_at", starts_at), ("ends_at", ends_at)):
        if not INT64_MIN <= value <= INT64_MAX:  # PostgreSQL bigint; the console parses its own forms
            raise Invalid(f"{field} is out of range (milliseconds since 1970 in 64 bits)", field=field)
    try:
        event_id = check_id(event_id or f"ev-{secrets.token_hex(5)}")
    except ValueError as exc:
        raise Invalid(str(exc), field="id") from None
    count = (await conn.execute(text("SELECT count(*) FROM event WHERE kind = 'event'"))).scalar_one()
    check_events(await tier_of(conn, principal.org_id), int(count))
    if parent_id is not None:
        parent = await get_event(conn, parent_id)  # RLS: a parent in another organization is "not found"
        if parent.kind != "event":
            raise Invalid(
                "a grassroots session's child event cannot be a parent; choose its parent event",
                field="parent_id",
            )
    # Event ids are global (they name sync documents and device grants), and row-level security
    # hides other organizations' events, so "taken" is learnt from the insert itself.  Taken by
    # this organization or by another, the answer is the same 409: nothing about the other tenant.
    inserted = await conn.execute(
        text(
            "INSERT INTO event (id, org_id, parent_id, name, timezone, starts_at, ends_at)"
            " VALUES (:id, :org, :parent, :name, :tz, :s, :e) ON CONFLICT (id) DO NOTHING"
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
    if inserted.rowcount == 0:
        raise Conflict(EVENT_ID_TAKEN.format(event_id=event_id), field="id")
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
                "SELECT id, org_id, name, timezone, starts_at, ends_at, parent_id, catalog_revision, kind"
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
        row.kind,
    )


async def list_events(conn: AsyncConnection) -> list[EventRow]:
    """The organization's events; grassroots child events are listed under their parent instead."""
    rows = await conn.execute(
        text(
            "SELECT id, org_id, name, timezone, starts_at, ends_at, parent_id, catalog_revision"
            " FROM event WHERE kind = 'event' ORDER BY starts_at DESC, created_at DESC"
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
    _check_id(type_id)
    if not name.strip():
        raise Invalid("a ticket type needs a name", field="name")
    await conn.execute(
        text(
            "INSERT INTO ticket_type (event_id, id, org_id, name) VALUES (:e, :id, :o, :n)"
            " ON CONFLICT (event_id, id) DO UPDATE SET name = excluded.name"
        ),
        {"e": event_id, "id": type_id, "o": principal.org_id, "n": name.strip()},
    )
    await _bump(conn, event_id)


_PUT_LIST = """
INSERT INTO checkin_list (event_id, id, org_id, name, ticket_types, room_id, capacity)
VALUES (:e, :id, :o, :n, :t, :room, :cap)
ON CONFLICT (event_id, id) DO UPDATE SET name = excluded.name, ticket_types = excluded.ticket_types,
    room_id = excluded.room_id, capacity = excluded.capacity
"""
_PUT_GATE = """
INSERT INTO gate (event_id, id, org_id, name, default_list) VALUES (:e, :id, :o, :n, :l)
ON CONFLICT (event_id, id) DO UPDATE SET name = excluded.name, default_list = excluded.default_list
"""


async def put_list(
    conn: AsyncConnection,
    principal: Principal,
    event_id: str,
    list_id: str,
    name: str,
    admits: list[str] | None = None,
    *,
    room_id: str | None = None,
    capacity: int | None = None,
) -> None:
    """Add or change a check-in list; ``admits`` (ticket type ids) None: every ticket type.

    ``room_id`` ties the list to a room of the schedule: who is inside on it
    counts towards that room's occupancy (``capacity``, when the room has none).
    """
    principal.require(OrgRole.ORGANIZER)
    await get_event(conn, event_id)
    _check_id(list_id)
    if not name.strip():
        raise Invalid("a check-in list needs a name", field="name")
    if admits is not None:
        known = await ticket_types(conn, event_id)
        unknown = sorted(set(admits) - known.keys())
        if unknown or not admits:
            raise Invalid(
                f"unknown ticket types {unknown}; known: {sorted(known)}" if unknown else "name at least one",
                field="ticket_types",
            )
    if room_id is not None and not ROOM_ID.fullmatch(room_id):
        raise Invalid(f"{room_id!r} is not a room id (1-64 letters, digits, '_.:-')", field="room_id")
    if capacity is not None and not 1 <= capacity <= 10_000_000:
        raise Invalid("a list's capacity is a number of people, at least 1", field="capacity")
    await conn.execute(
        text(_PUT_LIST),
        {
            "e": event_id,
            "id": list_id,
            "o": principal.org_id,
            "n": name.strip(),
            "t": admits,
            "room": room_id,
            "cap": capacity,
        },
    )
    await _bump(conn, event_id)


async def put_gate(
    conn: AsyncConnection, principal: Principal, event_id: str, gate_id: str, name: str, default_list: str
) -> None:
    """Add or change a gate (a door); its scans count on ``default_list`` unless a device says otherwise."""
    principal.require(OrgRole.ORGANIZER)
    await get_event(conn, event_id)
    _check_id(gate_id)
    if not name.strip():
        raise Invalid("a gate needs a name", field="name")
    exists = (
        await conn.execute(
            text("SELECT 1 FROM checkin_list WHERE event_id = :e AND id = :l"),
            {"e": event_id, "l": default_list},
        )
    ).first()
    if exists is None:
        raise Invalid(f"no check-in list {default_list!r} in this event", field="default_list")
    await conn.execute(
        text(_PUT_GATE),
        {"e": event_id, "id": gate_id, "o": principal.org_id, "n": name.strip(), "l": default_list},
    )
    await _bump(conn, event_id)


def _check_id(value: str) -> None:
    try:
        check_id(value)
    except ValueError as exc:
        raise Invalid(str(exc), field="id") from None


async def _bump(conn: AsyncConnection, event_id: str) -> None:
    """Appliances learn every catalog change through the next delta: move the revision."""
    await conn.execute(
        text("UPDATE event SET catalog_revision = catalog_revision + 1 WHERE id = :e"), {"e": event_id}
    )
