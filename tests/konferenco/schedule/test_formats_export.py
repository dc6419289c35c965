"""schedule.xml and schedule JSON out: valid against the shipped schemas, taken whole by real importers.

Each row of ``CONSUMERS.md`` (what pretalx's frab importer refuses or drops
although the XSD allows it) is a test of its own here.
"""

from __future__ import annotations

import json
import random
import re
import uuid
import xml.etree.ElementTree as ET
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema  # type: ignore[import-untyped]
import msgspec
import pytest
import xmlschema
from hypothesis import given, settings
from hypothesis import strategies as st

from konferenco.schedule.formats import (
    read_schedule,
    session_guid,
    write_frab_xml,
    write_schedule_json,
)
from konferenco.schedule.model import MINUTE, EventFrame, Room, Session
from tests.konferenco.schedule.builders import FRAME, t

ROOT = Path(__file__).resolve().parents[3]
FORMATS = ROOT.parent / "shared" / "schedule-formats"
EXAMPLES = [
    (FORMATS / "examples" / "frab-camp2019.json", "Europe/Berlin"),
    (FORMATS / "examples" / "pretalx-democon.json", "UTC"),
    (ROOT / "tests" / "fixtures" / "schedules" / "lisbon-pretalx-style.xml", "Europe/Lisbon"),
]
XSD = xmlschema.XMLSchema(str(FORMATS / "schedule.xml.xsd"))


def _formats() -> jsonschema.FormatChecker:
    """The schema's formats, checked (jsonschema checks none of these without extra packages)."""
    checker = jsonschema.FormatChecker()

    def is_uuid(value: object) -> bool:
        return not isinstance(value, str) or str(uuid.UUID(value)) == value

    def is_date_time(value: object) -> bool:
        return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None

    def is_date(value: object) -> bool:
        return not isinstance(value, str) or bool(date.fromisoformat(value))

    def is_uri(value: object) -> bool:
        return not isinstance(value, str) or bool(urlsplit(value).scheme)

    checker.checks("uuid", raises=ValueError)(is_uuid)
    checker.checks("date-time", raises=ValueError)(is_date_time)
    checker.checks("date", raises=ValueError)(is_date)
    checker.checks("uri")(is_uri)
    return checker


SCHEMA = jsonschema.Draft6Validator(
    json.loads((FORMATS / "schedule.schema.json").read_text()), format_checker=_formats()
)


def xsd_errors(data: bytes) -> list[str]:
    return [str(e).splitlines()[0] for e in XSD.iter_errors(data.decode("utf-8"))]


def schema_errors(data: bytes) -> list[str]:
    return [f"{list(e.path)}: {e.message}" for e in SCHEMA.iter_errors(json.loads(data))]


def events_of(data: bytes) -> list[tuple[ET.Element, ET.Element]]:
    """(wrapping room, event) for every event of a schedule.xml."""
    root = ET.fromstring(data)
    return [(room, ev) for room in root.iterfind("day/room") for ev in room.iterfind("event")]


def venue() -> tuple[dict[str, Room], dict[str, Session]]:
    """A small venue schedule: talks, a grassroots session with its host, a cancelled and a proposed one."""
    rooms = {
        "a": Room(id="a", name="Hall A", capacity=100, grassroots=True),
        "b": Room(id="b", name="Room B", capacity=20, position=1),
    }
    sessions = [
        Session(id="s1", title="Opening", room_id="a", starts_at=t("09:00"), ends_at=t("09:30"),
                speakers=["Olga"]),
        Session(id="s2", title="Sync in practice", room_id="a", starts_at=t("10:00"), ends_at=t("10:45")),
        Session(
            id="gr-01J0000000000000000000000",
            title="Lockpicking for beginners",
            room_id="b",
            starts_at=t("11:00"),
            ends_at=t("12:00"),
            grassroots=True,
            type="grassroots",
            host="att-7",
            host_name="Kim Lee",
            proposer="att-7",
            abstract="Bring your own padlock.",
        ),
        Session(id="s3", title="Cancelled talk", room_id="a", starts_at=t("13:00"), ends_at=t("13:30"),
                status="cancelled"),
        Session(id="s4", title="Only proposed", room_id="a", starts_at=t("14:00"), ends_at=t("14:30"),
                status="proposed"),
    ]  # fmt: skip
    return rooms, {s.id: s for s in sessions}


