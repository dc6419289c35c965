"""How full each room is now, next to the session on in it: for the API, the signs and the hosts.

"Inside" comes from the check-in projection: the people a check-in list tied
to the room (``catalog_list.room_id``) has inside now.  A room without such a
list has no count (``inside`` is null): nobody scans at its door, and a zero
would claim it is empty.  The capacity is the room's, else the largest of its
lists'.  The fill states are the signs' (:func:`drivers.signage.payloads.capacity_state`),
so the API and the door sign never disagree about "nearly full".
"""

from __future__ import annotations

import sqlite3

import msgspec

from drivers.signage.payloads import CapacityState, capacity_state
from konferenco.schedule.model import Session
from konferenco.schedule.rules import ScheduleIndex

#: People inside per room, over the lists tied to a room (the same query the signs use).
INSIDE = """
SELECT l.room_id, count(DISTINCT p.attendee_id), max(l.capacity)
FROM checkin_presence p JOIN catalog_list l ON l.event_id = p.event_id AND l.id = p.list_id
WHERE p.event_id = ? AND p.inside = 1 AND l.room_id IS NOT NULL
GROUP BY l.room_id
"""
#: Rooms with a list at their door, whether or not anybody is inside.
_COUNTED = (
    "SELECT room_id, max(capacity) FROM catalog_list WHERE event_id = ? AND room_id IS NOT NULL GROUP BY 1"
)


class SessionNow(msgspec.Struct, kw_only=True, frozen=True):
    id: str
    title: str
    starts_at: int
    ends_at: int
    attendance: int | None = None  # expected
    grassroots: bool = False
    host_name: str = ""


class RoomOccupancy(msgspec.Struct, kw_only=True, frozen=True):
    """One room now: the session on (null between sessions), how many are inside, how full it is."""

    room_id: str
    room: str
    session: SessionNow | None
    inside: int | None  # null: no check-in list is tied to this room
    capacity: int | None
    fill: float | None  # inside / capacity, when both are known
    state: CapacityState | None


def session_on(index: ScheduleIndex, room_id: str, now: int) -> Session | None:
    """The placed session in the room at ``now`` (the earliest-starting one if two overlap)."""
    on = index.in_room(room_id, now, now + 1)
    return min(on, key=lambda s: (s.starts_at, s.id)) if on else None


def inside_by_room(conn: sqlite3.Connection, event_id: str) -> dict[str, tuple[int, int | None]]:
    """Room id -> (people inside now, the largest capacity of its lists), for rooms with a list."""
    counted = {
        room: (0, int(capacity) if capacity is not None else None)
        for room, capacity in conn.execute(_COUNTED, (event_id,)).fetchall()
    }
    for room, inside, capacity in conn.execute(INSIDE, (event_id,)).fetchall():
        counted[room] = (int(inside), int(capacity) if capacity is not None else None)
    return counted


def occupancy(index: ScheduleIndex, conn: sqlite3.Connection, event_id: str, now: int) -> list[RoomOccupancy]:
    """Every room (by position, then name) and every room a list names that the schedule lacks."""
    inside = inside_by_room(conn, event_id)
    rooms = sorted(index.rooms.values(), key=lambda r: (r.position, r.name, r.id))
    found = []
    for room_id, name, room_capacity in [(r.id, r.name, r.capacity) for r in rooms] + [
        (rid, rid, None) for rid in sorted(set(inside) - set(index.rooms))
    ]:
        count, list_capacity = inside.get(room_id, (None, None))
        capacity = room_capacity if room_capacity is not None else list_capacity
        current = session_on(index, room_id, now)
        fill = state = None
        if count is not None and capacity is not None:
            fill = round(count / capacity, 3) if capacity else 1.0
            state = capacity_state(count, capacity)
        found.append(
            RoomOccupancy(
                room_id=room_id,
                room=name,
                session=None
                if current is None
                else SessionNow(
                    id=current.id,
                    title=current.title,
                    starts_at=current.starts_at,
                    ends_at=current.ends_at,
                    attendance=current.attendance,
                    grassroots=current.grassroots,
                    host_name=current.host_name,
                ),
                inside=count,
                capacity=capacity,
                fill=fill,
                state=state,
            )
        )
    return found
