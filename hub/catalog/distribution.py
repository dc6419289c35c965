"""Catalog bundles for appliances: a signed snapshot, or a delta since a revision.

The format is ``konferenco.catalog.bundle`` (its one owner); the hub fills
it from PostgreSQL and signs it with the hub's catalog key, whose public
half every appliance receives at enrolment.  A delta carries the attendees
whose ``revision`` is above the appliance's, plus the event's keys, lists
and gates in full (they are few).  Walk-ins are not in bundles: they were
registered at the venue and every appliance already has them from the
device logs.
"""

from __future__ import annotations

import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.catalog.events import get_event, ticket_types
from hub.catalog.keys import public_keys
from hub.db.session import raw
from konferenco.catalog.bundle import Attendee, Catalog, EventInfo, Gate, TicketType, sign_catalog
from konferenco.errors import Conflict
from konferenco.rules import CheckinList

_ATTENDEES = """
SELECT id, name, ticket_type_id, company, email, order_ref, coalesce(external_ref, '') AS external_ref,
       badge_code, nfc_uid, valid_from, valid_until, status
FROM attendee WHERE event_id = $1 AND revision > $2 AND source <> 'walk_in'
ORDER BY id
"""


async def build_bundle(
    conn: AsyncConnection, catalog_key: Ed25519PrivateKey, event_id: str, since: int | None = None
) -> tuple[bytes, int]:
    """The signed bundle bytes and its revision; ``since`` asks for a delta."""
    event = await get_event(conn, event_id)
    if since is not None and since > event.catalog_revision:
        raise Conflict(
            f"revision {since} is newer than the hub's ({event.catalog_revision}): fetch a full snapshot",
            revision=event.catalog_revision,
        )
    types = await ticket_types(conn, event_id)
    lists = [
        CheckinList(
            id=r.id,
            name=r.name,
            ticket_types=list(r.ticket_types) if r.ticket_types else None,
            room_id=r.room_id,  # a list tied to a room: the boxes count who is inside each session
            capacity=r.capacity,
        )
        for r in await conn.execute(
            text(
                "SELECT id, name, ticket_types, room_id, capacity FROM checkin_list"
                " WHERE event_id = :e ORDER BY id"
            ),
            {"e": event_id},
        )
    ]
    gates = [
        Gate(id=r.id, name=r.name, default_list=r.default_list)
        for r in await conn.execute(
            text("SELECT id, name, default_list FROM gate WHERE event_id = :e ORDER BY id"), {"e": event_id}
        )
    ]
    driver = await raw(conn)
    records = await driver.fetch(_ATTENDEES, event_id, since or 0)
    attendees = [Attendee(**dict(r)) for r in records]
    del records
    catalog = Catalog(
        event=EventInfo(
            id=event.id,
            name=event.name,
            timezone=event.timezone,
            starts_at=event.starts_at,
            ends_at=event.ends_at,
        ),
        revision=event.catalog_revision,
        base_revision=since,
        issued_at=int(time.time() * 1000),
        ticket_types=[TicketType(tid, name) for tid, name in types.items()],
        lists=lists,
        gates=gates,
        keys=await public_keys(conn, event_id),
        attendees=attendees,
    )
    return sign_catalog(catalog, catalog_key), event.catalog_revision