# --- the examples, through both writers and back -----------------------------------------------


@pytest.mark.parametrize(("path", "zone"), EXAMPLES, ids=lambda v: getattr(v, "name", v))
def test_an_example_exported_as_xml_is_xsd_valid_and_reads_back_to_the_same_sessions(
    path: Path, zone: str
) -> None:
    original = read_schedule(path.read_bytes())
    frame = EventFrame(event_id="demo", name=original.title, timezone=zone)
    xml = write_frab_xml(original.rooms, original.sessions, frame)
    assert xsd_errors(xml) == []
    assert len(events_of(xml)) == len(original.sessions)
    back = read_schedule(xml, "schedule.xml")
    assert back.format == "konferenco-xml" and back.skipped == [] and back.warnings == []
    assert_same_sessions(original.rooms, original.sessions, back.rooms, back.sessions)


@pytest.mark.parametrize(("path", "zone"), EXAMPLES, ids=lambda v: getattr(v, "name", v))
def test_an_example_exported_as_json_is_schema_valid_and_reads_back_to_the_same_sessions(
    path: Path, zone: str
) -> None:
    original = read_schedule(path.read_bytes())
    frame = EventFrame(event_id="demo", name=original.title, timezone=zone)
    data = write_schedule_json(original.rooms, original.sessions, frame)
    assert schema_errors(data) == []
    back = read_schedule(data, "schedule.json")
    assert back.format == "konferenco-json" and back.skipped == [] and back.warnings == []
    assert back.timezone == zone
    assert_same_sessions(original.rooms, original.sessions, back.rooms, back.sessions)


def assert_same_sessions(
    rooms: dict[str, Room],
    sessions: dict[str, Session],
    back_rooms: dict[str, Room],
    back: dict[str, Session],
) -> None:
    assert len(back) == len(sessions)
    fields = ("title", "starts_at", "ends_at", "speakers", "abstract", "type", "track", "language", "url")
    for s in sessions.values():
        again = back[session_guid(s)]
        assert {f: getattr(again, f) for f in fields} == {f: getattr(s, f) for f in fields}, s.title
        assert back_rooms[again.room_id].name == rooms[s.room_id].name


def test_the_shipped_json_schema_and_format_checks_really_catch_mistakes() -> None:
    """The validator is not a rubber stamp: a broken export fails it."""
    rooms, sessions = venue()
    good = json.loads(write_schedule_json(rooms, sessions, FRAME))
    event = good["schedule"]["conference"]["days"][0]["rooms"]["Hall A"][0]
    event["guid"] = "not-a-uuid"
    del event["slug"]
    assert any("slug" in e for e in schema_errors(json.dumps(good).encode()))
    assert any("not-a-uuid" in e for e in schema_errors(json.dumps(good).encode()))


# --- every scheduled session, grassroots included ------------------------------------------------


def test_every_scheduled_session_is_exported_grassroots_included_cancelled_and_proposed_not() -> None:
    rooms, sessions = venue()
    xml = write_frab_xml(rooms, sessions, FRAME)
    data = write_schedule_json(rooms, sessions, FRAME)
    assert xsd_errors(xml) == [] and schema_errors(data) == []
    titles = sorted(ev.findtext("title") or "" for _, ev in events_of(xml))
    assert titles == ["Lockpicking for beginners", "Opening", "Sync in practice"]
    [(room, grassroots)] = [
        (r, ev) for r, ev in events_of(xml) if ev.findtext("title") == "Lockpicking for beginners"
    ]
    assert room.get("name") == "Room B"
    assert [p.text for p in grassroots.iterfind("persons/person")] == ["Kim Lee"]  # the host
    assert grassroots.findtext("type") == "grassroots"
    assert grassroots.findtext("abstract") == "Bring your own padlock."
    json_titles = sorted(
        e["title"]
        for day in json.loads(data)["schedule"]["conference"]["days"]
        for es in day["rooms"].values()
        for e in es
    )
    assert json_titles == titles


