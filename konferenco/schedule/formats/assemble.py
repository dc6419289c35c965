"""Judge a raw schedule's values and turn it into rooms and sessions: one set of rules for JSON and XML.

What makes the file refused (:class:`.ScheduleFileError`, nothing imported):
an unknown or unreadable time zone, a date or duration that cannot be read,
a session that ends before it starts, two sessions with the same id, a
session in a room the file does not have, a session without any id.  These
mean the file is not what its author thinks it is; importing the rest would
leave a schedule that looks right and is not.

What skips one session (listed in ``skipped``, the rest imported): no title,
no start, no duration, or a duration of zero.  Such a session cannot be put
in a room at a time; it is usually a placeholder, and the organizer sees it
in the report.

Ids.  A session's id is its ``guid`` (frab, pretalx and the CCC hub all
write one, unique across systems), lower-cased; without a guid, pretalx's
``code`` or the numeric ``id`` prefixed by the conference acronym.  A room's
id is its name as a slug (``Saal 1`` → ``saal-1``): rooms are referenced by
name in both formats, and room guids are not reliable (pretalx's DemoCon
export gives both its rooms the same guid).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import msgspec

from konferenco.schedule.model import KNOWN_TYPES, Room, Session

from .imported import ImportedSchedule
from .problems import Problems
from .raw import RawEvent, RawRoom, RawSchedule
from .values import (
    as_id,
    canonical_uuid,
    clip,
    normal_lines,
    parse_clock,
    parse_datetime,
    parse_day,
    parse_duration,
    short_hash,
    slugify,
    to_ms,
    unstorable,
    zone_named,
)

# The model's limits (konferenco.schedule.model): longer values are cut, with a warning.
TITLE_MAX = 500
ABSTRACT_MAX = 8000
SHORT_MAX = 120
LANGUAGE_MAX = 16
URL_MAX = 500
SPEAKERS_MAX = 50
_DATE_MAX = 2**53 - 1


class _Cuts:
    """Values shortened or dropped, counted per kind: one warning each, not one per session."""

    def __init__(self) -> None:
        self.seen: dict[str, list[str]] = {}

    def note(self, kind: str, where: str) -> None:
        self.seen.setdefault(kind, []).append(where)

    def warn(self, problems: Problems) -> None:
        for kind, places in self.seen.items():
            count = len(places)
            problems.warn(
                places[0], f"{count} session{'s' if count != 1 else ''}: {kind} (the first is here)"
            )


def assemble(raw: RawSchedule, problems: Problems) -> ImportedSchedule | None:
    """The imported schedule, or None when a fatal problem was found (all of them are collected)."""
    tzname = raw.timezone.strip()
    zone = zone_named(tzname) if tzname else None
    if tzname and zone is None:
        problems.refuse(
            raw.places.get("time_zone_name", "time_zone_name"),
            f"unknown time zone “{tzname}”: use an IANA name such as Europe/Berlin",
            source_id=tzname,
        )
    rooms, by_name = _rooms(raw, problems)
    cuts = _Cuts()
    sessions: dict[str, Session] = {}
    first_at: dict[str, str] = {}
    offsets: list[str] = []
    for event in raw.events:
        made = _session(event, raw, zone, by_name, problems, cuts, offsets)
        if made is None:
            continue
        if made.id in sessions:
            problems.refuse(
                event.where,
                f"another session has the same id (at {first_at[made.id]}): ids must be unique in a file",
                source_id=made.source_id,
                line=event.line,
            )
            continue
        sessions[made.id] = made
        first_at[made.id] = event.where
    if problems.fatal:
        return None
    cuts.warn(problems)
    if offsets and tzname:
        problems.warn(
            offsets[0],
            f"{len(offsets)} session times carry a UTC offset that is not the one of the file's time zone "
            f"{tzname}; they are read as written, with their offset (check the time zone setting of the "
            "program that exported the file)",
        )
    if not sessions and not problems.skipped:
        problems.warn("file", "the file has no sessions")
    return ImportedSchedule(
        format=raw.format,
        title=raw.title.strip(),
        acronym=raw.acronym.strip(),
        version=raw.version.strip(),
        timezone=tzname if zone is not None else None,
        starts_on=_day_of(raw.start, zone, raw.places.get("start", "start"), problems),
        ends_on=_day_of(raw.end, zone, raw.places.get("end", "end"), problems),
        rooms=rooms,
        sessions=sessions,
        skipped=list(problems.skipped),
        warnings=list(problems.warnings),
        places=first_at,
    )


def room_ids(names: list[str]) -> dict[str, str]:
    """A stable id per room name: its slug, with a hash of the name when two names slug alike."""
    slugs = {name: slugify(name, 40) or f"room-{short_hash(name, 8)}" for name in names}
    clashes = {slug for slug, n in Counter(slugs.values()).items() if n > 1}
    return {name: f"{slug}-{short_hash(name)}" if slug in clashes else slug for name, slug in slugs.items()}


def _rooms(raw: RawSchedule, problems: Problems) -> tuple[dict[str, Room], dict[str, str]]:
    """The file's rooms in order (declared first), and room name → id."""
    ordered: list[RawRoom] = []
    seen: dict[str, RawRoom] = {}
    for room in raw.declared_rooms or []:
        if room.name in seen:
            problems.refuse(
                room.where, f"a second room named “{room.name}” (the first is at {seen[room.name].where})"
            )
            continue
        seen[room.name] = room
        ordered.append(room)
    for room in raw.wrapper_rooms:
        if room.name in seen:
            continue
        if raw.declared_rooms is not None:
            problems.refuse(
                room.where,
                f"sessions are filed under room “{room.name}”, which is not in the file's room list",
                source_id=room.name,
                line=room.line,
            )
            continue
        seen[room.name] = room
        ordered.append(room)
    ids = room_ids([r.name for r in ordered])
    rooms: dict[str, Room] = {}
    for position, room in enumerate(ordered):
        bad = unstorable(room.name)
        if bad:
            problems.refuse(room.where, f"the room's name contains {bad}, which no text here may hold")
        name, cut = clip(room.name.strip(), SHORT_MAX)
        if cut:
            problems.warn(room.where, "the room's name is longer than 120 characters and was shortened")
        rooms[ids[room.name]] = Room(
            id=ids[room.name], name=name, capacity=_capacity(room, problems), position=position
        )
    return rooms, {r.name: ids[r.name] for r in ordered}


