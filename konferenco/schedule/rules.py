"""The schedule's conflict rules: one engine, used by every editor, importer and the slot finder.

A pure function of (rooms, sessions, event frame, settings) to a list of
:class:`Finding`.  The appliance, the hub, the import report and the slot
finder all call :class:`ScheduleIndex`, so a change refused at the venue is
refused on the hub with the same sentence.

Severities are the organizers' (``settings.severities``) over
:data:`DEFAULT_SEVERITY`, with one exception: two sessions in one room at
once is always ``block`` unless an organizer approved that overlap on the
session (``Session.overlap``, who and why); then it is a ``warn`` that
names the approval.  The ``why`` of that: a double-booked room is the one
mistake attendees notice in person, so it may never happen by accident.

Only placed sessions (status ``scheduled``) take part; proposed and
cancelled ones occupy nothing.

Checking one session against 5,000 costs a bisect in its room and a look at
its speakers' few sessions (:meth:`ScheduleIndex.check`); the full list
(:meth:`ScheduleIndex.findings`) is a sweep per room and per person.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import msgspec

from konferenco.schedule.model import (
    EventFrame,
    Room,
    ScheduleSettings,
    Session,
    Severity,
    local,
    open_intervals,
)

#: Every rule, with its default severity and what it protects.
DEFAULT_SEVERITY: dict[str, Severity] = {
    "room_overlap": "block",  # two sessions in one room at once
    "changeover": "warn",  # less than the room's changeover buffer between two sessions
    "person_overlap": "warn",  # a speaker or host in two places at once
    "room_closed": "block",  # outside the room's opening hours
    "over_capacity": "warn",  # expected attendance above the room's capacity
    "outside_event": "block",  # before the event starts or after it ends
    "grassroots_room": "block",  # a grassroots session in a room not open to grassroots
    "bad_time": "block",  # ends before it starts, or in a room that does not exist
}
RULES = tuple(DEFAULT_SEVERITY)
#: Rules whose severity an organizer cannot lower (see the module's docstring).
FIXED = frozenset({"room_overlap", "bad_time"})


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    rule: str
    severity: Severity
    sessions: list[str]  # ids, the checked session first
    message: str
    room_id: str | None = None


class ScheduleRefused(Exception):
    """A change a ``block`` finding refuses; ``findings`` say why, in organizers' words."""

    def __init__(self, findings: list[Finding]) -> None:
        super().__init__(" ".join(f.message for f in findings))
        self.findings = findings


def severity_of(settings: ScheduleSettings, rule: str) -> Severity:
    if rule in FIXED:
        return DEFAULT_SEVERITY[rule]
    return settings.severities.get(rule, DEFAULT_SEVERITY.get(rule, "warn"))


def blocking(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "block"]


@dataclass(slots=True)
class _RoomLine:
    """A room's placed sessions sorted by start, for bisecting."""

    starts: list[int] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    longest: int = 0


