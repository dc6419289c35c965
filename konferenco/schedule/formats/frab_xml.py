"""Write a frab ``schedule.xml`` that the XSD accepts and real importers take whole.

Beyond the XSD (``schedule.xml.xsd``), ``CONSUMERS.md`` lists what pretalx's
frab importer and older importers refuse or silently drop; each row is
honoured here: durations as ``HH:MM``, an empty ``<subtitle/>`` on every
event, a title that is never empty, UTF-8, a real ``<version>`` (never
``latest``/``wip``), unique integer ``id`` attributes and UUID ``guid``\\ s
stable per session, an event's ``<room>`` equal to the ``<room>`` that wraps
it, a ``<description>`` on every event, and slugs of the XSD's shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from xml.etree.ElementTree import Element, SubElement, indent, tostring

from konferenco.schedule.model import EventFrame, Room, Session

from .identity import room_guid
from .layout import Layout, Placed, lay_out
from .values import format_duration, xml_text


def write_frab_xml(
    rooms: Mapping[str, Room],
    sessions: Mapping[str, Session],
    frame: EventFrame,
    *,
    version: str | None = None,
) -> bytes:
    """The schedule as frab ``schedule.xml`` bytes (UTF-8), the same bytes for the same schedule.

    ``version`` is the schedule's version as consumers show it; by default a
    hash of the exported content, which changes exactly when the schedule
    does.  ``latest`` and ``wip`` are refused (``ValueError``): importers
    reserve them.
    """
    layout = lay_out(rooms, sessions, frame, version=version)
    root = Element("schedule")
    SubElement(root, "generator", {"name": "konferenco"})
    _text(root, "version", layout.version)
    conference = SubElement(root, "conference")
    _text(conference, "acronym", layout.acronym)
    _text(conference, "title", layout.title)
    if layout.days:
        _text(conference, "start", layout.days[0].date.isoformat())
        _text(conference, "end", layout.days[-1].date.isoformat())
    _text(conference, "days", str(len(layout.days)))
    _text(conference, "timeslot_duration", format_duration(layout.timeslot_minutes * 60_000))
    _text(conference, "time_zone_name", frame.timezone)
    for day in layout.days:
        day_element = SubElement(
            root,
            "day",
            {
                "index": str(day.index),
                "date": day.date.isoformat(),
                "start": day.start.isoformat(),
                "end": day.end.isoformat(),
            },
        )
        for room, placed in day.rooms:
            room_element = SubElement(
                day_element, "room", {"name": xml_text(room.name), "guid": room_guid(room)}
            )
            for p in placed:
                _event(room_element, p, layout)
    indent(root, space="  ")
    # serialised as text, then encoded once: ElementTree's own UTF-8 path is ten times slower
    body = tostring(root, encoding="unicode")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body.encode("utf-8") + b"\n"


def _text(parent: Element, tag: str, value: str) -> Element:
    child = SubElement(parent, tag)
    child.text = xml_text(value)
    return child


def _event(parent: Element, p: Placed, layout: Layout) -> None:
    s = p.session
    event = SubElement(parent, "event", {"guid": p.guid, "id": str(p.number)})
    _text(event, "date", p.start.isoformat())
    _text(event, "start", p.start.strftime("%H:%M"))
    _text(event, "duration", format_duration(s.ends_at - s.starts_at))
    _text(event, "room", p.room.name)
    _text(event, "slug", p.slug)
    if s.url.startswith(("http://", "https://")):
        _text(event, "url", s.url)
    _text(event, "title", " ".join(s.title.split()) or "(untitled)")
    SubElement(event, "subtitle")
    _text(event, "track", s.track)
    _text(event, "type", s.type or "talk")
    if s.language:
        _text(event, "language", s.language)
    _text(event, "abstract", s.abstract)
    SubElement(event, "description")
    persons = SubElement(event, "persons")
    for name, guid in p.persons:
        person = SubElement(persons, "person", {"guid": guid})
        person.text = xml_text(name)
    SubElement(event, "links")
