"""Take apart a schedule JSON (pretalx, frab, the CCC tools): shape and places, not values.

The shape is ``{"schedule": {"version", "conference": {"title", "time_zone_name",
"rooms": [...], "days": [{"date", "rooms": {"Room name": [session, ...]}}]}}}``
(``schedule.schema.json`` in the shared schedule-formats folder).  Every
session is located by its JSON path so a problem points at it; the values
are judged later, the same way as XML's (:mod:`.assemble`).
"""

from __future__ import annotations

import json
from typing import Any

from .limits import MAX_DAYS, MAX_ROOMS, MAX_SESSIONS
from .problems import Problems
from .raw import RawEvent, RawRoom, RawSchedule

_ROOT = "schedule.conference"


def text_of(value: object) -> str:
    """A text field as a string: numbers spelt out, null empty, a translation dict its English text."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict) and value:
        chosen = value.get("en", next(iter(value.values())))
        return chosen if isinstance(chosen, str) else ""
    return ""


def person_names(value: object) -> list[str]:
    """Speakers' names from ``persons``: frab's ``public_name``, pretalx's ``name``, or plain strings."""
    if not isinstance(value, list):
        return []
    names = []
    for person in value:
        if isinstance(person, dict):
            name = text_of(person.get("public_name")) or text_of(person.get("name"))
            name = name or text_of(person.get("full_name"))
        else:
            name = text_of(person)
        if name.strip():
            names.append(name.strip())
    return names


def origin_of(doc: dict[str, Any], schedule: dict[str, Any], days: list[Any]) -> str:
    """Which program wrote the file: the generator when named, else pretalx's marks, else frab."""
    generator = doc.get("generator") or schedule.get("generator")
    name = text_of(generator.get("name")).lower() if isinstance(generator, dict) else ""
    for known in ("konferenco", "pretalx", "frab"):
        if known in name:
            return known
    for day in days[:3]:
        rooms = day.get("rooms") if isinstance(day, dict) else None
        for events in (rooms or {}).values() if isinstance(rooms, dict) else ():
            for event in events[:3] if isinstance(events, list) else ():
                if not isinstance(event, dict):
                    continue
                persons = event.get("persons")
                if "/talk/" in text_of(event.get("url")) or (
                    isinstance(persons, list) and any(isinstance(p, dict) and "code" in p for p in persons)
                ):
                    return "pretalx"
    return "frab"


