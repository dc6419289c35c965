"""Small schedules for the rule, slot and grassroots tests: a day in Berlin, rooms A (grassroots) and B."""

from __future__ import annotations

from typing import Any

from konferenco.schedule.model import HOUR, MINUTE, EventFrame, Room, ScheduleSettings, Session, at_local
from konferenco.schedule.rules import ScheduleIndex

TZ = "Europe/Berlin"
DAY = "2026-06-10"


def t(clock: str, day: str = DAY) -> int:
    """Milliseconds of a wall-clock time on the event day, in Berlin."""
    from zoneinfo import ZoneInfo

    return at_local(day, clock, ZoneInfo(TZ))


FRAME = EventFrame(event_id="e1", name="Demo", timezone=TZ, starts_at=t("08:00"), ends_at=t("20:00"))
ROOMS = {
    "a": Room(id="a", name="Hall A", capacity=100, grassroots=True, buffer_min=10, features=["projector"]),
    "b": Room(id="b", name="Room B", capacity=20),
}


def session(sid: str, room: str, start: str, minutes: int, **fields: Any) -> Session:
    starts = t(start)
    return Session(id=sid, title=fields.pop("title", sid.upper()), room_id=room, starts_at=starts,
                   ends_at=starts + minutes * MINUTE, **fields)  # fmt: skip


def index(
    *sessions: Session,
    rooms: dict[str, Room] | None = None,
    settings: ScheduleSettings | None = None,
    frame: EventFrame = FRAME,
) -> ScheduleIndex:
    return ScheduleIndex(rooms or ROOMS, {s.id: s for s in sessions}, frame, settings)


__all__ = ["DAY", "FRAME", "HOUR", "MINUTE", "ROOMS", "TZ", "index", "session", "t"]
