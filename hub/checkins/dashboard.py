"""The organizer's live figures and the duplicates list, over the hub's projections.

Everything is derived from the union of the device logs the hub has merged
(``checkin_scan``, ``checkin_annulment``: see ``hub.peer.projection``), with
the same duplicate rule as an appliance (``find_duplicates``), so the hub
and every synced appliance show the same numbers.  Runs in a tenant
transaction: RLS keeps another organization's scans out even if a query
here forgot its filter.
"""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from konferenco.duplicates import find_duplicates
from konferenco.types import now_ms

#: Why a scan was refused, in an organizer's words, by the scan's ``result`` (``sync.records.ScanResult``).
#: The appliance's sentence for each scan (``reason``) names times, gates and lists, so it is shown as
#: the latest example, not grouped on.
REFUSAL_LABELS: dict[str, str] = {
    "already_admitted": "Already checked in",
    "invalid": "Badge not valid (damaged, forged or for another event)",
    "revoked": "Ticket cancelled or badge revoked",
    "not_yet_valid": "Too early (badge or list not open yet)",
    "expired": "Too late (badge expired or list closed)",
    "wrong_list": "Ticket not admitted at this entrance",
    "unknown_badge": "Badge or tag not known",
    "room_full": "Room full",
}


class SessionNow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    title: str
    starts_at: int
    ends_at: int
    grassroots: bool = False


class RoomOccupancy(msgspec.Struct, frozen=True, kw_only=True):
    """How full a room is now, and for which session (check-in lists tied to the room count people)."""

    room_id: str
    room: str
    capacity: int | None
    inside: int
    session: SessionNow | None
    fill: float | None  # inside / capacity, when the room has a capacity
    state: str  # open | nearly_full | full | unknown (no capacity)


def refusal_label(result: str) -> str:
    """The words for a refusal; a result this hub does not know yet is still shown, readably."""
    return REFUSAL_LABELS.get(result) or result.replace("_", " ").capitalize()


_VALID = """
FROM checkin_scan s
WHERE s.event_id = :e AND s.result = 'admitted'
  AND NOT EXISTS (SELECT 1 FROM checkin_annulment a WHERE a.event_id = s.event_id AND a.scan_id = s.id)
"""

_ADMITTED_ENTRIES = (
    """
SELECT s.attendee_id, s.list_id, s.doc, s.id, s.at, s.gate, s.device_id, s.direction
"""
    + _VALID
    + """
  AND (s.attendee_id, s.list_id) IN (
      SELECT attendee_id, list_id FROM checkin_scan
      WHERE event_id = :e AND result = 'admitted' AND direction = 'entry'
      GROUP BY attendee_id, list_id HAVING count(DISTINCT device_id) > 1)
ORDER BY s.attendee_id, s.list_id, s.at, s.doc, s.id
"""
)


async def stats(conn: AsyncConnection, event_id: str) -> dict[str, Any]:
    """Admitted, inside now, scans and refusals (by reason), per gate, per minute (last hour)."""
    p = {"e": event_id}

    async def one(sql: str, **extra: Any) -> int:
        return int((await conn.execute(text(sql), {**p, **extra})).scalar_one() or 0)

    admitted = await one("SELECT count(DISTINCT s.attendee_id) " + _VALID + " AND s.direction = 'entry'")
    inside = await one(
        "SELECT count(*) FROM (SELECT DISTINCT ON (s.attendee_id) s.direction "
        + _VALID
        + " ORDER BY s.attendee_id, s.at DESC, s.doc DESC, s.id DESC) last WHERE direction = 'entry'"
    )
    scans = await one("SELECT count(*) FROM checkin_scan WHERE event_id = :e")
    refused = await one("SELECT count(*) FROM checkin_scan WHERE event_id = :e AND result <> 'admitted'")
    roster = await one("SELECT count(*) FROM attendee WHERE event_id = :e AND status = 'valid'")
    walk_ins = await one("SELECT count(*) FROM walk_in WHERE event_id = :e")
    # Named as organizers named them on the hub; a gate the appliance knows and the hub does not
    # (set up on site) keeps its id.
    gates = [
        {"gate": r.gate, "name": r.name, "admitted": int(r.n)}
        for r in await conn.execute(
            text(
                "SELECT x.gate, coalesce(g.name, x.gate) AS name, x.n FROM (SELECT s.gate, count(*) AS n "
                + _VALID
                + " AND s.direction = 'entry' GROUP BY s.gate) x"
                " LEFT JOIN gate g ON g.event_id = :e AND g.id = x.gate ORDER BY name, x.gate"
            ),
            p,
        )
    ]
    refused_by_reason = [
        {"result": r.result, "label": refusal_label(r.result), "scans": int(r.n), "example": r.example}
        for r in await conn.execute(
            text(
                "SELECT result, count(*) AS n, (array_agg(reason ORDER BY at DESC, id DESC))[1] AS example"
                " FROM checkin_scan WHERE event_id = :e AND result <> 'admitted'"
                " GROUP BY result ORDER BY n DESC, result"
            ),
            p,
        )
    ]
    since = now_ms() - 3600_000
    per_minute = [
        {"minute": int(r.minute), "scans": int(r.n)}
        for r in await conn.execute(
            text(
                "SELECT (at / 60000) * 60000 AS minute, count(*) AS n FROM checkin_scan"
                " WHERE event_id = :e AND at >= :since GROUP BY 1 ORDER BY 1"
            ),
            {**p, "since": since},
        )
    ]
    devices = [
        {"device_id": r.device_id, "scans": int(r.n), "last_at": int(r.last_at)}
        for r in await conn.execute(
            text(
                "SELECT device_id, count(*) AS n, max(at) AS last_at FROM checkin_scan WHERE event_id = :e"
                " GROUP BY device_id ORDER BY device_id"
            ),
            p,
        )
    ]
    rooms = await occupancy(conn, event_id, at=now_ms())
    return {
        "event_id": event_id,
        "occupancy": [msgspec.to_builtins(r) for r in rooms],
        "roster": roster,
        "admitted": admitted,
        "inside": inside,
        "scans": scans,
        "refused": refused,
        "refused_by_reason": refused_by_reason,
        "walk_ins": walk_ins,
        "gates": gates,
        "per_minute": per_minute,
        "devices": devices,
    }