def load_json(data: bytes, problems: Problems) -> object:
    """The JSON value of ``data``, or None with the problem (where the syntax breaks) recorded."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return json.loads(data)
    except UnicodeDecodeError:
        problems.refuse("file", "the file is not UTF-8 text; export it again as UTF-8")
    except json.JSONDecodeError as error:
        problems.refuse(
            f"line {error.lineno}, column {error.colno}", f"not valid JSON: {error.msg}", line=error.lineno
        )
    except RecursionError:
        problems.refuse("file", "the JSON is nested too deeply to be a schedule")
    return None


def not_a_schedule(doc: object) -> str:
    """Why ``doc`` is not a schedule JSON, in words that say what would be."""
    expected = 'pretalx and frab schedule.json files start with {"schedule": {"conference": …}}'
    if isinstance(doc, dict):
        schedule = doc.get("schedule")
        if isinstance(schedule, dict) and isinstance(schedule.get("events"), list):
            return (
                "this is a schedule JSON of version 2 (the CCC hub's events list), which is not read "
                "here; export the classic schedule.json or schedule.xml"
            )
        keys = ", ".join(sorted(str(k) for k in doc)[:6])
        return f"this JSON is not a schedule: {expected}; this one has the keys {keys or 'none'}"
    kind = "a list" if isinstance(doc, list) else "a string" if isinstance(doc, str) else "a single value"
    return f"this JSON is not a schedule: {expected}; this one is {kind}"


def read_json(data: bytes, problems: Problems) -> RawSchedule | None:
    """The raw schedule of a JSON file, or None when it is not one (the problems say why)."""
    doc = load_json(data, problems)
    if problems.fatal:
        return None
    schedule = doc.get("schedule") if isinstance(doc, dict) else None
    conference = schedule.get("conference") if isinstance(schedule, dict) else None
    version_2 = isinstance(schedule, dict) and isinstance(schedule.get("events"), list)
    if (
        version_2
        or not isinstance(doc, dict)
        or not isinstance(schedule, dict)
        or not isinstance(conference, dict)
    ):
        problems.refuse("file", not_a_schedule(doc))
        return None
    days = conference.get("days")
    if not isinstance(days, list):
        problems.refuse(f"{_ROOT}.days", 'a schedule needs its days as a list ("days": [...])')
        return None
    if len(days) > MAX_DAYS:
        problems.refuse(f"{_ROOT}.days", f"{len(days)} days is more than a schedule has (at most {MAX_DAYS})")
        return None
    raw = RawSchedule(
        format=f"{origin_of(doc, schedule, days)}-json",
        title=text_of(conference.get("title")),
        acronym=text_of(conference.get("acronym")),
        version=text_of(schedule.get("version")),
        timezone=text_of(conference.get("time_zone_name")),
        start=text_of(conference.get("start")),
        end=text_of(conference.get("end")),
    )
    raw.places = {key: f"{_ROOT}.{key}" for key in ("time_zone_name", "start", "end")}
    raw.declared_rooms = _declared_rooms(conference, schedule, problems)
    count = 0
    for d, day in enumerate(days):
        where_day = f"{_ROOT}.days[{d}]"
        if not isinstance(day, dict):
            problems.refuse(where_day, "a day must be an object with a date and its rooms")
            continue
        rooms = day.get("rooms")
        if not isinstance(rooms, dict):
            problems.refuse(f"{where_day}.rooms", 'a day needs its rooms as an object: {"Room": [sessions]}')
            continue
        day_date = text_of(day.get("date"))
        for key, events in rooms.items():
            where_room = f"{where_day}.rooms[{json.dumps(key, ensure_ascii=False)}]"
            room_name = key.strip()
            if not room_name:
                problems.refuse(where_room, "a room needs a name")
                continue
            if not isinstance(events, list):
                problems.refuse(where_room, "a room's sessions must be a list")
                continue
            raw.wrapper_rooms.append(RawRoom(name=room_name, where=where_room))
            count += len(events)
            if count > MAX_SESSIONS:
                problems.refuse(where_room, f"more than {MAX_SESSIONS} sessions: not a schedule we read")
                return None
            for e, event in enumerate(events):
                where = f"{where_room}[{e}]"
                if not isinstance(event, dict):
                    problems.refuse(where, "a session must be an object")
                    continue
                raw.events.append(_event(event, where, room_name, day_date))
    return raw


def _declared_rooms(
    conference: dict[str, Any], schedule: dict[str, Any], problems: Problems
) -> list[RawRoom] | None:
    # The schema puts rooms in the conference; some generators put them beside it.
    where = f"{_ROOT}.rooms"
    listed = conference.get("rooms")
    if listed is None and isinstance(schedule.get("rooms"), list):
        listed, where = schedule.get("rooms"), "schedule.rooms"
    if listed is None:
        return None
    if not isinstance(listed, list):
        problems.refuse(where, "the room list must be a list")
        return None
    if len(listed) > MAX_ROOMS:
        problems.refuse(where, f"{len(listed)} rooms is more than a schedule has (at most {MAX_ROOMS})")
        return None
    rooms = []
    for r, room in enumerate(listed):
        at = f"{where}[{r}]"
        name = text_of(room.get("name")).strip() if isinstance(room, dict) else ""
        if not name:
            problems.refuse(at, "a room needs a name")
            continue
        assert isinstance(room, dict)
        rooms.append(
            RawRoom(name=name, where=at, guid=text_of(room.get("guid")), capacity=room.get("capacity"))
        )
    return rooms


def _event(event: dict[str, Any], where: str, room: str, day_date: str) -> RawEvent:
    named = event.get("room")
    return RawEvent(
        where=where,
        room=room,
        day_date=day_date,
        room_named=text_of(named) if named is not None else None,
        guid=text_of(event.get("guid")),
        number=text_of(event.get("id")),
        code=text_of(event.get("code")),
        slug=text_of(event.get("slug")),
        url=text_of(event.get("url")),
        title=text_of(event.get("title")),
        subtitle=text_of(event.get("subtitle")),
        date=text_of(event.get("date")),
        start=text_of(event.get("start")),
        end=text_of(event.get("end")),
        duration=event.get("duration"),
        type=text_of(event.get("type")),
        track=text_of(event.get("track")),
        language=text_of(event.get("language")),
        abstract=text_of(event.get("abstract")),
        description=text_of(event.get("description")),
        persons=person_names(event.get("persons")),
    )
