"""What the appliance shows on room signs: today's schedule, now and next, and how full the room is.

Reads the event's control document (rooms and sessions, the schedule every
replica shares) and the check-in projection (who is inside each room's
list), and hands both to the signage publisher (``drivers.signage``), which
keeps them retained on the broker.  Runs every :data:`EVERY_S` seconds (a
:class:`~konferenco.lifecycle.Periodic` task: a failing update, say a bad
session in the schedule, is logged once and retried with backoff up to
:data:`SLOWEST_S`, never stops the signs for good); a publisher that is
offline keeps only the newest state per topic, so a sign never replays an
hour of stale capacities when the broker comes back.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from konferenco.lifecycle import Periodic, Supervised
from konferenco.types import now_ms
from sync.documents import ControlDoc
from sync.names import DocName
from sync.records import Session
from sync.replica import Replica

EVERY_S = 5.0
#: The longest wait between retries while updates keep failing.
SLOWEST_S = 60.0
log = logging.getLogger(__name__)

_INSIDE = """
SELECT l.room_id, count(DISTINCT p.attendee_id), max(l.capacity)
FROM checkin_presence p JOIN catalog_list l ON l.event_id = p.event_id AND l.id = p.list_id
WHERE p.event_id = ? AND p.inside = 1 AND l.room_id IS NOT NULL
GROUP BY l.room_id
"""


class SignageFeed:
    def __init__(self, publisher: Any, replica: Replica, conn: sqlite3.Connection, event_id: str) -> None:
        self.publisher = publisher
        self.replica = replica
        self.conn = conn
        self.event_id = event_id
        self._shown: dict[tuple[str, str], object] = {}  # (room, what) -> what the signs show now
        self.task = Periodic(
            f"signage feed {event_id}", self.publish_once, EVERY_S, backoff=(EVERY_S, SLOWEST_S), logger=log
        )

    @property
    def tasks(self) -> list[Supervised]:
        return [self.task]

    def start(self) -> None:
        self.task.start()

    async def stop(self) -> None:
        await self.task.stop()

    async def publish_once(self) -> None:
        from drivers.signage.payloads import Session as SignSession

        rooms, all_sessions = await self.replica.read(
            DocName.control(self.event_id), lambda doc: (ControlDoc(doc).rooms(), ControlDoc(doc).sessions())
        )
        by_room: dict[str, list[Session]] = {room: [] for room in rooms}
        for session in all_sessions.values():
            by_room.setdefault(session.room_id, []).append(session)
        now = now_ms()
        for room_id, sessions in by_room.items():
            sessions.sort(key=lambda s: (s.starts_at, s.id))
            shown = [
                SignSession(
                    id=s.id, title=s.title, starts_at=s.starts_at, ends_at=s.ends_at, speakers=s.speakers
                )
                for s in sessions
            ]
            room = rooms.get(room_id)
            name = room.name if room else room_id
            if self._changed(room_id, "schedule", (name, shown)):
                await self.publisher.publish_room_schedule(room_id, shown, name=name)
            current = next((s for s in shown if s.starts_at <= now < s.ends_at), None)
            upcoming = next((s for s in shown if s.starts_at > now), None)
            if self._changed(room_id, "now", current):
                await self.publisher.publish_room_now(room_id, current)
            if self._changed(room_id, "next", upcoming):
                await self.publisher.publish_room_next(room_id, upcoming)
        for room_id, inside, list_capacity in self.conn.execute(_INSIDE, (self.event_id,)).fetchall():
            room = rooms.get(room_id)
            capacity = (room.capacity if room and room.capacity else None) or list_capacity or 0
            if self._changed(room_id, "capacity", (int(inside), int(capacity))):
                await self.publisher.publish_room_capacity(room_id, int(inside), int(capacity))

    def _changed(self, room: str, what: str, value: object) -> bool:
        """Publish a topic only when what it shows changes (signs redraw on every message)."""
        key = (room, what)
        if key in self._shown and self._shown[key] == value:
            return False
        self._shown[key] = value
        return True
