"""How a schedule is laid out for export: which sessions, in which order, on which conference day.

Shared by the XML and JSON writers so both say the same thing:

- every **scheduled** session is exported, grassroots ones included (CCC's
  self-organized sessions were missing from the official exports for years:
  EventFahrplan issue 705); proposed and cancelled ones are not;
- a session whose room is missing (deleted after it was placed) is still
  exported, in a room named by the room id, rather than silently dropped;
- a conference day runs from 04:00 to 04:00 in the event's time zone (as in
  pretalx), so a party at 01:00 belongs to the evening before;
- the order is by start, then room order, then id: the same schedule gives
  the same bytes, which the HTTP layer turns into an ETag.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

import msgspec

from konferenco.schedule.model import EventFrame, Room, Session

from .identity import person_guid, room_guid, session_guids, session_numbers
from .limits import MAX_DAYS
from .values import slugify, xml_text

#: The hour (event time zone) at which one conference day ends and the next begins.
DAY_CHANGE = time(4, 0)
_RESERVED_VERSIONS = {"latest", "wip", ""}
_ACRONYM_BAD = re.compile(r"[^a-z0-9_]+")


@dataclass(frozen=True, slots=True)
class Placed:
    """One exported session with what every format writes about it."""

    session: Session
    room: Room
    guid: str
    number: int
    slug: str
    start: datetime  # in the event's zone
    end: datetime
    persons: tuple[tuple[str, str], ...]  # (name, guid): speakers, then the host if not among them


@dataclass(frozen=True, slots=True)
class ConferenceDay:
    index: int
    date: date
    start: datetime
    end: datetime
    rooms: tuple[tuple[Room, tuple[Placed, ...]], ...]


@dataclass(frozen=True, slots=True)
class Layout:
    frame: EventFrame
    zone: ZoneInfo
    title: str
    acronym: str
    version: str
    rooms: tuple[Room, ...]  # every room, in room order
    days: tuple[ConferenceDay, ...]
    placed: tuple[Placed, ...]
    timeslot_minutes: int


def exported(sessions: Mapping[str, Session]) -> list[Session]:
    """The sessions every export carries: the scheduled ones, grassroots or not."""
    return [s for s in sessions.values() if s.status == "scheduled"]


def room_order(rooms: Mapping[str, Room]) -> list[Room]:
    return sorted(rooms.values(), key=lambda r: (r.position, r.name.casefold(), r.id))


def content_version(rooms: Mapping[str, Room], sessions: Mapping[str, Session]) -> str:
    """A version string that changes exactly when the exported content does (never "latest"/"wip")."""
    digest = hashlib.sha256()
    for room in room_order(rooms):
        digest.update(msgspec.json.encode(room))
    for session in sorted(exported(sessions), key=lambda s: s.id):
        digest.update(msgspec.json.encode(session))
    return f"konferenco-{digest.hexdigest()[:12]}"


def check_version(version: str) -> str:
    """A version as importers take it: not empty and not a word they reserve (CONSUMERS.md)."""
    cleaned = " ".join(version.split())
    if cleaned.casefold() in _RESERVED_VERSIONS:
        raise ValueError(f"“{version}” is not a schedule version importers accept; give a real version")
    return cleaned


def acronym_of(frame: EventFrame) -> str:
    """The conference acronym: the event's name (or id) in ``[a-z0-9_]``, at least four characters."""
    for source in (frame.name, frame.event_id):
        candidate = _ACRONYM_BAD.sub("_", slugify(source, 40).replace("-", "_")).strip("_")
        if len(candidate) >= 4:
            return candidate
    base = _ACRONYM_BAD.sub("_", frame.event_id.lower()).strip("_")
    return f"{base}_event" if base else "event"


def conference_day(moment: datetime) -> date:
    """The conference day a moment (in the event zone) belongs to: before 04:00 is the day before."""
    shifted = moment - timedelta(hours=DAY_CHANGE.hour, minutes=DAY_CHANGE.minute)
    return shifted.date()


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, DAY_CHANGE, zone)
    end = datetime.combine(day + timedelta(days=1), DAY_CHANGE, zone)
    return start, end


