"""The SQL behind the schedule service: proposals, host edits and child events (migration 0007).

Proposals and host edits live in device logs; the hub's projection
(:mod:`hub.schedule.projection`) keeps one row per record, so listing them
never walks documents.  Tenant transactions see their organization's rows
only (row-level security).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.catalog.events import EventRow
from hub.schedule.views import ChildEvent

__all__ = ["HostEditRow", "ProposalRow", "child_events", "event_row", "host_edits", "proposals"]


@dataclass(frozen=True, slots=True)
class HostEditRow:
    """A ``HostEdit`` record (``konferenco.schedule.grassroots.HostEditLike``)."""

    id: str
    session_id: str
    attendee_id: str
    title: str | None
    description: str | None
    at: int


@dataclass(frozen=True, slots=True)
class ProposalRow:
    proposal_id: str
    device_id: str | None
    title: str
    description: str
    host: str
    proposer: str | None
    proposer_name: str
    ref: str
    duration_min: int
    attendance: int | None
    wished_rooms: list[str]
    wished_from: int | None
    wished_to: int | None
    type: str
    language: str
    at: int


# One row per proposal id: the first record of it (a proposal is recorded once, at one device;
# should two logs ever hold the same id, every replica picks the same one).
_PROPOSALS = """
SELECT DISTINCT ON (p.proposal_id) p.proposal_id, p.device_id, p.title, p.description, p.host, p.proposer,
       coalesce(a.name, '') AS proposer_name, p.ref, p.duration_min, p.attendance, p.wished_rooms,
       p.wished_from, p.wished_to, p.type, p.language, p.at
FROM proposal p
LEFT JOIN attendee a ON a.event_id = p.event_id AND a.id = p.proposer
WHERE p.event_id = :e AND (CAST(:pid AS text) IS NULL OR p.proposal_id = :pid)
ORDER BY p.proposal_id, p.at, p.id
"""


async def proposals(
    conn: AsyncConnection, event_id: str, proposal_id: str | None = None
) -> list[ProposalRow]:
    """The event's proposals, oldest first (or the one asked for)."""
    rows = await conn.execute(text(_PROPOSALS), {"e": event_id, "pid": proposal_id})
    found = [
        ProposalRow(
            proposal_id=r.proposal_id,
            device_id=r.device_id,
            title=r.title,
            description=r.description,
            host=r.host,
            proposer=r.proposer,
            proposer_name=r.proposer_name,
            ref=r.ref,
            duration_min=int(r.duration_min),
            attendance=r.attendance,
            wished_rooms=list(r.wished_rooms or []),
            wished_from=r.wished_from,
            wished_to=r.wished_to,
            type=r.type,
            language=r.language,
            at=int(r.at),
        )
        for r in rows
    ]
    return sorted(found, key=lambda p: (p.at, p.proposal_id))


async def host_edits(conn: AsyncConnection, event_id: str) -> list[HostEditRow]:
    rows = await conn.execute(
        text(
            "SELECT id, session_id, attendee_id, title, description, at FROM host_edit"
            " WHERE event_id = :e ORDER BY at, id"
        ),
        {"e": event_id},
    )
    return [HostEditRow(r.id, r.session_id, r.attendee_id, r.title, r.description, int(r.at)) for r in rows]


async def event_row(conn: AsyncConnection, event_id: str) -> EventRow | None:
    """The event whoever owns it (system transactions only: anonymous exports of a published schedule)."""
    r = (
        await conn.execute(
            text(
                "SELECT id, org_id, name, timezone, starts_at, ends_at, parent_id, catalog_revision"
                " FROM event WHERE id = :e"
            ),
            {"e": event_id},
        )
    ).first()
    if r is None:
        return None
    return EventRow(
        r.id, str(r.org_id), r.name, r.timezone, r.starts_at, r.ends_at, r.parent_id, r.catalog_revision
    )


_CHILDREN = """
SELECT id, parent_id, name, timezone, starts_at, ends_at, room_id, room_name, capacity, host_id, host_name,
       session_id, session_status
FROM event
WHERE parent_id = :e AND kind = 'grassroots' AND session_status <> 'removed'
ORDER BY starts_at, id
"""


async def child_events(conn: AsyncConnection, event_id: str) -> list[ChildEvent]:
    return [
        ChildEvent(
            id=r.id,
            parent_id=r.parent_id,
            name=r.name,
            timezone=r.timezone,
            starts_at=int(r.starts_at),
            ends_at=int(r.ends_at),
            room_id=r.room_id,
            room=r.room_name,
            capacity=r.capacity,
            host_id=r.host_id,
            host_name=r.host_name,
            session_id=r.session_id,
            status=r.session_status,
        )
        for r in await conn.execute(text(_CHILDREN), {"e": event_id})
    ]