def test_a_session_whose_room_was_deleted_is_still_exported() -> None:
    rooms, sessions = venue()
    del rooms["b"]
    xml = write_frab_xml(rooms, sessions, FRAME)
    assert xsd_errors(xml) == []
    assert [room.get("name") for room, ev in events_of(xml) if ev.findtext("type") == "grassroots"] == ["b"]


# --- the rows of CONSUMERS.md ---------------------------------------------------------------------


def test_consumers_durations_are_hh_mm_never_with_seconds() -> None:
    rooms, sessions = venue()
    odd = Session(
        id="odd", title="Odd", room_id="a", starts_at=t("15:00"), ends_at=t("15:00") + 40 * MINUTE + 17_000
    )
    xml = write_frab_xml(rooms, {**sessions, "odd": odd}, FRAME)
    durations = [ev.findtext("duration") or "" for _, ev in events_of(xml)]
    assert durations and all(re.fullmatch(r"\d\d:\d\d", d) for d in durations), durations
    assert "00:40" in durations


def test_consumers_every_event_has_a_subtitle_element() -> None:
    rooms, sessions = venue()
    assert all(ev.find("subtitle") is not None for _, ev in events_of(write_frab_xml(rooms, sessions, FRAME)))


def test_consumers_no_title_is_empty() -> None:
    rooms, sessions = venue()
    blank = Session(id="blank", title="   ", room_id="a", starts_at=t("16:00"), ends_at=t("16:30"))
    xml = write_frab_xml(rooms, {**sessions, "blank": blank}, FRAME)
    assert all((ev.findtext("title") or "").strip() for _, ev in events_of(xml))


def test_consumers_the_file_is_utf8() -> None:
    rooms, sessions = venue()
    sessions["s1"] = msgspec.structs.replace(
        sessions["s1"], title="Öffnung \N{EN DASH} 開会", speakers=["Zoë Ñúñez"]
    )
    xml = write_frab_xml(rooms, sessions, FRAME)
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    assert "Öffnung \N{EN DASH} 開会".encode() in xml and "Zoë Ñúñez".encode() in xml
    xml.decode("utf-8")  # raises if not


def test_consumers_the_schedule_has_events() -> None:
    rooms, sessions = venue()
    assert len(events_of(write_frab_xml(rooms, sessions, FRAME))) == 3


def test_consumers_the_version_is_a_real_version_never_latest_or_wip() -> None:
    rooms, sessions = venue()
    version = ET.fromstring(write_frab_xml(rooms, sessions, FRAME)).findtext("version") or ""
    assert version.startswith("konferenco-") and version.casefold() not in {"latest", "wip", ""}
    assert ET.fromstring(write_frab_xml(rooms, sessions, FRAME, version="2026.06.10-3")).findtext(
        "version"
    ) == ("2026.06.10-3")
    for reserved in ("latest", "WIP", " "):
        with pytest.raises(ValueError, match="not a schedule version"):
            write_frab_xml(rooms, sessions, FRAME, version=reserved)
    # the default version follows the content
    moved = {**sessions, "s1": msgspec.structs.replace(sessions["s1"], starts_at=t("08:30"))}
    assert ET.fromstring(write_frab_xml(rooms, moved, FRAME)).findtext("version") != version


def test_consumers_integer_ids_are_unique_and_stable_per_session() -> None:
    rooms, sessions = venue()
    ids = {
        ev.findtext("title"): int(ev.get("id", "0"))
        for _, ev in events_of(write_frab_xml(rooms, sessions, FRAME))
    }
    assert len(set(ids.values())) == len(ids) and all(0 < n < 2**31 for n in ids.values())
    extra = Session(id="s9", title="Added later", room_id="b", starts_at=t("09:00"), ends_at=t("09:30"))
    again = {
        ev.findtext("title"): int(ev.get("id", "0"))
        for _, ev in events_of(write_frab_xml(rooms, {**sessions, "s9": extra}, FRAME))
    }
    assert {k: again[k] for k in ids} == ids


