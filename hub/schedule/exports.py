"""The schedule's exports on the hub: iCalendar, frab ``schedule.xml`` and schedule JSON.

The writers are :mod:`konferenco.schedule.formats` (pure and byte-stable:
the same schedule gives the same bytes, so the HTTP layer's ETag only
changes when the schedule does).  Every scheduled session is in them,
grassroots ones included; cancelled and proposed ones are not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from konferenco.schedule.formats import write_frab_xml, write_ical, write_schedule_json
from konferenco.schedule.model import EventFrame, Room, Session


def render(
    kind: Literal["ics", "xml", "json"],
    rooms: Mapping[str, Room],
    sessions: Mapping[str, Session],
    frame: EventFrame,
    *,
    room: str | None = None,
    speaker: str | None = None,
) -> bytes:
    """The export's bytes; ``room`` (an id or name) or ``speaker`` filter the calendar."""
    if kind == "ics":
        return write_ical(rooms, sessions, frame, room=room, speaker=speaker)
    if kind == "xml":
        return write_frab_xml(rooms, sessions, frame)
    return write_schedule_json(rooms, sessions, frame)
