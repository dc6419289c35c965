"""The schedule pages' forms: typed values in; rooms, sessions and schedule settings out.

Every problem of a form is collected and reported at once (an organizer
fixes a form in one go), in the form's own words ("Seats must be between 0
and 1,000,000"), never msgspec's.  Times are typed in ``datetime-local``
fields and read as wall-clock time in the event's zone.  The ``typed_*``
functions give a refused form back as it was filled in, so nothing typed
is lost.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import msgspec
from litestar.datastructures import FormMultiDict

from hub.console.event import type_id_from
from hub.console.render import local_time
from konferenco.errors import Invalid, KonferencoError
from konferenco.schedule.model import (
    KNOWN_FEATURES,
    MINUTE,
    Room,
    ScheduleSettings,
    Session,
    at_local,
)
from konferenco.schedule.rules import DEFAULT_SEVERITY, FIXED, RULES
from konferenco.types import new_id

#: The largest schedule file the console takes (the API's limit; the largest real export is ~1 MB).
MAX_SCHEDULE_BYTES = 20 * 1024 * 1024
#: Session states an organizer may pick in the form.
STATUSES = ("scheduled", "proposed", "cancelled")
SEVERITIES = ("block", "warn", "ignore")
#: What each rule protects, in the organizers' words (the settings page and the findings list).
RULE_LABELS = {
    "room_overlap": "Room booked twice",
    "changeover": "Changeover time between sessions",
    "person_overlap": "Speaker or host in two places at once",
    "room_closed": "Room closed (opening hours)",
    "over_capacity": "More people expected than the room holds",
    "outside_event": "Session outside the event's days",
    "grassroots_room": "Grassroots session in a room not open to them",
    "bad_time": "Session ends before it starts, or its room does not exist",
}

S = TypeVar("S", bound=msgspec.Struct)
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class FormProblems(Invalid):
    """Every problem of one form at once, so the organizer fixes them in one go."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems), problems=problems)


@dataclass
class FormReader:
    """Typed values from a submitted form; problems are collected, then raised together by :meth:`done`."""

    form: FormMultiDict
    zone: ZoneInfo
    problems: list[str] = field(default_factory=list)

    def raw(self, key: str) -> str:
        value = self.form.get(key, "")
        return value.strip() if isinstance(value, str) else ""

    def text(self, key: str, label: str, *, max_len: int, required: bool = False) -> str:
        value = self.raw(key)
        if required and not value:
            self.problems.append(f"{label} must not be empty")
        elif len(value) > max_len:
            self.problems.append(f"{label} is {len(value)} characters long; at most {max_len}")
            value = value[:max_len]
        return value

    def long_text(self, key: str, label: str, *, max_len: int) -> str:
        """A textarea: kept as typed (line breaks included), only its ends trimmed."""
        value = self.form.get(key, "")
        text = value.replace("\r\n", "\n").strip() if isinstance(value, str) else ""
        if len(text) > max_len:
            self.problems.append(f"{label} is {len(text)} characters long; at most {max_len}")
        return text[:max_len]

    def number(
        self, key: str, label: str, *, lo: int, hi: int, required: bool = False, default: int | None = None
    ) -> int | None:
        value = self.raw(key)
        if not value:
            if required and default is None:
                self.problems.append(f"{label} is needed")
            return default
        try:
            number = int(value)
        except ValueError:
            self.problems.append(f"{label} must be a whole number, not {value!r}")
            return default
        if not lo <= number <= hi:
            self.problems.append(f"{label} must be between {lo:,} and {hi:,}")
            return default
        return number

    def flag(self, key: str) -> bool:
        return self.raw(key) in ("on", "1", "true", "yes")

    def choice(self, key: str, label: str, allowed: Sequence[str], default: str) -> str:
        value = self.raw(key) or default
        if value not in allowed:
            self.problems.append(f"{label} must be one of {', '.join(allowed)}")
            return default
        return value

    def moment(self, key: str, label: str, *, required: bool = False) -> int | None:
        """A ``datetime-local`` value (``YYYY-MM-DDTHH:MM``) as wall-clock time in the event's zone."""
        value = self.raw(key)
        if not value:
            if required:
                self.problems.append(f"{label} is needed")
            return None
        try:
            return parse_local(value, self.zone)
        except ValueError:
            self.problems.append(f"{label} {value!r} is not a date and time (YYYY-MM-DD HH:MM)")
            return None

    def lines(self, key: str, *, max_items: int, max_len: int, label: str) -> list[str]:
        value = self.form.get(key, "")
        items = (
            [line.strip() for line in value.splitlines() if line.strip()] if isinstance(value, str) else []
        )
        if len(items) > max_items:
            self.problems.append(f"{label}: at most {max_items} lines")
        for item in items:
            if len(item) > max_len:
                self.problems.append(f"{label}: “{item[:30]}…” is longer than {max_len} characters")
        return items[:max_items]

    def all(self, key: str) -> list[str]:
        return [v.strip() for v in self.form.getall(key, []) if isinstance(v, str) and v.strip()]

    def done(self) -> None:
        if self.problems:
            raise FormProblems(self.problems)