def test_consumers_guids_are_uuids_stable_per_session_and_keep_the_upstream_guid() -> None:
    rooms, sessions = venue()
    imported = Session(
        id="x1", title="From pretalx", room_id="b", starts_at=t("15:00"), ends_at=t("15:30"),
        source_id="35173228-cb1a-59de-84f1-cf91b83b8929",
    )  # fmt: skip
    sessions["x1"] = imported
    guids = {
        ev.findtext("title"): ev.get("guid") for _, ev in events_of(write_frab_xml(rooms, sessions, FRAME))
    }
    assert guids["From pretalx"] == "35173228-cb1a-59de-84f1-cf91b83b8929"
    assert guids["Opening"] == str(
        uuid.uuid5(uuid.UUID("6f1c2c4e-4a3b-5d0e-9a7c-6b6f6e666572"), "session:s1")
    )
    assert len(set(guids.values())) == len(guids)
    # a copy that kept the same source id still gets a guid of its own (the XSD wants them unique)
    copy = msgspec.structs.replace(imported, id="x2", starts_at=t("16:00"), ends_at=t("16:30"))
    xml = write_frab_xml(rooms, {**sessions, "x2": copy}, FRAME)
    assert xsd_errors(xml) == []


def test_consumers_an_events_room_is_the_room_that_wraps_it() -> None:
    rooms, sessions = venue()
    pairs = events_of(write_frab_xml(rooms, sessions, FRAME))
    assert pairs and all(ev.findtext("room") == room.get("name") for room, ev in pairs)


def test_consumers_two_rooms_with_one_name_are_told_apart() -> None:
    """Importers file sessions by room name: two "Workshop" rooms would merge into one."""
    rooms, sessions = venue()
    rooms["b"] = msgspec.structs.replace(rooms["b"], name="Hall A")
    pairs = events_of(write_frab_xml(rooms, sessions, FRAME))
    assert sorted({room.get("name", "") for room, _ in pairs}) == ["Hall A (a)", "Hall A (b)"]


def test_consumers_every_event_has_a_description() -> None:
    rooms, sessions = venue()
    assert all(
        ev.find("description") is not None for _, ev in events_of(write_frab_xml(rooms, sessions, FRAME))
    )


def test_consumers_slugs_follow_the_xsd_and_are_unique() -> None:
    rooms, sessions = venue()
    sessions["jp"] = Session(
        id="jp", title="日本語のセッション", room_id="b", starts_at=t("16:00"), ends_at=t("17:00")
    )
    frame = EventFrame(event_id="e1", name="Ab", timezone=FRAME.timezone)  # too short for an acronym
    xml = write_frab_xml(rooms, sessions, frame)
    slugs = [ev.findtext("slug") or "" for _, ev in events_of(xml)]
    assert all(re.fullmatch(r"[a-z0-9_]{4,}-[a-z0-9\-_]{4,}", s) for s in slugs), slugs
    assert len(set(slugs)) == len(slugs)
    assert xsd_errors(xml) == []


def test_characters_xml_cannot_carry_are_dropped_instead_of_breaking_the_file() -> None:
    rooms, sessions = venue()
    sessions["s1"] = msgspec.structs.replace(
        sessions["s1"], title="Bell\x07 and tab\x0b", abstract="a\r\nb\x00"
    )
    xml = write_frab_xml(rooms, sessions, FRAME)
    assert xsd_errors(xml) == []
    assert "Bell and tab" in [ev.findtext("title") for _, ev in events_of(xml)]


# --- days, order and bytes -------------------------------------------------------------------