def _capacity(room: RawRoom, problems: Problems) -> int | None:
    value = room.capacity
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 10_000_000:
        return int(value)
    problems.warn(room.where, f"the room's capacity “{value}” is not a number of people; left empty")
    return None


def _session(
    event: RawEvent,
    raw: RawSchedule,
    tz: ZoneInfo | None,
    by_name: dict[str, str],
    problems: Problems,
    cuts: _Cuts,
    offsets: list[str],
) -> Session | None:
    """One session, or None when it is refused (recorded as fatal) or skipped (recorded as skipped)."""
    where, line = event.where, event.line
    guid = canonical_uuid(event.guid)
    source_id = event.guid.strip() or event.code.strip() or event.number.strip() or event.slug.strip()
    title = " ".join(event.title.split())
    label = f"“{clip(title, 60)[0]}”" if title else "the session"
    refused = False

    def refuse(reason: str) -> None:
        nonlocal refused
        refused = True
        problems.refuse(where, f"{label}: {reason}", source_id=source_id, line=line)

    def skip(reason: str) -> None:
        problems.skip(where, f"{label}: {reason}", source_id=source_id, line=line)

    # --- what refuses the file: every check runs, so all of a session's problems are listed ---
    for field, text in _texts(event):
        bad = unstorable(text)
        if bad:
            refuse(f"its {field} contains {bad}, which no text here may hold")
    sid = _session_id(event, guid, raw.acronym)
    if not sid:
        refuse("has no guid, code or id, so a second import could not find it again")
    room_id = by_name.get(event.room)
    if room_id is None:  # its room was refused already (unknown or unnamed)
        refused = True
    named = (event.room_named or "").strip()
    if named and named != event.room:
        if named in by_name:
            problems.warn(
                where,
                f"{label} is filed under room “{event.room}” but names room “{named}”; "
                f"it is kept in “{event.room}”, as other importers do",
                source_id=source_id,
                line=line,
            )
        else:
            refuse(f"names room “{named}”, which the file does not have")
    starts = _start(event, tz, refuse)
    ends, length = _end(event, starts, tz, refuse)
    if starts is not None and ends is not None and ends < starts:
        refuse(f"ends before it starts ({event.date or event.start}, {event.end or 'duration ' + length})")
    if refused:
        return None
    # --- what skips this session alone ---------------------------------------------------------
    if not title:
        skip("has no title")
        return None
    if starts is None:
        skip("has no start time")
        return None
    if ends is None:
        skip("has no duration or end")
        return None
    if ends == starts:
        skip(f"lasts no time ({length or '00:00'}): there is nothing to place in a room")
        return None
    assert room_id is not None
    if tz is not None and event.date:
        written = parse_datetime(event.date, tz)
        if written is not None and written.utcoffset() != written.astimezone(tz).utcoffset():
            offsets.append(where)
    return _build(event, sid, source_id, title, room_id, starts, ends, guid, problems, cuts)


