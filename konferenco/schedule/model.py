"""What a schedule is made of: rooms, sessions, the event's frame and its schedule settings.

One definition, shared by everyone who reads or writes a schedule: the
control document stores these structs as plain JSON (``sync.records``
re-exports :class:`Room` and :class:`Session`), the rule engine and the
slot finder check them, importers produce them and exporters write them.

Times are integer milliseconds since the epoch (UTC); the event's time
zone (:class:`EventFrame`) says how to show them and what "Tuesday 09:00"
means for a room's opening hours.  Every field added after the first
release has a default, so a replica that has not been upgraded yet reads a
newer session as the older shape (msgspec ignores unknown fields) and a
newer replica reads an older one.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

import msgspec

from konferenco.types import Millis

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+\Z")]
ShortText = Annotated[str, msgspec.Meta(max_length=120)]
Text = Annotated[str, msgspec.Meta(max_length=500)]
LongText = Annotated[str, msgspec.Meta(max_length=8000)]
Day = Annotated[str, msgspec.Meta(pattern=r"^\d{4}-\d{2}-\d{2}\Z")]
ClockTime = Annotated[str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d\Z|^24:00\Z")]

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR

SessionStatus = Literal["proposed", "scheduled", "cancelled"]
Severity = Literal["block", "warn", "ignore"]

#: Room features an organizer can ask for; free text beyond these is kept but not offered in forms.
KNOWN_FEATURES = ("projector", "stream", "hybrid", "recording", "whiteboard", "accessible")
#: Session types offered in forms; imports keep the type they bring.
KNOWN_TYPES = ("talk", "workshop", "meetup", "grassroots", "keynote", "lightning", "panel")


class Hours(msgspec.Struct, frozen=True, kw_only=True):
    """One day's opening hours of a room, in the event's time zone.

    ``closes`` may be ``24:00`` (open until midnight).  A room with no
    hours at all is open whenever the event runs.
    """

    day: Day
    opens: ClockTime
    closes: ClockTime


class Room(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    id: Id
    name: ShortText
    capacity: Annotated[int, msgspec.Meta(ge=0)] | None = None
    area: ShortText = ""  # floor, wing, "Hall 3 / upper level"
    accessibility: Text = ""
    hours: Annotated[list[Hours], msgspec.Meta(max_length=60)] = []
    features: Annotated[list[ShortText], msgspec.Meta(max_length=20)] = []
    grassroots: bool = False  # may grassroots sessions be placed here
    buffer_min: Annotated[int, msgspec.Meta(ge=0, le=240)] = 0  # changeover between two sessions
    position: Annotated[int, msgspec.Meta(ge=0)] = 0  # order in exports and grids


class OverlapApproval(msgspec.Struct, kw_only=True, frozen=True):
    """An organizer accepted that this session overlaps another in its room: who and why."""

    by: ShortText
    reason: Text
    at: Millis


class Session(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    id: Id
    title: Text
    room_id: Id
    starts_at: Millis
    ends_at: Millis
    speakers: Annotated[list[ShortText], msgspec.Meta(max_length=50)] = []  # names as printed
    speaker_ids: Annotated[list[Id], msgspec.Meta(max_length=50)] = []  # attendee ids, when known
    grassroots: bool = False
    abstract: LongText = ""
    type: ShortText = "talk"
    track: ShortText = ""
    language: Annotated[str, msgspec.Meta(max_length=16)] = ""
    attendance: Annotated[int, msgspec.Meta(ge=0)] | None = None  # expected
    status: SessionStatus = "scheduled"
    #: Grassroots: the attendee who proposed it and the one who hosts it (attendee ids), the
    #: proposal and the decision it came from.
    proposer: Id | None = None
    host: Id | None = None
    host_name: ShortText = ""
    proposal_id: Id | None = None
    decision_id: Id | None = None
    overlap: OverlapApproval | None = None
    #: The id the session had where it was imported from (pretalx/frab), to update it on re-import.
    source_id: ShortText = ""
    slug: ShortText = ""
    url: Text = ""

    @property
    def placed(self) -> bool:
        """Does the session occupy its room (rules and slots only look at these)?"""
        return self.status == "scheduled"

    @property
    def people(self) -> frozenset[str]:
        """Who must be there in person: attendee ids, else folded names."""
        found = {f"id:{i}" for i in self.speaker_ids}
        if self.host:
            found.add(f"id:{self.host}")
        if not self.speaker_ids:
            found |= {f"name:{fold_name(n)}" for n in self.speakers if n.strip()}
        return frozenset(found)


class GrassrootsSettings(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """Whether attendees may propose sessions in this event, and within what limits."""

    enabled: bool = False
    opens_at: Millis | None = None  # proposal window; None = from the start
    closes_at: Millis | None = None  # None = until the event ends
    rooms: Annotated[list[Id], msgspec.Meta(max_length=500)] = []  # empty: every room marked grassroots
    min_minutes: Annotated[int, msgspec.Meta(ge=5, le=24 * 60)] = 15
    max_minutes: Annotated[int, msgspec.Meta(ge=5, le=24 * 60)] = 120
    max_open_per_attendee: Annotated[int, msgspec.Meta(ge=1, le=100)] = 3


class ScheduleSettings(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """An event's schedule settings (the control document's ``settings["schedule"]``)."""

    severities: dict[str, Severity] = {}  # rule name -> severity, over :data:`DEFAULT_SEVERITY`
    grassroots: GrassrootsSettings = GrassrootsSettings()
    slot_step_min: Annotated[int, msgspec.Meta(ge=5, le=60)] = 15
    #: Published: the exports (schedule.ics/.xml/.json) are served without signing in, for
    #: conference apps that fetch ``schedule.xml`` anonymously.
    public: bool = False


class EventFrame(msgspec.Struct, kw_only=True, frozen=True):
    """When and where (which time zone) the event happens: from the catalog."""

    event_id: Id
    name: ShortText = ""
    timezone: str = "UTC"
    starts_at: Millis | None = None
    ends_at: Millis | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def days(self) -> list[str]:
        """The event's days (``YYYY-MM-DD``) in its time zone; empty when it has no dates."""
        if self.starts_at is None or self.ends_at is None:
            return []
        first = local(self.starts_at, self.zone).date()
        last = local(max(self.starts_at, self.ends_at - 1), self.zone).date()
        return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def local(ms: int, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ms / 1000, zone)