def test_conference_days_run_from_four_to_four_in_the_event_zone() -> None:
    rooms, sessions = venue()
    night = Session(
        id="n",
        title="Night set",
        room_id="a",
        starts_at=t("01:30", "2026-06-11"),
        ends_at=t("02:30", "2026-06-11"),
    )
    frame = msgspec.structs.replace(FRAME, starts_at=t("08:00"), ends_at=t("20:00", "2026-06-11"))
    root = ET.fromstring(write_frab_xml(rooms, {**sessions, "n": night}, frame))
    days = root.findall("day")
    assert [(d.get("index"), d.get("date"), d.get("start"), d.get("end")) for d in days] == [
        ("1", "2026-06-10", "2026-06-10T04:00:00+02:00", "2026-06-11T04:00:00+02:00"),
        ("2", "2026-06-11", "2026-06-11T04:00:00+02:00", "2026-06-12T04:00:00+02:00"),
    ]
    # 01:30 on the 11th belongs to the night of the 10th
    assert "Night set" in [ev.findtext("title") for ev in days[0].iterfind("room/event")]
    assert [ev.findtext("title") for ev in days[1].iterfind("room/event")] == []
    [night_event] = [ev for ev in days[0].iterfind("room/event") if ev.findtext("title") == "Night set"]
    assert (night_event.findtext("date"), night_event.findtext("start")) == (
        "2026-06-11T01:30:00+02:00",
        "01:30",
    )
    conference = root.find("conference")
    assert conference is not None and conference.findtext("days") == "2"
    assert conference.findtext("time_zone_name") == "Europe/Berlin"


def test_the_same_schedule_gives_the_same_bytes_whatever_the_order_it_is_held_in() -> None:
    original = read_schedule((FORMATS / "examples" / "frab-camp2019.json").read_bytes())
    frame = EventFrame(event_id="camp", name="Camp", timezone="Europe/Berlin")
    items = list(original.sessions.items())
    random.Random(7).shuffle(items)
    shuffled = dict(items)
    room_items = dict(reversed(list(original.rooms.items())))
    assert write_frab_xml(original.rooms, original.sessions, frame) == write_frab_xml(
        room_items, shuffled, frame
    )
    assert write_schedule_json(original.rooms, original.sessions, frame) == write_schedule_json(
        room_items, shuffled, frame
    )


def test_json_writes_rooms_with_capacity_and_persons_in_one_schema_shape() -> None:
    rooms, sessions = venue()
    document: dict[str, Any] = json.loads(write_schedule_json(rooms, sessions, FRAME))
    conference = document["schedule"]["conference"]
    assert [(r["name"], r.get("capacity")) for r in conference["rooms"]] == [("Hall A", 100), ("Room B", 20)]
    events = [e for day in conference["days"] for es in day["rooms"].values() for e in es]
    persons = [p for e in events for p in e["persons"]]
    assert persons and all(set(p) == {"name", "guid"} for p in persons)
    opening = next(e for e in events if e["title"] == "Opening")
    assert (opening["date"], opening["end"], opening["duration"]) == (
        "2026-06-10T09:00:00+02:00",
        "2026-06-10T09:30:00+02:00",
        "00:30",
    )


_any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=30)


@settings(max_examples=80, deadline=None)
@given(
    titles=st.lists(_any_text, min_size=1, max_size=4),
    speaker=_any_text,
    room_names=st.lists(_any_text, min_size=2, max_size=2),
    minutes=st.lists(st.integers(0, 24 * 60 * 3), min_size=1, max_size=4),
)
def test_any_text_and_times_give_valid_files_that_read_back_whole(
    titles: list[str], speaker: str, room_names: list[str], minutes: list[int]
) -> None:
    """Titles with control characters or lone surrogates, rooms named alike, sessions at any hour."""
    rooms = {"a": Room(id="a", name=room_names[0]), "b": Room(id="b", name=room_names[1], position=1)}
    sessions = {
        f"s{n}": Session(
            id=f"s{n}", title=title, room_id="ab"[n % 2], speakers=[speaker],
            starts_at=t("00:00") + m * MINUTE, ends_at=t("00:00") + (m + 5 + n) * MINUTE,
        )
        for n, (title, m) in enumerate(zip(titles, minutes * len(titles), strict=False))
    }  # fmt: skip
    xml = write_frab_xml(rooms, sessions, FRAME)
    data = write_schedule_json(rooms, sessions, FRAME)
    assert xsd_errors(xml) == [] and schema_errors(data) == []
    assert len(read_schedule(xml).sessions) == len(read_schedule(data).sessions) == len(sessions)
    assert write_frab_xml(rooms, sessions, FRAME) == xml