async def duplicates(conn: AsyncConnection, event_id: str) -> list[dict[str, Any]]:
    rows = [tuple(r) for r in await conn.execute(text(_ADMITTED_ENTRIES), {"e": event_id})]
    found = find_duplicates(rows, {})
    if found:
        # Organizers know people by name and order code (the ticket shop's), not by our attendee id.
        known = {
            r.id: (r.name, r.order_ref)
            for r in await conn.execute(
                text("SELECT id, name, order_ref FROM attendee WHERE event_id = :e AND id = ANY(:ids)"),
                {"e": event_id, "ids": sorted({d["attendee_id"] for d in found})},
            )
        }
        for item in found:
            item["name"], item["order_ref"] = known.get(item["attendee_id"], ("", ""))
    return found


#: A room this full (inside / capacity) is "nearly full" on the dashboard, as on the room signs.
NEARLY_FULL = 0.9

# Who is inside each room: per attendee and list, the last admitted scan that was not annulled
# (the same rule as the event's "inside" above), on the lists tied to a room.
_INSIDE_BY_ROOM = """
SELECT l.room_id, count(DISTINCT last.attendee_id) AS inside FROM (
    SELECT DISTINCT ON (s.attendee_id, s.list_id) s.attendee_id, s.list_id, s.direction
"""
_INSIDE_BY_ROOM += (
    _VALID
    + """
    ORDER BY s.attendee_id, s.list_id, s.at DESC, s.doc DESC, s.id DESC
) last
JOIN checkin_list l ON l.event_id = :e AND l.id = last.list_id
WHERE last.direction = 'entry' AND l.room_id IS NOT NULL
GROUP BY l.room_id
"""
)
_ROOMS = """
SELECT r.id, r.name, coalesce(r.capacity, l.capacity) AS capacity, r.position FROM schedule_room r
LEFT JOIN (SELECT room_id, max(capacity) AS capacity FROM checkin_list WHERE event_id = :e GROUP BY room_id) l
       ON l.room_id = r.id
WHERE r.event_id = :e
UNION ALL
SELECT room_id, room_id, max(capacity), 2147483647 FROM checkin_list
WHERE event_id = :e AND room_id IS NOT NULL
  AND room_id NOT IN (SELECT id FROM schedule_room WHERE event_id = :e)
GROUP BY room_id
ORDER BY 4, 2, 1
"""
_NOW = """
SELECT DISTINCT ON (room_id) room_id, id, title, starts_at, ends_at, grassroots FROM schedule_session
WHERE event_id = :e AND status = 'scheduled' AND starts_at <= :now AND ends_at > :now
ORDER BY room_id, starts_at DESC, id
"""


async def occupancy(conn: AsyncConnection, event_id: str, *, at: int) -> list[RoomOccupancy]:
    """Per room of the schedule: the session on at ``at``, how many are inside, capacity and state.

    Inside counts come from the check-in lists tied to the room
    (``checkin_list.room_id``); a room with no such list shows 0 inside.
    """
    p = {"e": event_id}
    inside = {r.room_id: int(r.inside) for r in await conn.execute(text(_INSIDE_BY_ROOM), p)}
    now = {
        r.room_id: SessionNow(
            id=r.id,
            title=r.title,
            starts_at=int(r.starts_at),
            ends_at=int(r.ends_at),
            grassroots=r.grassroots,
        )
        for r in await conn.execute(text(_NOW), {**p, "now": at})
    }
    out = []
    for room in await conn.execute(text(_ROOMS), p):
        count = inside.get(room.id, 0)
        capacity = int(room.capacity) if room.capacity else None
        fill = round(count / capacity, 3) if capacity else None
        if fill is None:
            state = "unknown"
        elif fill >= 1:
            state = "full"
        elif fill >= NEARLY_FULL:
            state = "nearly_full"
        else:
            state = "open"
        out.append(
            RoomOccupancy(
                room_id=room.id,
                room=room.name,
                capacity=capacity,
                inside=count,
                session=now.get(room.id),
                fill=fill,
                state=state,
            )
        )
    return out