class ScheduleIndex:
    """Rooms and sessions, indexed for the rules; build once per schedule version, query many times."""

    def __init__(
        self,
        rooms: Mapping[str, Room],
        sessions: Mapping[str, Session],
        frame: EventFrame,
        settings: ScheduleSettings | None = None,
    ) -> None:
        self.rooms = dict(rooms)
        self.sessions = dict(sessions)
        self.frame = frame
        self.settings = settings or ScheduleSettings()
        self.zone: ZoneInfo = frame.zone
        self._lines: dict[str, _RoomLine] = defaultdict(_RoomLine)
        self._people: dict[str, list[Session]] = defaultdict(list)
        self._hours: dict[str, list[tuple[int, int]] | None] = {
            rid: open_intervals(room, self.zone) for rid, room in self.rooms.items()
        }
        placed = sorted((s for s in self.sessions.values() if s.placed), key=lambda s: (s.starts_at, s.id))
        for s in placed:
            line = self._lines[s.room_id]
            line.starts.append(s.starts_at)
            line.sessions.append(s)
            line.longest = max(line.longest, s.ends_at - s.starts_at)
            for person in s.people:
                self._people[person].append(s)

    # --- words -----------------------------------------------------------------------------

    def when(self, s: Session) -> str:
        start, end = local(s.starts_at, self.zone), local(s.ends_at, self.zone)
        if start.date() == end.date() or s.ends_at - s.starts_at < 86_400_000:
            return f"{start:%a %d %b %H:%M}\N{EN DASH}{end:%H:%M}"
        return f"{start:%a %d %b %H:%M}\N{EN DASH}{end:%a %d %b %H:%M}"

    def room_name(self, room_id: str) -> str:
        room = self.rooms.get(room_id)
        return room.name if room else room_id

    def _label(self, s: Session) -> str:
        return f"“{s.title}” ({self.when(s)})"

    # --- queries -------------------------------------------------------------------------

    def in_room(self, room_id: str, start: int, end: int) -> list[Session]:
        """Placed sessions in a room that intersect ``[start, end)``."""
        line = self._lines.get(room_id)
        if line is None:
            return []
        lo = bisect.bisect_left(line.starts, start - line.longest)
        hi = bisect.bisect_left(line.starts, end)
        return [s for s in line.sessions[lo:hi] if s.ends_at > start and s.starts_at < end]

    def busy_for(self, attendee_id: str) -> list[tuple[int, int]]:
        """When an attendee (speaker or host) is already due somewhere: ``[start, end)`` spans."""
        return [(s.starts_at, s.ends_at) for s in self._people.get(f"id:{attendee_id}", ())]

    def open_hours(self, room_id: str) -> list[tuple[int, int]] | None:
        return self._hours.get(room_id)

    def check(self, s: Session, *, ignore: Iterable[str] = ()) -> list[Finding]:
        """What ``s`` would be found guilty of if placed as it is (itself and ``ignore`` excluded).

        For an edit, pass the session's new value: its old value is ignored
        because it has the same id.
        """
        skip = {s.id, *ignore}
        found: list[Finding] = []
        if s.ends_at <= s.starts_at:
            found.append(self._finding("bad_time", [s], f"“{s.title}” ends before it starts."))
            return found
        room = self.rooms.get(s.room_id)
        if room is None:
            found.append(
                self._finding("bad_time", [s], f"“{s.title}” is in room “{s.room_id}”, which does not exist.")
            )
            return found
        if not s.placed:
            return found
        found += self._solo(s, room)
        buffer = room.buffer_min * 60_000
        for other in self.in_room(s.room_id, s.starts_at - buffer, s.ends_at + buffer):
            if other.id in skip:
                continue
            found.append(self._pair(s, other, room))
        people = s.people
        seen: set[str] = set()
        for person in people:
            for other in self._people.get(person, ()):
                if other.id in skip or other.id in seen:
                    continue
                if other.starts_at < s.ends_at and other.ends_at > s.starts_at:
                    seen.add(other.id)
                    found.append(self._people_clash(s, other))
        return [f for f in found if f.severity != "ignore"]

    def findings(self) -> list[Finding]:
        """Every finding of the whole schedule, each pair once."""
        found: list[Finding] = []
        for s in self.sessions.values():
            if s.ends_at <= s.starts_at or s.room_id not in self.rooms:
                found += self.check(s)
        for room_id, line in self._lines.items():
            room = self.rooms.get(room_id)
            if room is None:
                continue
            buffer = room.buffer_min * 60_000
            active: list[Session] = []  # sessions whose (end + buffer) is after the current start
            for s in line.sessions:
                if s.ends_at <= s.starts_at:
                    continue
                found += self._solo(s, room)
                active = [a for a in active if a.ends_at + buffer > s.starts_at]
                for other in active:
                    found.append(self._pair(other, s, room))
                active.append(s)
        pairs: set[tuple[str, str]] = set()
        for sessions in self._people.values():
            ordered = sorted(sessions, key=lambda x: (x.starts_at, x.id))
            active = []
            for s in ordered:
                active = [a for a in active if a.ends_at > s.starts_at]
                for other in active:
                    key = (other.id, s.id)
                    if key not in pairs and other.ends_at > s.starts_at and other.room_id in self.rooms:
                        pairs.add(key)
                        found.append(self._people_clash(other, s))
                active.append(s)
        return [f for f in found if f.severity != "ignore"]

    # --- the rules -------------------------------------------------------------------------

    def _finding(self, rule: str, sessions: list[Session], message: str, room: str | None = None) -> Finding:
        return Finding(
            rule=rule,
            severity=severity_of(self.settings, rule),
            sessions=[s.id for s in sessions],
            message=message,
            room_id=room,
        )

    def _solo(self, s: Session, room: Room) -> list[Finding]:
        """The rules that look at one session alone."""
        found = []
        frame = self.frame
        if (frame.starts_at is not None and s.starts_at < frame.starts_at) or (
            frame.ends_at is not None and s.ends_at > frame.ends_at
        ):
            found.append(
                self._finding(
                    "outside_event", [s], f"{self._label(s)} is outside the event's dates.", room.id
                )
            )
        hours = self._hours.get(room.id)
        if hours is not None and not any(a <= s.starts_at and s.ends_at <= b for a, b in hours):
            found.append(
                self._finding("room_closed", [s], f"{room.name} is closed during {self._label(s)}.", room.id)
            )
        if s.attendance is not None and room.capacity is not None and s.attendance > room.capacity:
            found.append(
                self._finding(
                    "over_capacity",
                    [s],
                    f"{s.attendance} people are expected at “{s.title}”, "
                    f"but {room.name} holds {room.capacity}.",
                    room.id,
                )
            )
        if s.grassroots and not self.grassroots_room(room):
            found.append(
                self._finding(
                    "grassroots_room",
                    [s],
                    f"{room.name} is not open to grassroots sessions (“{s.title}”).",
                    room.id,
                )
            )
        return found

    def grassroots_room(self, room: Room) -> bool:
        allowed = self.settings.grassroots.rooms
        return room.grassroots and (not allowed or room.id in allowed)

    def _pair(self, s: Session, other: Session, room: Room) -> Finding:
        """Two sessions in one room closer than its buffer: an overlap or a short changeover."""
        if s.starts_at < other.ends_at and other.starts_at < s.ends_at:
            approved = s.overlap or other.overlap
            message = f"{room.name} is booked twice: {self._label(s)} and {self._label(other)}."
            if approved is not None:
                return Finding(
                    rule="room_overlap",
                    severity="warn",
                    sessions=[s.id, other.id],
                    message=f"{message} Overlap approved by {approved.by}: {approved.reason}",
                    room_id=room.id,
                )
            return self._finding("room_overlap", [s, other], message, room.id)
        gap = max(other.starts_at - s.ends_at, s.starts_at - other.ends_at) // 60_000
        return self._finding(
            "changeover",
            [s, other],
            f"{room.name} needs {room.buffer_min} min between sessions; "
            f"{self._label(s)} and {self._label(other)} leave {gap} min.",
            room.id,
        )

    def _people_clash(self, s: Session, other: Session) -> Finding:
        names = sorted(set(s.speakers) & set(other.speakers)) or sorted(
            {n for n in (s.host_name, other.host_name) if n}
        )
        who = ", ".join(names) if names else "A speaker"
        where = (
            f"{self.room_name(s.room_id)} and {self.room_name(other.room_id)}"
            if s.room_id != other.room_id
            else self.room_name(s.room_id)
        )
        return self._finding(
            "person_overlap",
            [s, other],
            f"{who} would be in two places at once ({where}): {self._label(s)} and {self._label(other)}.",
            s.room_id,
        )