def parse_local(value: str, zone: ZoneInfo) -> int:
    """``2026-06-01T09:30`` (or with a space, or seconds) as milliseconds, read in ``zone``."""
    moment = dt.datetime.fromisoformat(value.strip().replace(" ", "T"))
    if moment.tzinfo is not None:
        return int(moment.timestamp() * 1000)
    return at_local(moment.date().isoformat(), f"{moment:%H:%M}", zone)


def local_input(ms: int | None, tz: str) -> str:
    """The value of a ``datetime-local`` field for ``ms`` in the event's zone ('' for none)."""
    return local_time(ms, tz, "%Y-%m-%dT%H:%M") if ms else ""


def struct(type_: type[S], raw: dict[str, Any]) -> S:
    """``raw`` as ``type_``; a value the model refuses becomes a form problem, not a stack trace."""
    try:
        return msgspec.convert(raw, type_)
    except msgspec.ValidationError as exc:
        text = str(exc).replace("`", "")
        where = re.search(r" - at \$\.?(.*)$", text)
        what = text.split(" - at ")[0]
        name = where.group(1).replace("_", " ") if where else "a value"
        raise Invalid(f"{name}: {what.lower()}") from None


# --- rooms ----------------------------------------------------------------------------------


def room_form(room: Room | None, days: Sequence[str]) -> dict[str, Any]:
    """The room form's values: a new room, or one to edit (opening hours per event day)."""
    hours = {h.day: h for h in room.hours} if room else {}
    all_days = sorted(set(days) | set(hours))
    return {
        "id": room.id if room else "",
        "name": room.name if room else "",
        "capacity": "" if room is None or room.capacity is None else room.capacity,
        "area": room.area if room else "",
        "accessibility": room.accessibility if room else "",
        "features": list(room.features) if room else [],
        "other_features": ", ".join(f for f in (room.features if room else []) if f not in KNOWN_FEATURES),
        "grassroots": room.grassroots if room else False,
        "buffer_min": room.buffer_min if room else 0,
        "position": room.position if room else 0,
        "hours": [
            {
                "day": d,
                "label": f"{dt.date.fromisoformat(d):%a %d %b %Y}",
                "opens": hours[d].opens if d in hours else "",
                "closes": hours[d].closes if d in hours else "",
            }
            for d in all_days
        ],
    }


def room_from_form(reader: FormReader, existing: Room | None, taken: Iterable[str]) -> Room:
    """A :class:`Room` from the room form (``existing`` when editing; ``taken``: ids in use)."""
    name = reader.text("name", "Name", max_len=120, required=True)
    if existing is not None:
        room_id = existing.id
    else:
        room_id = reader.raw("id") or type_id_from(name) or f"room-{new_id()[-8:].lower()}"
        if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", room_id):
            reader.problems.append("Id may only hold letters, digits and . _ : - (at most 64)")
        elif room_id in set(taken):
            reader.problems.append(f"there is already a room with the id “{room_id}”; edit that one instead")
    hours: list[dict[str, str]] = []
    for day in reader.all("hours_day"):
        if not DAY.fullmatch(day):
            reader.problems.append(f"Opening hours: {day[:20]!r} is not a day (YYYY-MM-DD)")
            continue
        opens, closes = reader.raw(f"opens_{day}")[:5], reader.raw(f"closes_{day}")[:5]
        if not opens and not closes:
            continue
        if not opens or not closes:
            reader.problems.append(f"Opening hours on {day}: give both the opening and the closing time")
            continue
        if closes != "24:00" and closes <= opens:
            reader.problems.append(f"Opening hours on {day}: it closes ({closes}) before it opens ({opens})")
            continue
        hours.append({"day": day, "opens": opens, "closes": closes})
    others = [f.strip() for f in reader.raw("other_features").split(",") if f.strip()]
    features = list(dict.fromkeys([*(f for f in reader.all("features") if f in KNOWN_FEATURES), *others]))
    raw = {
        "id": room_id,
        "name": name,
        "capacity": reader.number("capacity", "Capacity", lo=0, hi=1_000_000),
        "area": reader.text("area", "Floor or area", max_len=120),
        "accessibility": reader.text("accessibility", "Accessibility", max_len=500),
        "hours": hours,
        "features": features,
        "grassroots": reader.flag("grassroots"),
        "buffer_min": reader.number("buffer_min", "Changeover", lo=0, hi=240, default=0),
        "position": reader.number("position", "Position", lo=0, hi=100_000, default=0),
    }
    reader.done()
    return struct(Room, raw)


