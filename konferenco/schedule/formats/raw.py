"""A schedule file as read, before its values are checked: the common ground of JSON and XML.

The JSON and XML readers only take the file apart (shape, syntax, where each
thing is); :mod:`.assemble` then checks and converts the values the same way
for both, so a duration, a date or a duplicate id is judged by one rule
whatever the format.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class RawRoom:
    """A room the file declares (JSON ``conference.rooms``, or an XML ``<room>`` wrapper)."""

    name: str
    where: str
    line: int | None = None
    guid: str = ""
    capacity: object = None


@dataclass(slots=True)
class RawEvent:
    """One session as the file writes it: every value still a string (or what JSON had)."""

    where: str
    room: str  # the room it is filed under (JSON day key, XML wrapping <room>)
    line: int | None = None
    day_date: str = ""  # the day it is filed under, for a session with a start but no date
    room_named: str | None = None  # its own room field, when it has one
    guid: str = ""
    number: str = ""  # the legacy numeric id
    code: str = ""  # pretalx's short code
    slug: str = ""
    url: str = ""
    title: str = ""
    subtitle: str = ""
    date: str = ""
    start: str = ""
    end: str = ""
    duration: object = None
    type: str = ""
    track: str = ""
    language: str = ""
    abstract: str = ""
    description: str = ""
    persons: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RawSchedule:
    """The whole file: its identity, its declared rooms and its sessions in file order."""

    format: str
    title: str = ""
    acronym: str = ""
    version: str = ""
    timezone: str = ""
    start: str = ""
    end: str = ""
    declared_rooms: list[RawRoom] | None = None  # None: the file has no room list
    wrapper_rooms: list[RawRoom] = field(default_factory=list)  # rooms seen around sessions
    events: list[RawEvent] = field(default_factory=list)
    #: Where the file-level values are ("time_zone_name", "start", "end"), for problems about them.
    places: dict[str, str] = field(default_factory=dict)