def _texts(event: RawEvent) -> list[tuple[str, str]]:
    texts = [(name, getattr(event, name)) for name in _TEXT_FIELDS]
    return texts + [("speaker", name) for name in event.persons]


_TEXT_FIELDS = (
    "guid", "number", "code", "slug", "url", "title", "subtitle", "date", "start", "end", "type", "track",
    "language", "abstract", "description",
)  # fmt: skip


def _session_id(event: RawEvent, guid: str | None, acronym: str) -> str:
    """The stable id: the guid, else pretalx's code, else the acronym and numeric id, else the slug."""
    if guid:
        return guid
    if event.guid.strip():
        return as_id(event.guid.strip())
    if event.code.strip():
        return as_id(f"code-{event.code.strip()}")
    if event.number.strip():
        return as_id(f"{acronym.strip() or 'id'}-{event.number.strip()}")
    if event.slug.strip():
        return as_id(f"slug-{event.slug.strip()}")
    return ""


def _start(event: RawEvent, tz: ZoneInfo | None, refuse: Callable[[str], None]) -> int | None:
    """The start in ms; None when the session has none or it is unreadable (then refused)."""
    if event.date.strip():
        moment = parse_datetime(event.date, tz)
        if moment is None:
            if tz is None and parse_datetime(event.date, ZoneInfo("UTC")) is not None:
                refuse(f"its date “{event.date}” has no UTC offset and the file names no time zone")
            else:
                refuse(f"its date “{event.date}” is not a date and time (write 2026-06-10T09:30:00+02:00)")
            return None
        return _ms(moment, refuse)
    if event.start.strip() and event.day_date.strip():
        day = parse_day(event.day_date)
        clock = parse_clock(event.start)
        if day is None or clock is None:
            refuse(f"its start “{event.day_date} {event.start}” cannot be read")
            return None
        if tz is None:
            refuse("it has a start time but no date with an offset, and the file names no time zone")
            return None
        naive = datetime.combine(day, datetime.min.time()) + clock
        return _ms(naive.replace(tzinfo=tz), refuse)
    return None


def _ms(moment: datetime, refuse: Callable[[str], None]) -> int | None:
    try:
        ms = to_ms(moment)
    except (OverflowError, OSError, ValueError):
        ms = -1
    if not 0 <= ms <= _DATE_MAX:
        refuse(f"its date {moment.isoformat()} is out of range")
        return None
    return ms


