"""Write the schedule JSON of the CCC tools (``schedule.schema.json``), as pretalx and frab export it.

The schema's traps, avoided here: a person must match exactly one of its
frab and pretalx shapes (``{"name", "guid"}`` here, never ``name`` and
``public_name`` together), ``rooms`` may not sit beside the conference, a
room needs a ``guid``, and every event carries ``url``, ``slug``, ``links``
and ``language`` even when empty or null.  Times are written twice, as the
consumers of either generation read them: ``date``/``start``/``duration``
and ``end``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from konferenco.schedule.model import EventFrame, Room, Session

from .identity import room_guid
from .layout import Placed, lay_out
from .values import format_duration

SCHEMA_URL = "https://c3voc.de/schedule/schema.json"


def write_schedule_json(
    rooms: Mapping[str, Room],
    sessions: Mapping[str, Session],
    frame: EventFrame,
    *,
    version: str | None = None,
) -> bytes:
    """The schedule as schedule JSON bytes (UTF-8), the same bytes for the same schedule.

    ``version`` as for :func:`.write_frab_xml` (default: a hash of the content).
    """
    layout = lay_out(rooms, sessions, frame, version=version)
    conference: dict[str, Any] = {
        "acronym": layout.acronym,
        "title": layout.title,
        "start": layout.days[0].date.isoformat(),
        "end": layout.days[-1].date.isoformat(),
        "daysCount": len(layout.days),
        "timeslot_duration": format_duration(layout.timeslot_minutes * 60_000),
        "time_zone_name": frame.timezone,
        "rooms": [_room(room) for room in layout.rooms],
        "days": [
            {
                "index": day.index,
                "date": day.date.isoformat(),
                "day_start": day.start.isoformat(),
                "day_end": day.end.isoformat(),
                "rooms": {room.name: [_event(p) for p in placed] for room, placed in day.rooms},
            }
            for day in layout.days
        ],
    }
    document = {
        "$schema": SCHEMA_URL,
        "generator": {"name": "konferenco"},
        "schedule": {"version": layout.version, "conference": conference},
    }
    # msgspec: UTF-8 as is, keys in the order written, and 20x faster than an indented json.dumps
    return msgspec.json.encode(document) + b"\n"


def _room(room: Room) -> dict[str, Any]:
    found: dict[str, Any] = {"name": room.name, "guid": room_guid(room)}
    if room.capacity is not None:
        found["capacity"] = room.capacity
    if room.area or room.accessibility:
        found["description"] = " · ".join(t for t in (room.area, room.accessibility) if t)
    return found


def _event(p: Placed) -> dict[str, Any]:
    s = p.session
    return {
        "guid": p.guid,
        "id": p.number,
        "date": p.start.isoformat(),
        "start": p.start.strftime("%H:%M"),
        "end": p.end.isoformat(),
        "duration": format_duration(s.ends_at - s.starts_at),
        "room": p.room.name,
        "slug": p.slug,
        "url": s.url if s.url.startswith(("http://", "https://")) else f"urn:uuid:{p.guid}",
        "title": " ".join(s.title.split()) or "(untitled)",
        "subtitle": "",
        "track": s.track or None,
        "type": s.type or "talk",
        "language": s.language or None,
        "abstract": s.abstract,
        "description": "",
        "persons": [{"name": name, "guid": guid} for name, guid in p.persons],
        "links": [],
    }