def typed_room(form: FormMultiDict, existing: Room | None, days: Sequence[str]) -> dict[str, Any]:
    """The room form as the organizer filled it in (to show it again with the refusal)."""
    base = room_form(existing, days)
    typed = {k: (v.strip() if isinstance(v, str) else "") for k, v in form.items() if k != "_csrf"}
    base.update(
        {k: typed.get(k, "") for k in ("name", "capacity", "area", "accessibility", "other_features")}
    )
    if existing is None:
        base["id"] = typed.get("id", "")
    base["buffer_min"] = typed.get("buffer_min", "")
    base["position"] = typed.get("position", "")
    base["grassroots"] = typed.get("grassroots") == "on"
    base["features"] = [f for f in form.getall("features", []) if isinstance(f, str)]
    base["hours"] = [
        {
            "day": d,
            "label": f"{dt.date.fromisoformat(d):%a %d %b %Y}",
            "opens": typed.get(f"opens_{d}", ""),
            "closes": typed.get(f"closes_{d}", ""),
        }
        for d in (v for v in form.getall("hours_day", []) if isinstance(v, str) and DAY.fullmatch(v))
    ]
    return base


# --- sessions -------------------------------------------------------------------------------


def session_form(session: Session | None, tz: str, *, room: str = "", start: str = "") -> dict[str, Any]:
    if session is None:
        return {
            "id": "",
            "title": "",
            "abstract": "",
            "type": "talk",
            "track": "",
            "language": "",
            "speakers": "",
            "room_id": room,
            "starts": start,
            "duration": 60,
            "attendance": "",
            "status": "scheduled",
            "grassroots": False,
            "overlap_reason": "",
        }
    return {
        "id": session.id,
        "title": session.title,
        "abstract": session.abstract,
        "type": session.type,
        "track": session.track,
        "language": session.language,
        "speakers": "\n".join(session.speakers),
        "room_id": session.room_id,
        "starts": local_input(session.starts_at, tz),
        "duration": max(0, (session.ends_at - session.starts_at) // MINUTE),
        "attendance": "" if session.attendance is None else session.attendance,
        "status": session.status,
        "grassroots": session.grassroots,
        "overlap_reason": "",
    }


def session_from_form(reader: FormReader, existing: Session | None) -> Session:
    """A :class:`Session` from the session form; fields the form does not show are kept from ``existing``."""
    title = reader.text("title", "Title", max_len=500, required=True)
    starts = reader.moment("starts", "Start", required=True)
    duration = reader.number("duration", "Duration (minutes)", lo=1, hi=7 * 24 * 60, required=True)
    room_id = reader.text("room_id", "Room", max_len=64, required=True)
    speakers = reader.lines("speakers", max_items=50, max_len=120, label="Speakers")
    raw: dict[str, Any] = {
        "title": title,
        "abstract": reader.long_text("abstract", "Abstract", max_len=8000),
        "type": reader.text("type", "Type", max_len=120) or "talk",
        "track": reader.text("track", "Track", max_len=120),
        "language": reader.text("language", "Language", max_len=16),
        "speakers": speakers,
        "room_id": room_id,
        "attendance": reader.number("attendance", "Expected attendance", lo=0, hi=1_000_000),
        "status": reader.choice("status", "Status", STATUSES, "scheduled"),
        "grassroots": reader.flag("grassroots"),
    }
    reader.done()
    assert starts is not None and duration is not None  # done() raised otherwise
    raw["starts_at"] = starts
    raw["ends_at"] = starts + duration * MINUTE
    if existing is not None:
        kept = msgspec.to_builtins(existing)
        if existing.speakers != speakers:
            kept.pop("speaker_ids", None)  # ids matched the old names; free names from now on
        return struct(Session, {**kept, **raw})
    return struct(Session, {"id": new_id(), **raw})


def typed_session(form: FormMultiDict, existing: Session | None, tz: str) -> dict[str, Any]:
    base = session_form(existing, tz)
    for key in (
        "title",
        "abstract",
        "type",
        "track",
        "language",
        "speakers",
        "room_id",
        "starts",
        "duration",
        "attendance",
        "status",
        "overlap_reason",
    ):
        value = form.get(key, "")
        base[key] = value if isinstance(value, str) else ""
    base["grassroots"] = form.get("grassroots") == "on"
    return base


# --- settings -------------------------------------------------------------------------------


def settings_form(settings: ScheduleSettings, tz: str) -> dict[str, Any]:
    g = settings.grassroots
    return {
        "enabled": g.enabled,
        "opens": local_input(g.opens_at, tz),
        "closes": local_input(g.closes_at, tz),
        "rooms": list(g.rooms),
        "min_minutes": g.min_minutes,
        "max_minutes": g.max_minutes,
        "max_open": g.max_open_per_attendee,
        "slot_step": settings.slot_step_min,
        "severities": {rule: settings.severities.get(rule, DEFAULT_SEVERITY[rule]) for rule in RULES},
        "public": settings.public,
    }


def settings_from_form(reader: FormReader, current: ScheduleSettings) -> ScheduleSettings:
    """New :class:`ScheduleSettings` from the form, over ``current`` (fields the form lacks are kept)."""
    opens = reader.moment("opens", "Proposals open")
    closes = reader.moment("closes", "Proposals close")
    if opens is not None and closes is not None and closes <= opens:
        reader.problems.append("proposals must close after they open")
    low = reader.number("min_minutes", "Shortest session", lo=5, hi=24 * 60, default=15)
    high = reader.number("max_minutes", "Longest session", lo=5, hi=24 * 60, default=120)
    if low is not None and high is not None and high < low:
        reader.problems.append("the longest session must not be shorter than the shortest")
    severities: dict[str, str] = {}
    for rule in RULES:
        if rule in FIXED:
            continue
        chosen = reader.choice(
            f"severity_{rule}", RULE_LABELS.get(rule, rule), SEVERITIES, DEFAULT_SEVERITY[rule]
        )
        if chosen != DEFAULT_SEVERITY[rule]:
            severities[rule] = chosen
    grassroots = {
        **msgspec.to_builtins(current.grassroots),
        "enabled": reader.flag("enabled"),
        "opens_at": opens,
        "closes_at": closes,
        "rooms": reader.all("rooms"),
        "min_minutes": low,
        "max_minutes": high,
        "max_open_per_attendee": reader.number(
            "max_open", "Open proposals per attendee", lo=1, hi=100, default=3
        ),
    }
    raw = {
        **msgspec.to_builtins(current),
        "severities": severities,
        "grassroots": {k: v for k, v in grassroots.items() if v is not None},
        "slot_step_min": reader.number("slot_step", "Slot step", lo=5, hi=60, default=15),
    }
    raw["public"] = reader.flag("public")
    reader.done()
    return struct(ScheduleSettings, raw)


# --- the previewed import file ----------------------------------------------------------------


def pack_file(filename: str, data: bytes) -> str:
    """The previewed file, carried by the confirm form (compressed: a schedule shrinks tenfold).

    Kept in the page rather than on the hub: any worker can take the
    confirmation, and nothing is left behind when an organizer walks away.
    The confirmed import is checked again in full, so the field is no trust.
    """
    return base64.urlsafe_b64encode(zlib.compress(data, 6)).decode()


def unpack_file(packed: str) -> bytes:
    """The file :func:`pack_file` packed; a damaged field is refused, an inflated one stops at the limit."""
    damaged = Invalid("the previewed file did not come back intact; choose the file again")
    try:
        inflater = zlib.decompressobj()
        raw = base64.b64decode(packed.encode(), altchars=b"-_", validate=True)
        data = inflater.decompress(raw, MAX_SCHEDULE_BYTES + 1)
    except (ValueError, zlib.error):
        raise damaged from None
    if len(data) > MAX_SCHEDULE_BYTES or inflater.unconsumed_tail:
        raise KonferencoError(
            f"the file is larger than {MAX_SCHEDULE_BYTES // (1024 * 1024)} MB", code="body_too_large"
        )
    if not inflater.eof:
        raise damaged
    return data
