"""Take apart a frab ``schedule.xml`` (frab, pretalx, the CCC hub): shape and line numbers.

Parsed with defusedxml: no entity is expanded and nothing external is
fetched, so a "billion laughs" file or an XXE attempt is refused instead of
eating the memory or reading ``/etc/passwd``.  Every element keeps its line,
so a problem says "line 212" the way a text editor shows it.

Pretalx's own files fail the XSD on slugs (``CONSUMERS.md``); nothing here
checks slugs, they are kept as text.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element, TreeBuilder

from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import DefusedXMLParser  # type: ignore[import-untyped]

from .limits import MAX_DAYS, MAX_SESSIONS
from .problems import Problems
from .raw import RawEvent, RawRoom, RawSchedule


class _LineTarget:
    """An ElementTree builder that remembers each element's line (the C builder has no place for it)."""

    def __init__(self) -> None:
        self.builder = TreeBuilder()
        self.parser: Any = None
        self.lines: dict[Element, int] = {}

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        element = self.builder.start(tag.rpartition("}")[2], attrs)  # namespaces are not frab's
        self.lines[element] = self.parser.parser.CurrentLineNumber if self.parser else 0
        return element

    def end(self, tag: str) -> Element:
        return self.builder.end(tag.rpartition("}")[2])

    def data(self, text: str) -> None:
        self.builder.data(text)

    def close(self) -> Element:
        return self.builder.close()


def parse_xml(data: bytes, problems: Problems) -> tuple[Element, dict[Element, int]] | None:
    """The root element and every element's line, or None with the problem recorded."""
    target = _LineTarget()
    parser = DefusedXMLParser(target=target, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    target.parser = parser
    try:
        parser.feed(data)
        root = parser.close()
    except DefusedXmlException as error:
        problems.refuse(
            "file",
            "the XML declares entities or external references, which a schedule never needs; "
            f"refused for safety ({type(error).__name__})",
        )
        return None
    except SyntaxError as error:  # ParseError, from whichever copy of ElementTree defusedxml loaded
        line, column = getattr(error, "position", (0, 0))
        reason = str(error).rsplit(": line", 1)[0]
        problems.refuse(f"line {line}, column {column}", f"not well-formed XML: {reason}", line=line)
        return None
    except (ValueError, LookupError) as error:  # an unknown encoding declaration
        problems.refuse("file", f"the XML cannot be read: {error}")
        return None
    return root, target.lines


def read_xml(data: bytes, problems: Problems) -> RawSchedule | None:
    """The raw schedule of a ``schedule.xml``, or None when it is not one (the problems say why)."""
    parsed = parse_xml(data, problems)
    if parsed is None:
        return None
    root, lines = parsed

    def at(element: Element) -> tuple[str, int]:
        line = lines.get(element, 0)
        return f"line {line}", line

    if root.tag != "schedule":
        problems.refuse(
            "line 1",
            f"this XML is not a frab schedule.xml: its root element is <{root.tag}>, not <schedule>",
            line=lines.get(root, 1),
        )
        return None
    conference = root.find("conference")
    if conference is None:
        conference = Element("conference")
    generator = root.find("generator")
    name = (generator.get("name") or "").lower() if generator is not None else ""
    origin = next((k for k in ("konferenco", "pretalx", "frab") if k in name), "")
    if not origin:
        origin = "pretalx" if any(e.get("code") for e in root.iterfind("day/room/event")) else "frab"
    raw = RawSchedule(
        format=f"{origin}-xml",
        title=_text(conference, "title"),
        acronym=_text(conference, "acronym"),
        version=_text(root, "version"),
        timezone=_text(conference, "time_zone_name"),
        start=_text(conference, "start"),
        end=_text(conference, "end"),
    )
    for key in ("time_zone_name", "start", "end"):
        child = conference.find(key)
        raw.places[key] = f"line {lines.get(child, 0)}" if child is not None else f"<conference><{key}>"
    days = root.findall("day")
    if len(days) > MAX_DAYS:
        problems.refuse("file", f"{len(days)} days is more than a schedule has (at most {MAX_DAYS})")
        return None
    count = 0
    for day in days:
        day_date = day.get("date") or ""
        for room in day.findall("room"):
            where, line = at(room)
            room_name = (room.get("name") or "").strip()
            if not room_name:
                problems.refuse(where, "a <room> needs a name attribute", line=line)
                continue
            raw.wrapper_rooms.append(
                RawRoom(name=room_name, where=where, line=line, guid=room.get("guid") or "")
            )
            events = room.findall("event")
            count += len(events)
            if count > MAX_SESSIONS:
                problems.refuse(
                    where, f"more than {MAX_SESSIONS} sessions: not a schedule we read", line=line
                )
                return None
            for event in events:
                raw.events.append(_event(event, *at(event), room_name, day_date))
    return raw


def _text(parent: Element, tag: str) -> str:
    child = parent.find(tag)
    return (child.text or "") if child is not None else ""


def _event(event: Element, where: str, line: int, room: str, day_date: str) -> RawEvent:
    named = event.find("room")
    persons = [(p.text or "").strip() for p in event.iterfind("persons/person")]
    return RawEvent(
        where=where,
        line=line,
        room=room,
        day_date=day_date,
        room_named=(named.text or "").strip() if named is not None else None,
        guid=event.get("guid") or "",
        number=event.get("id") or "",
        code=event.get("code") or "",
        slug=_text(event, "slug"),
        url=_text(event, "url"),
        title=_text(event, "title"),
        subtitle=_text(event, "subtitle"),
        date=_text(event, "date"),
        start=_text(event, "start"),
        end=_text(event, "end"),
        duration=_text(event, "duration") if event.find("duration") is not None else None,
        type=_text(event, "type"),
        track=_text(event, "track"),
        language=_text(event, "language"),
        abstract=_text(event, "abstract"),
        description=_text(event, "description"),
        persons=[p for p in persons if p],
    )
