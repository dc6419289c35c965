"""Write the schedule as iCalendar (RFC 5545): the whole event, one room, or one speaker's sessions.

Times are written in the event's time zone with ``TZID`` and the matching
``VTIMEZONE`` (built by icalendar from the zone database, for the years the
sessions span), so a calendar app shows 09:30 in Berlin as 09:30 in Berlin,
across summer time.  ``UID`` is the session's export guid (the same as in
``schedule.xml``), so re-subscribing updates events instead of adding them.
``DTSTAMP`` is required; the body must not change with the clock (the HTTP
layer's ETag is a hash of it), so it is the schedule's last change when the
caller knows it (``changed_at``), else the event's start.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime

from icalendar import Calendar, Event

from konferenco.errors import KonferencoError
from konferenco.schedule.model import EventFrame, Room, Session, fold_name

from .layout import Placed, lay_out

PRODID = "-//Konferenco//Schedule//EN"


def write_ical(
    rooms: Mapping[str, Room],
    sessions: Mapping[str, Session],
    frame: EventFrame,
    *,
    room: str | None = None,
    speaker: str | None = None,
    changed_at: int | None = None,
) -> bytes:
    """The scheduled sessions as an iCalendar file, for the event or filtered to a room or a speaker.

    ``room`` is a room id (or its name); an unknown room is ``unknown_room``
    (404), since a typo should not look like an empty room.  ``speaker`` is
    a name (compared without case or accents) or an attendee id (speaker or
    host); a speaker with no sessions gets an empty calendar.
    """
    layout = lay_out(rooms, sessions, frame)
    placed = list(layout.placed)
    label = layout.title
    if room is not None:
        wanted = _room_id(rooms, room)
        placed = [p for p in placed if p.session.room_id == wanted]
        label = f"{label} \N{EN DASH} {rooms[wanted].name}"
    if speaker is not None:
        placed = [p for p in placed if _speaks(p, speaker)]
        label = f"{label} \N{EN DASH} {speaker.strip()}"
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", label)
    calendar.add("x-wr-timezone", frame.timezone)
    stamp = _stamp(changed_at, frame, placed)
    for p in placed:
        calendar.add_component(_event(p, stamp))
    if placed:
        years = [p.start.year for p in placed] + [p.end.year for p in placed]
        calendar.add_missing_timezones(
            first_date=date(min(years), 1, 1), last_date=date(max(years) + 1, 1, 1)
        )
    return bytes(calendar.to_ical())


def _room_id(rooms: Mapping[str, Room], wanted: str) -> str:
    if wanted in rooms:
        return wanted
    named = [rid for rid, r in rooms.items() if fold_name(r.name) == fold_name(wanted)]
    if len(named) == 1:
        return named[0]
    raise KonferencoError(
        f"there is no room “{wanted}” in this schedule", code="unknown_room", room_id=wanted
    )


def _speaks(p: Placed, who: str) -> bool:
    s = p.session
    if who in s.speaker_ids or (s.host is not None and who == s.host):
        return True
    folded = fold_name(who)
    return bool(folded) and any(fold_name(name) == folded for name, _ in p.persons)


def _stamp(changed_at: int | None, frame: EventFrame, placed: list[Placed]) -> datetime:
    if changed_at is not None:
        ms = changed_at
    elif frame.starts_at is not None:
        ms = frame.starts_at
    else:
        ms = min((p.session.starts_at for p in placed), default=0)
    return datetime.fromtimestamp(ms // 1000, UTC)


def _event(p: Placed, stamp: datetime) -> Event:
    s = p.session
    event = Event()
    event.add("uid", p.guid)
    event.add("dtstamp", stamp)
    event.add("dtstart", p.start)
    event.add("dtend", p.end)
    event.add("summary", " ".join(s.title.split()) or "(untitled)")
    event.add("location", p.room.name)
    lines = [s.abstract.strip()] if s.abstract.strip() else []
    if p.persons:
        lines.append(", ".join(name for name, _ in p.persons))
    if lines:
        event.add("description", "\n\n".join(lines))
    categories = [c for c in (s.type, s.track) if c] + (["grassroots"] if s.grassroots else [])
    if categories:
        event.add("categories", list(dict.fromkeys(categories)))
    if s.url.startswith(("http://", "https://")):
        event.add("url", s.url)
    event.add("status", "CONFIRMED")
    return event
