"""What the grassroots part needs of the schedule, and of the door's figures for a host's room.

The schedule service (``appliance/schedule/service.py``) fits :class:`Schedule`;
the grassroots part depends on this shape, not on that package, so the
appliance's parts keep importing each other in one direction only (the
composition root, ``appliance/box.py``, hands the service in).
"""

from __future__ import annotations

import sqlite3
from typing import Protocol

from konferenco.schedule.model import EventFrame
from konferenco.schedule.rules import ScheduleIndex
from sync.schedule_edits import ScheduleState, SessionOverlay


class Schedule(Protocol):
    """An appliance's schedules: the control document's state, the event frame, the rule index."""

    session_overlay: SessionOverlay | None

    async def state(self, event_id: str) -> ScheduleState: ...

    async def frame(self, event_id: str) -> EventFrame: ...

    async def index(self, event_id: str) -> ScheduleIndex: ...

    def notify(self, event_id: str) -> None: ...

    def require_organizer_device(self, what: str = ...) -> None: ...


_LISTS = "SELECT count(*), max(capacity) FROM catalog_list WHERE event_id = ? AND room_id = ?"
_INSIDE = """
SELECT count(DISTINCT p.attendee_id)
FROM checkin_presence p JOIN catalog_list l ON l.event_id = p.event_id AND l.id = p.list_id
WHERE p.event_id = ? AND l.room_id = ? AND p.inside = 1
"""


def inside_room(conn: sqlite3.Connection, event_id: str, room_id: str) -> tuple[int | None, int | None]:
    """(people inside now, the largest capacity of its lists) over the check-in lists tied to a room.

    ``(None, None)`` when no list is tied to it: nobody scans at its door, and
    a zero would claim the room is empty.
    """
    lists, capacity = conn.execute(_LISTS, (event_id, room_id)).fetchone()
    if not lists:
        return None, None
    inside = conn.execute(_INSIDE, (event_id, room_id)).fetchone()[0]
    return int(inside), int(capacity) if capacity is not None else None
