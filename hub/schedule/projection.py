"""Projecting the schedule's records into the hub's tables, and grassroots sessions into child events.

Called by :class:`hub.peer.projection.HubProjection` in the store's
transaction, with the changes a local write or a peer's update made:

* ``Proposal`` and ``HostEdit`` records of device logs, and ``Decision``
  records of the control log: one row per record, ``ON CONFLICT DO
  NOTHING`` (projecting a record twice is harmless);
* the control document's ``rooms`` and ``sessions`` maps: upserted or
  deleted by key (``schedule_room``, ``schedule_session``);
* then, for every event whose rooms or sessions changed, its **child
  events** are derived again from ``schedule_session`` (grassroots
  sessions) and ``schedule_room`` with one statement each: created or
  updated, and marked ``removed`` when their session left the schedule.

Child event ids are derived from the parent and the session id, so every
worker and every rebuild (``Replica.rebuild_projections``) arrives at the
same rows whatever the order the changes came in; an update never touches
a row that is not a grassroots child of the same parent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sync.documents import Appended, Assigned, Change
from sync.names import DocName
from sync.records import Decision, HostEdit, Proposal, Room, Session

log = logging.getLogger(__name__)

#: The projection tables of migration 0007 (emptied by a rebuild; child events are not: see reset).
TABLES = ("proposal", "host_edit", "schedule_decision", "schedule_room", "schedule_session")

_PROPOSAL = """
INSERT INTO proposal (event_id, org_id, device_id, id, proposal_id, title, description, host, proposer, ref,
                      duration_min, attendance, wished_rooms, wished_from, wished_to, type, language,
                      staff, at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
ON CONFLICT DO NOTHING
"""
_HOST_EDIT = """
INSERT INTO host_edit (event_id, org_id, device_id, id, session_id, attendee_id, title, description, at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT DO NOTHING
"""
_DECISION = """
INSERT INTO schedule_decision (event_id, org_id, id, proposal_id, decision, room_id, starts_at, ends_at, by,
                               session_id, reason, overlap_reason, at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT DO NOTHING
"""
_ROOMS = """
INSERT INTO schedule_room (event_id, org_id, id, name, capacity, grassroots, position)
SELECT $1, $2, t.* FROM unnest($3::text[], $4::text[], $5::int[], $6::bool[], $7::int[]) AS t
ON CONFLICT (event_id, id) DO UPDATE SET name = excluded.name, capacity = excluded.capacity,
    grassroots = excluded.grassroots, position = excluded.position
"""
_SESSIONS = """
INSERT INTO schedule_session (event_id, org_id, id, room_id, title, starts_at, ends_at, status, grassroots,
                              type, host, host_name, proposal_id, decision_id, attendance)
SELECT $1, $2, t.* FROM unnest($3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::text[],
                               $9::bool[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[],
                               $15::int[]) AS t
ON CONFLICT (event_id, id) DO UPDATE SET room_id = excluded.room_id, title = excluded.title,
    starts_at = excluded.starts_at, ends_at = excluded.ends_at, status = excluded.status,
    grassroots = excluded.grassroots, type = excluded.type, host = excluded.host,
    host_name = excluded.host_name, proposal_id = excluded.proposal_id, decision_id = excluded.decision_id,
    attendance = excluded.attendance
"""

#: A grassroots session of the parent ``$1`` as a child event.  The id: ``gr.`` and 96 bits of a
#: hash of (parent, session), in the catalog's id alphabet, the same on every worker and rebuild.
_CHILDREN = """
INSERT INTO event (id, org_id, parent_id, name, timezone, starts_at, ends_at, kind, session_id,
                   session_status, room_id, room_name, capacity, host_id, host_name)
SELECT 'gr.' || substr(md5(p.id || '/' || s.id), 1, 24), p.org_id, p.id,
       coalesce(nullif(left(btrim(s.title), 200), ''), 'Grassroots session'), p.timezone,
       s.starts_at, s.ends_at, 'grassroots', s.id, s.status, s.room_id, coalesce(r.name, s.room_id),
       r.capacity, s.host, s.host_name
FROM schedule_session s
JOIN event p ON p.id = s.event_id
LEFT JOIN schedule_room r ON r.event_id = s.event_id AND r.id = s.room_id
WHERE s.event_id = $1 AND s.grassroots
ON CONFLICT (id) DO UPDATE SET name = excluded.name, timezone = excluded.timezone,
    starts_at = excluded.starts_at, ends_at = excluded.ends_at, session_status = excluded.session_status,
    room_id = excluded.room_id, room_name = excluded.room_name, capacity = excluded.capacity,
    host_id = excluded.host_id, host_name = excluded.host_name
WHERE event.kind = 'grassroots' AND event.parent_id = excluded.parent_id
  AND event.session_id = excluded.session_id
  AND (event.name, event.timezone, event.starts_at, event.ends_at, event.session_status, event.room_id,
       event.room_name, event.capacity, event.host_id, event.host_name)
      IS DISTINCT FROM (excluded.name, excluded.timezone, excluded.starts_at, excluded.ends_at,
       excluded.session_status, excluded.room_id, excluded.room_name, excluded.capacity, excluded.host_id,
       excluded.host_name)
"""
_REMOVED = """
UPDATE event SET session_status = 'removed'
WHERE parent_id = $1 AND kind = 'grassroots' AND session_status IS DISTINCT FROM 'removed'
  AND session_id NOT IN (SELECT id FROM schedule_session WHERE event_id = $1 AND grassroots)
"""


class ScheduleProjection:
    """Stateless; :class:`hub.peer.projection.HubProjection` holds one and calls it on every batch."""

    async def project(self, conn: Any, changes: Sequence[Change]) -> None:
        records: dict[DocName, list[Any]] = {}
        entries: dict[str, dict[tuple[str, str], Any]] = {}  # event -> (root, key) -> last value
        for change in changes:
            if isinstance(change, Appended) and isinstance(change.record, Proposal | HostEdit | Decision):
                records.setdefault(change.doc, []).append(change.record)
            elif (
                isinstance(change, Assigned)
                and change.doc.kind == "control"
                and change.root in ("rooms", "sessions")
            ):
                entries.setdefault(change.doc.event_id, {})[(change.root, change.key)] = change.value
        events = sorted({d.event_id for d in records} | set(entries))
        if not events:
            return
        orgs = {
            r["id"]: r["org_id"]
            for r in await conn.fetch("SELECT id, org_id FROM event WHERE id = ANY($1::text[])", events)
        }
        for missing in sorted(set(events) - orgs.keys()):
            log.warning("event %r is not in the catalog; its schedule records are not projected", missing)
        for doc, found in records.items():
            org = orgs.get(doc.event_id)
            if org is not None:
                await _records(conn, doc, org, found)
        for event_id, values in entries.items():
            org = orgs.get(event_id)
            if org is not None:
                await _maps(conn, event_id, org, values)
                await conn.execute(_CHILDREN, event_id)
                await conn.execute(_REMOVED, event_id)

    async def reset(self, conn: Any) -> None:
        """Empty the projection tables; child events stay and are derived again as documents replay."""
        for table in TABLES:
            await conn.execute(f"DELETE FROM {table}")


async def _records(conn: Any, doc: DocName, org: Any, found: list[Any]) -> None:
    device = doc.device_id
    proposals = [
        (
            doc.event_id,
            org,
            device,
            p.id,
            p.proposal_id,
            p.title,
            p.description,
            p.host,
            p.proposer,
            p.ref,
            p.duration_min,
            p.attendance,
            list(p.wished_rooms),
            p.wished_from,
            p.wished_to,
            p.type,
            p.language,
            p.staff,
            p.at,
        )
        for p in found
        if isinstance(p, Proposal)
    ]
    edits = [
        (doc.event_id, org, device, e.id, e.session_id, e.attendee_id, e.title, e.description, e.at)
        for e in found
        if isinstance(e, HostEdit)
    ]
    decisions = [
        (
            doc.event_id,
            org,
            d.id,
            d.proposal_id,
            d.decision,
            d.room_id,
            d.starts_at,
            d.ends_at,
            d.by,
            d.session_id,
            d.reason,
            d.overlap_reason,
            d.at,
        )
        for d in found
        if isinstance(d, Decision) and doc.kind == "control"
    ]
    for sql, rows in ((_PROPOSAL, proposals), (_HOST_EDIT, edits), (_DECISION, decisions)):
        if rows:
            await conn.executemany(sql, rows)


async def _maps(conn: Any, event_id: str, org: Any, values: dict[tuple[str, str], Any]) -> None:
    rooms = [v for (root, _), v in values.items() if root == "rooms" and isinstance(v, Room)]
    sessions = [v for (root, _), v in values.items() if root == "sessions" and isinstance(v, Session)]
    gone_rooms = [key for (root, key), v in values.items() if root == "rooms" and v is None]
    gone_sessions = [key for (root, key), v in values.items() if root == "sessions" and v is None]
    if gone_rooms:
        await conn.execute(
            "DELETE FROM schedule_room WHERE event_id = $1 AND id = ANY($2::text[])", event_id, gone_rooms
        )
    if gone_sessions:
        await conn.execute(
            "DELETE FROM schedule_session WHERE event_id = $1 AND id = ANY($2::text[])",
            event_id,
            gone_sessions,
        )
    if rooms:
        await conn.execute(
            _ROOMS,
            event_id,
            org,
            [r.id for r in rooms],
            [r.name for r in rooms],
            [r.capacity for r in rooms],
            [r.grassroots for r in rooms],
            [r.position for r in rooms],
        )
    if sessions:
        await conn.execute(
            _SESSIONS,
            event_id,
            org,
            [s.id for s in sessions],
            [s.room_id for s in sessions],
            [s.title for s in sessions],
            [s.starts_at for s in sessions],
            [s.ends_at for s in sessions],
            [s.status for s in sessions],
            [s.grassroots for s in sessions],
            [s.type for s in sessions],
            [s.host for s in sessions],
            [s.host_name for s in sessions],
            [s.proposal_id for s in sessions],
            [s.decision_id for s in sessions],
            [s.attendance for s in sessions],
        )