def lay_out(
    rooms: Mapping[str, Room],
    sessions: Mapping[str, Session],
    frame: EventFrame,
    *,
    version: str | None = None,
) -> Layout:
    """Everything the writers need, computed once and the same for every format."""
    zone = frame.zone
    frame = msgspec.structs.replace(frame, name=xml_text(frame.name))
    rooms = {rid: _clean(r) for rid, r in rooms.items()}
    sessions = {sid: _clean(s) for sid, s in sessions.items()}
    ordered_rooms = room_order(rooms)
    rank = {room.id: n for n, room in enumerate(ordered_rooms)}
    chosen = exported(sessions)
    guids = session_guids(chosen)
    numbers = session_numbers(s.id for s in chosen)
    acronym = acronym_of(frame)
    all_rooms = {r.id: r for r in ordered_rooms}
    missing = sorted({s.room_id for s in chosen if s.room_id not in all_rooms})
    for n, rid in enumerate(missing):
        all_rooms[rid] = Room(id=rid, name=rid, position=len(ordered_rooms) + n)
        rank[rid] = len(ordered_rooms) + n
    names = _unique_names(list(all_rooms.values()))
    all_rooms = {rid: msgspec.structs.replace(r, name=names[rid]) for rid, r in all_rooms.items()}
    placed = []
    for s in sorted(chosen, key=lambda s: (s.starts_at, rank[s.room_id], s.id)):
        number = numbers[s.id]
        people = list(s.speakers)
        if s.host_name and s.host_name not in people:
            people.append(s.host_name)
        placed.append(
            Placed(
                session=s,
                room=all_rooms[s.room_id],
                guid=guids[s.id],
                number=number,
                slug=f"{acronym}-{number}-{slugify(s.title, 40) or 'session'}",
                start=datetime.fromtimestamp(s.starts_at / 1000, zone),
                end=datetime.fromtimestamp(s.ends_at / 1000, zone),
                persons=tuple((name, person_guid(name)) for name in people if name.strip()),
            )
        )
    days = _days(placed, frame, zone, rank)
    return Layout(
        frame=frame,
        zone=zone,
        title=frame.name.strip() or frame.event_id,
        acronym=acronym,
        version=check_version(version) if version is not None else content_version(rooms, sessions),
        rooms=tuple(all_rooms[r.id] for r in ordered_rooms) + tuple(all_rooms[rid] for rid in missing),
        days=days,
        placed=tuple(placed),
        timeslot_minutes=_timeslot(placed),
    )


_Record = TypeVar("_Record", Room, Session)
_TEXTS: dict[type, tuple[str, ...]] = {
    Room: ("name", "area", "accessibility"),
    Session: ("title", "abstract", "type", "track", "language", "host_name", "url", "source_id"),
}


def _clean(record: _Record) -> _Record:
    """The record with text every format can carry (no lone surrogates or control characters).

    Itself when it is fine, which is nearly always: a peer's bug or a
    title pasted from a PDF must not break an export for everyone.
    """
    changes: dict[str, object] = {}
    for name in _TEXTS[type(record)]:
        value = getattr(record, name)
        clean = xml_text(value)
        if clean != value:
            changes[name] = clean
    if isinstance(record, Session) and any(xml_text(n) != n for n in record.speakers):
        changes["speakers"] = [xml_text(n) for n in record.speakers]
    return msgspec.structs.replace(record, **changes) if changes else record


def _unique_names(rooms: list[Room]) -> dict[str, str]:
    """Room names as exported: importers file sessions by room name, so two rooms never share one."""
    names = {r.id: " ".join(r.name.split()) or r.id for r in rooms}
    count: dict[str, int] = {}
    for name in names.values():
        count[name] = count.get(name, 0) + 1
    return {rid: f"{name} ({rid})" if count[name] > 1 else name for rid, name in names.items()}


def _days(
    placed: list[Placed], frame: EventFrame, zone: ZoneInfo, rank: dict[str, int]
) -> tuple[ConferenceDay, ...]:
    by_day: dict[date, list[Placed]] = {}
    for p in placed:
        by_day.setdefault(conference_day(p.start), []).append(p)
    wanted = set(by_day)
    if frame.starts_at is not None and frame.ends_at is not None and frame.ends_at > frame.starts_at:
        first = conference_day(datetime.fromtimestamp(frame.starts_at / 1000, zone))
        last = conference_day(datetime.fromtimestamp((frame.ends_at - 1) / 1000, zone))
        if (last - first).days < MAX_DAYS:
            wanted |= {first + timedelta(days=n) for n in range((last - first).days + 1)}
    if not wanted:  # an importer needs at least one day
        at = frame.starts_at if frame.starts_at is not None else 0
        wanted.add(conference_day(datetime.fromtimestamp(at / 1000, zone)))
    days = []
    for index, day in enumerate(sorted(wanted), start=1):
        start, end = day_bounds(day, zone)
        per_room: dict[str, list[Placed]] = {}
        for p in by_day.get(day, []):
            per_room.setdefault(p.room.id, []).append(p)
        rooms = tuple(
            (group[0].room, tuple(group)) for _, group in sorted(per_room.items(), key=lambda kv: rank[kv[0]])
        )
        days.append(ConferenceDay(index=index, date=day, start=start, end=end, rooms=rooms))
    return tuple(days)


def _timeslot(placed: list[Placed]) -> int:
    """The grid step apps draw: the largest of 60, 30, 15, 10, 5 minutes that every start and length fits."""
    step = 0
    for p in placed:
        step = math.gcd(step, p.start.hour * 60 + p.start.minute)
        step = math.gcd(step, round((p.session.ends_at - p.session.starts_at) / 60_000))
    for candidate in (60, 30, 15, 10, 5):
        if step % candidate == 0:
            return candidate
    return 5


__all__ = ["DAY_CHANGE", "Layout", "Placed", "content_version", "exported", "lay_out", "room_guid"]