def at_local(day: str, clock: str, zone: ZoneInfo) -> int:
    """Milliseconds of a wall-clock time on a day in a zone (``24:00`` is the next midnight).

    A wall time skipped by a DST change resolves forward (``fold=0``), as
    every calendar does.
    """
    base = datetime.fromisoformat(day)
    if clock == "24:00":
        moment = datetime.combine(base.date() + timedelta(days=1), time(0, 0), zone)
    else:
        hh, mm = clock.split(":")
        moment = datetime.combine(base.date(), time(int(hh), int(mm)), zone)
    return int(moment.timestamp() * 1000)


def open_intervals(room: Room, zone: ZoneInfo) -> list[tuple[int, int]] | None:
    """The room's opening hours as sorted ``[start, end)`` intervals in ms; None = always open."""
    if not room.hours:
        return None
    spans = sorted((at_local(h.day, h.opens, zone), at_local(h.day, h.closes, zone)) for h in room.hours)
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


_SPACE = re.compile(r"\s+")


def fold_name(name: str) -> str:
    """A speaker's name compared without case, accents or extra spaces."""
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", name.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACE.sub(" ", bare).strip()


def settings_from(raw: object) -> ScheduleSettings:
    """The schedule settings from the control document's JSON (defaults for what is absent).

    Raises ``msgspec.ValidationError`` for a value that does not fit, so an
    API can say which field is wrong; a replica reading the document uses
    :func:`settings_or_default`.
    """
    if raw is None:
        return ScheduleSettings()
    return msgspec.convert(raw, ScheduleSettings, strict=False)


def settings_or_default(raw: object) -> ScheduleSettings:
    """As :func:`settings_from`, but an invalid value (a peer's bug) falls back to the defaults."""
    try:
        return settings_from(raw)
    except msgspec.ValidationError:
        return ScheduleSettings()
