"""What the appliance shows on room signs: today's schedule, now and next, and how full the room is.

Reads the event's control document (rooms and sessions, the schedule every
replica shares) and the check-in projection (who is inside each room's
list), and hands both to the signage publisher (``drivers.signage``), which
keeps them retained on the broker.  Runs every :data:`EVERY_S` seconds; a
publisher that is offline keeps only the newest state per topic, so a sign
never replays an hour of stale capacities when the broker comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from typing import Any

from konferenco.types import now_ms
from sync.documents import ControlDoc
from sync.names import DocName
from sync.records import Session
from sync.replica import Replica

EVERY_S = 5.0
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
        self._task: asyncio.Task[None] | None = None
        self._shown: dict[tuple[str, str], object] = {}  # (room, what) -> what the signs show now

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.publish_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bad session in the schedule must not stop the signs for good
                log.exception("signage update failed")
            await asyncio.sleep(EVERY_S)

    async def publish_once(self) -> None:
        from drivers.signage.payloads import Session as SignSession

        control = ControlDoc(self.replica.doc(DocName.control(self.event_id)))
        rooms = control.rooms()
        by_room: dict[str, list[Session]] = {room: [] for room in rooms}
        for session in control.sessions().values():
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
