"""What the appliance shows on room signs: the schedule, now and next, and how full the room is.

Reads the event's schedule (:class:`~appliance.schedule.service.ScheduleService`:
the control document every replica shares, with hosts' edits laid over it)
and the check-in projection (who is inside each room's lists), and hands
both to the signage publisher (``drivers.signage``), which keeps them
retained on the broker.

When it runs:

* **at once after a change** — the schedule service tells the feed about
  every update stored for the control document, made here or arriving by
  sync; the feed waits :data:`SETTLE_S` for the rest of a burst (an import
  writes in chunks, a sync catch-up in many small updates) and publishes once,
  so an edit reaches the room's sign well within a second;
* **every** :data:`EVERY_S` **seconds** otherwise, so "now" and "next" advance
  with the clock and the capacity follows the door's scans.

It is a supervised loop (:class:`~konferenco.lifecycle.Supervised`): a failing
update, say a bad session in the schedule, is logged once and retried with
backoff up to :data:`SLOWEST_S`, never stops the signs for good.  Only what
changed is published (signs redraw on every message); a publisher that is
offline keeps only the newest state per topic, so a sign never replays an
hour of stale capacities when the broker comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable
from typing import Any

from appliance.schedule.occupancy import inside_by_room, session_on
from appliance.schedule.service import ScheduleService
from konferenco.lifecycle import Supervised
from konferenco.schedule.model import Session
from konferenco.types import now_ms
from sync.replica import Replica

EVERY_S = 5.0
#: After a change, wait this long for the rest of its burst before publishing (seconds).
SETTLE_S = 0.15
#: The longest wait between retries while updates keep failing.
SLOWEST_S = 60.0
log = logging.getLogger(__name__)


class SignageFeed:
    def __init__(
        self,
        publisher: Any,
        replica: Replica,
        conn: sqlite3.Connection,
        event_id: str,
        *,
        schedule: ScheduleService | None = None,
    ) -> None:
        self.publisher = publisher
        self.replica = replica
        self.conn = conn
        self.event_id = event_id
        self._own_schedule = schedule is None  # standalone (tests, tools): a service of its own
        self.schedule = schedule or ScheduleService(replica, conn, [event_id], organizer=False)
        self._shown: dict[tuple[str, str], object] = {}  # (room, what) -> what the signs show now
        self._wake = asyncio.Event()
        self._unwatch: Callable[[], None] | None = None
        self.publications = 0  # runs that published something (for tests and /healthz readers)
        self.task = Supervised(
            f"signage feed {event_id}",
            self._run,
            backoff=(EVERY_S, SLOWEST_S),
            stable_after=EVERY_S,
            logger=log,
        )

    @property
    def tasks(self) -> list[Supervised]:
        return [self.task]

    def start(self) -> None:
        self._unwatch = self.schedule.watch(self._changed_schedule)
        self.task.start()

    async def stop(self) -> None:
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None
        await self.task.stop()
        if self._own_schedule:
            self.schedule.close()

    def _changed_schedule(self, event_id: str) -> None:
        if event_id == self.event_id:
            self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()  # a change from now on wakes the next round
            await self.publish_once()
            self.task.succeeded()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), EVERY_S)
                await asyncio.sleep(SETTLE_S)

    async def publish_once(self) -> None:
        """Publish what changed since the last run: per room its schedule, now, next and capacity."""
        from drivers.signage.payloads import Session as SignSession

        def shown(s: Session) -> SignSession:
            return SignSession(
                id=s.id,
                title=s.title,
                starts_at=s.starts_at,
                ends_at=s.ends_at,
                speakers=list(s.speakers),
                grassroots=s.grassroots,
                host=s.host_name or None,
                type=s.type or None,
            )

        index = await self.schedule.index(self.event_id)
        rooms = index.rooms
        by_room: dict[str, list[Session]] = {room: [] for room in rooms}
        for session in index.sessions.values():
            if session.placed:  # cancelled and proposed sessions are not on the door sign
                by_room.setdefault(session.room_id, []).append(session)
        now = now_ms()
        published = 0
        for room_id, sessions in by_room.items():
            sessions.sort(key=lambda s: (s.starts_at, s.id))
            signs = [shown(s) for s in sessions]
            room = rooms.get(room_id)
            name = room.name if room else room_id
            if self._changed(room_id, "schedule", (name, index.frame.timezone, signs)):
                await self.publisher.publish_room_schedule(room_id, signs, name=name, tz=index.frame.timezone)
                published += 1
            current = next((s for s in signs if s.starts_at <= now < s.ends_at), None)
            upcoming = next((s for s in signs if s.starts_at > now), None)
            if self._changed(room_id, "now", current):
                await self.publisher.publish_room_now(room_id, current)
                published += 1
            if self._changed(room_id, "next", upcoming):
                await self.publisher.publish_room_next(room_id, upcoming)
                published += 1
        for room_id, (inside, list_capacity) in inside_by_room(self.conn, self.event_id).items():
            room = rooms.get(room_id)
            capacity = (room.capacity if room and room.capacity else None) or list_capacity or 0
            on = session_on(index, room_id, now)
            session_id = on.id if on is not None else None
            if self._changed(room_id, "capacity", (inside, capacity, session_id)):
                await self.publisher.publish_room_capacity(room_id, inside, capacity, session_id=session_id)
                published += 1
        if published:
            self.publications += 1

    def _changed(self, room: str, what: str, value: object) -> bool:
        """Publish a topic only when what it shows changes (signs redraw on every message)."""
        key = (room, what)
        if key in self._shown and self._shown[key] == value:
            return False
        self._shown[key] = value
        return True