def _end(
    event: RawEvent, starts: int | None, tz: ZoneInfo | None, refuse: Callable[[str], None]
) -> tuple[int | None, str]:
    """The end in ms (None: none given, no start, or unreadable and refused), and the duration as written."""
    if event.end.strip():
        moment = parse_datetime(event.end, tz)
        if moment is None:
            refuse(f"its end “{event.end}” is not a date and time")
            return None, ""
        ends = _ms(moment, refuse)
        return (ends if starts is not None else None), event.end
    written = event.duration
    if written is None or (isinstance(written, str) and not written.strip()):
        return None, ""
    length = parse_duration(written)
    if length is None:
        refuse(f"its duration “{written}” cannot be read (write hours and minutes, at most a month: 01:30)")
        return None, str(written)
    return (starts + length if starts is not None else None), str(written)


def _build(
    event: RawEvent,
    sid: str,
    source_id: str,
    title: str,
    room_id: str,
    starts: int,
    ends: int,
    guid: str | None,
    problems: Problems,
    cuts: _Cuts,
) -> Session | None:
    where = event.where
    title, cut = clip(title, TITLE_MAX)
    if cut:
        cuts.note("the title is longer than 500 characters and was shortened", where)
    subtitle = " ".join(event.subtitle.split())
    abstract = normal_lines(event.abstract).strip() or normal_lines(event.description).strip()
    if subtitle and not abstract.startswith(subtitle):
        abstract = f"{subtitle}\n\n{abstract}" if abstract else subtitle
    abstract, cut = clip(abstract, ABSTRACT_MAX)
    if cut:
        cuts.note("the abstract is longer than 8,000 characters and was shortened", where)
    speakers = []
    for name in event.persons:
        short, cut = clip(" ".join(name.split()), SHORT_MAX)
        if cut:
            cuts.note("a speaker's name is longer than 120 characters and was shortened", where)
        if short and short not in speakers:
            speakers.append(short)
    if len(speakers) > SPEAKERS_MAX:
        cuts.note(f"more than {SPEAKERS_MAX} speakers; the first {SPEAKERS_MAX} were kept", where)
        speakers = speakers[:SPEAKERS_MAX]
    kind = " ".join(event.type.split())
    kind = kind.lower() if kind.lower() in KNOWN_TYPES else kind
    kind, cut = clip(kind or "talk", SHORT_MAX)
    if cut:
        cuts.note("the type is longer than 120 characters and was shortened", where)
    track, cut = clip(" ".join(event.track.split()), SHORT_MAX)
    if cut:
        cuts.note("the track is longer than 120 characters and was shortened", where)
    language = event.language.strip()
    if len(language) > LANGUAGE_MAX:
        cuts.note(f"the language is longer than {LANGUAGE_MAX} characters and was left out", where)
        language = ""
    slug = event.slug.strip()
    url = event.url.strip()
    url = url if url.startswith(("http://", "https://")) else ""  # not our own urn:uuid: placeholders
    source, _ = clip(source_id, SHORT_MAX)
    session = Session(
        id=sid,
        title=title,
        room_id=room_id,
        starts_at=starts,
        ends_at=ends,
        speakers=speakers,
        abstract=abstract,
        type=kind,
        track=track,
        language=language,
        status="scheduled",
        source_id=guid or source,
        slug=slug if len(slug) <= SHORT_MAX else "",
        url=url if len(url) <= URL_MAX else "",
    )
    try:  # the model's own limits, as the control document will check them
        msgspec.convert(msgspec.to_builtins(session), Session)
    except msgspec.ValidationError as error:
        problems.refuse(where, f"cannot be stored: {error}", source_id=source_id, line=event.line)
        return None
    return session


def _day_of(text: str, zone: ZoneInfo | None, where: str, problems: Problems) -> str | None:
    """A conference start or end as a day in the file's zone; None (with a warning) when unreadable."""
    text = text.strip()
    if not text:
        return None
    if len(text) > 10:
        moment = parse_datetime(text, zone)
        if moment is not None:
            local = moment.astimezone(zone) if zone is not None else moment
            return local.date().isoformat()
    day = parse_day(text)
    if day is None:
        problems.warn(where, f"the conference date “{text}” cannot be read; it is left out")
        return None
    return day.isoformat()
