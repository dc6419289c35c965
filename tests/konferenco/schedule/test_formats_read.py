"""Reading real schedule files whole: every room, every session, the right times in the right zone.

Counts are taken from the raw files in the test, independently of the
reader, so a reader that silently drops a session fails here.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import xmlschema

from konferenco.schedule.formats import read_schedule
from konferenco.schedule.model import MINUTE

ROOT = Path(__file__).resolve().parents[3]
FORMATS = ROOT.parent / "shared" / "schedule-formats"
EXAMPLES = FORMATS / "examples"
FIXTURES = ROOT / "tests" / "fixtures" / "schedules"
CAMP = EXAMPLES / "frab-camp2019.json"
DEMOCON = EXAMPLES / "pretalx-democon.json"
LISBON = FIXTURES / "lisbon-pretalx-style.xml"


def real_exports() -> list[Path]:
    """Every real export we can read: the shared examples, plus a folder named by the environment.

    ``KONFERENCO_EXTRA_SCHEDULES`` points at more real exports (pretalx,
    frab, the CCC hub) kept outside the repository; see
    ``tests/fixtures/schedules/SOURCE.md``.
    """
    found = sorted(FORMATS.rglob("*.json")) + sorted(FORMATS.rglob("*.xml"))
    found = [p for p in found if p.name != "schedule.schema.json"]
    extra = os.environ.get("KONFERENCO_EXTRA_SCHEDULES")
    if extra:
        found += sorted(Path(extra).glob("*.json")) + sorted(Path(extra).glob("*.xml"))
    return found


def raw_counts(path: Path) -> tuple[int, set[str]]:
    """Sessions and room names in a file, counted straight from the JSON or XML."""
    if path.suffix == ".json":
        conference = json.loads(path.read_bytes())["schedule"]["conference"]
        events = sum(len(evs) for day in conference["days"] for evs in day["rooms"].values())
        names = {name for day in conference["days"] for name in day["rooms"]}
        names |= {r["name"] for r in conference.get("rooms") or []}
        return events, names
    root = ET.fromstring(path.read_bytes())
    return len(root.findall("day/room/event")), {r.get("name", "") for r in root.findall("day/room")}


def local(ms: int, zone: str) -> str:
    return datetime.fromtimestamp(ms / 1000, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %z")


# --- the two shipped examples -----------------------------------------------------------------


def test_the_frab_camp_2019_export_is_read_whole_with_every_session_and_room() -> None:
    events, names = raw_counts(CAMP)
    assert (events, len(names)) == (79, 2)
    imported = read_schedule(CAMP.read_bytes(), CAMP.name)
    assert imported.format == "frab-json"
    assert (imported.title, imported.timezone) == ("Chaos Communication Camp 2019", "Europe/Berlin")
    assert (imported.starts_on, imported.ends_on) == ("2019-08-21", "2019-08-26")
    assert len(imported.sessions) == events and imported.skipped == [] and imported.warnings == []
    assert sorted(r.name for r in imported.rooms.values()) == sorted(names) == ["Curie", "Meitner"]
    assert {s.status for s in imported.sessions.values()} == {"scheduled"}
    per_day: dict[str, int] = {}
    for s in imported.sessions.values():
        day = local(s.starts_at, "Europe/Berlin")[:10]
        per_day[day] = per_day.get(day, 0) + 1
    assert per_day == {
        "2019-08-21": 17,
        "2019-08-22": 17,
        "2019-08-23": 19,
        "2019-08-24": 17,
        "2019-08-25": 9,
    }


def test_camp_spot_sessions_have_their_title_time_room_speakers_and_details() -> None:
    imported = read_schedule(CAMP.read_bytes())
    curie, meitner = imported.rooms["curie"], imported.rooms["meitner"]
    assert (curie.name, meitner.name) == ("Curie", "Meitner")

    opencodes = imported.sessions["36b973e6-6203-4506-9317-4959d04ce0d0"]
    assert opencodes.title == "OpenCodes"
    assert opencodes.room_id == "curie"
    assert local(opencodes.starts_at, "Europe/Berlin") == "2019-08-22 12:00 +0200"
    assert opencodes.ends_at - opencodes.starts_at == 45 * MINUTE
    assert opencodes.speakers == ["obelix"]
    assert (opencodes.type, opencodes.track, opencodes.language) == ("lecture", "Art & Culture", "de")
    # the subtitle leads the abstract, so it is not lost
    assert opencodes.abstract.startswith("Hacker im Museum\n\nComputer können Kunst erzeugen.")
    assert opencodes.source_id == "36b973e6-6203-4506-9317-4959d04ce0d0"
    assert opencodes.slug == "Camp2019-10400-opencodes"
    assert opencodes.url == "https://fahrplan.events.ccc.de/camp/2019/Fahrplan/events/10400.html"

    lightning = imported.sessions["117f530f-a20b-4071-b208-39e989a42408"]
    assert (lightning.title, lightning.room_id) == ("Lightning Talks", "meitner")
    assert lightning.ends_at - lightning.starts_at == 180 * MINUTE
    assert lightning.speakers == ["bigalex", "honky"]

    # 23:00 for 90 minutes: ends after midnight, on the next calendar day
    late = imported.sessions["ed4b6c75-14f4-49fe-a11e-3762bd6b54e3"]
    assert local(late.starts_at, "Europe/Berlin") == "2019-08-22 23:00 +0200"
    assert local(late.ends_at, "Europe/Berlin") == "2019-08-23 00:30 +0200"
    assert late.speakers == ["Alvar C.H. Freude", "Stefan Brink"]

    nobody = imported.sessions["4263620e-f36f-4408-b702-01481e0efbd7"]
    assert (nobody.title, nobody.speakers) == ("Infrastructure Review", [])
    performance = imported.sessions["3ecdc823-95bb-4654-ad74-6eedb93dc1ed"]
    assert performance.type == "performance"
    assert performance.speakers == ["Erich Moechel", "Detlef Borchers", "peter"]


def test_the_pretalx_democon_export_is_read_whole_and_its_offsets_are_honoured() -> None:
    events, names = raw_counts(DEMOCON)
    assert (events, len(names)) == (36, 2)
    imported = read_schedule(DEMOCON.read_bytes(), DEMOCON.name)
    assert imported.format == "pretalx-json"
    assert (imported.title, imported.timezone) == ("DemoCon", "UTC")
    assert len(imported.sessions) == events and imported.skipped == []
    # both rooms carry the same guid in this export: rooms are told apart by name, not guid
    assert {r.id: r.name for r in imported.rooms.values()} == {
        "gray-room": "Gray Room",
        "tan-room": "Tan Room",
    }

    moderator = imported.sessions["35173228-cb1a-59de-84f1-cf91b83b8929"]
    assert moderator.title == "User-centric non-volatile moderator"
    # the file says UTC but writes +01:00: the instant is what the file wrote, 08:00 in UTC
    assert local(moderator.starts_at, "UTC") == "2020-12-15 08:00 +0000"
    assert moderator.ends_at - moderator.starts_at == 30 * MINUTE
    assert (moderator.room_id, moderator.speakers, moderator.type) == ("gray-room", ["Thomas Morgan"], "talk")
    [warning] = imported.warnings
    assert "36 session times carry a UTC offset" in warning.reason and "UTC" in warning.reason

    workshop = imported.sessions["630051b3-c874-5093-bd3e-487fe2049e76"]
    assert (workshop.title, workshop.room_id, workshop.type) == (
        "Inverse motivating array",
        "tan-room",
        "workshop",
    )
    assert local(workshop.starts_at, "UTC") == "2020-12-16 08:00 +0000"
    assert workshop.ends_at - workshop.starts_at == 90 * MINUTE
    assert workshop.speakers == ["Teresa Terrell", "Stephanie Hudson"]


def test_every_session_of_an_example_matches_the_raw_file_field_by_field() -> None:
    """Not a sample: each of the 115 sessions against its own JSON object."""
    for path in (CAMP, DEMOCON):
        conference = json.loads(path.read_bytes())["schedule"]["conference"]
        imported = read_schedule(path.read_bytes())
        for day in conference["days"]:
            for room_name, events in day["rooms"].items():
                for event in events:
                    s = imported.sessions[event["guid"]]
                    assert s.title == " ".join(event["title"].split())  # stray spaces dropped
                    assert imported.rooms[s.room_id].name == room_name
                    start = datetime.fromisoformat(event["date"])
                    assert s.starts_at == int(start.timestamp() * 1000)
                    hours, minutes = event["duration"].split(":")
                    assert s.ends_at - s.starts_at == (int(hours) * 60 + int(minutes)) * MINUTE
                    assert s.speakers == [p["public_name"].strip() for p in event["persons"]]


# --- more real exports and our handmade fixture -------------------------------------------------


@pytest.mark.parametrize("path", real_exports(), ids=lambda p: p.name)
def test_each_real_export_reads_whole(path: Path) -> None:
    events, names = raw_counts(path)
    imported = read_schedule(path.read_bytes(), path.name)
    assert len(imported.sessions) == events, [str(p) for p in imported.skipped]
    assert imported.skipped == []
    assert {r.name for r in imported.rooms.values()} == {n.strip() for n in names}
    assert all(s.ends_at > s.starts_at and s.room_id in imported.rooms for s in imported.sessions.values())


def test_a_pretalx_style_xml_that_fails_the_xsd_on_slugs_is_still_read_whole() -> None:
    """pretalx writes slugs the XSD refuses (CONSUMERS.md): read leniently."""
    schema = xmlschema.XMLSchema(str(FORMATS / "schedule.xml.xsd"))
    errors = [str(e).splitlines()[0] for e in schema.iter_errors(str(LISBON))]
    assert any("1-main-stage" in e for e in errors) and any("oh-101-opening" in e for e in errors)

    events, names = raw_counts(LISBON)
    imported = read_schedule(LISBON.read_bytes(), LISBON.name)
    assert imported.format == "pretalx-xml"
    assert (len(imported.sessions), len(imported.rooms)) == (events, len(names)) == (9, 3)
    assert imported.skipped == [] and imported.warnings == []
    assert (imported.timezone, imported.starts_on, imported.ends_on) == (
        "Europe/Lisbon",
        "2026-03-28",
        "2026-03-29",
    )
    assert [r.name for r in imported.rooms.values()] == ["Auditório 1", "Sala 2", "Maker Space"]
    assert list(imported.rooms) == ["auditorio-1", "sala-2", "maker-space"]

    opening = imported.sessions["68452e27-4be7-454a-9123-96a699c3c652"]
    assert opening.ends_at - opening.starts_at == 30 * MINUTE  # "00:30:00"
    assert opening.speakers == ["Inês Carvalho", "Tom Becker"]
    assert (
        opening.abstract == "Welcome, house rules, where the soldering irons are."
    )  # abstract over description

    # across the change to summer time (Lisbon, 29 March 2026, 01:00 → 02:00)
    chiptune = imported.sessions["46cb3c47-f674-4b8c-a045-d61915b1ac94"]
    keynote = imported.sessions["5d0c8f5e-2b7a-4c36-9a0e-3f1d2c4b5a69"]
    assert local(chiptune.starts_at, "Europe/Lisbon") == "2026-03-29 00:30 +0000"
    assert local(keynote.starts_at, "Europe/Lisbon") == "2026-03-29 10:00 +0100"
    assert keynote.speakers == ["佐藤 花子", "José Araújo"]
    assert keynote.title == "Keynote: 日本のハードウェア文化"
    workshop = imported.sessions["164f4a09-9b66-4672-ad4b-4f663eda3a53"]
    assert (workshop.type, workshop.language, workshop.track) == ("workshop", "pt", "Hands-on")


def test_reading_the_same_file_twice_gives_the_same_ids_and_values() -> None:
    for path in (CAMP, DEMOCON, LISBON):
        assert read_schedule(path.read_bytes()) == read_schedule(path.read_bytes())


def test_ids_come_from_the_source_guid_else_its_code_or_numeric_id() -> None:
    def one(event: dict[str, object]) -> str:
        base = {"title": "T", "date": "2026-06-10T10:00:00+02:00", "duration": "00:30"}
        doc = {"schedule": {"version": "1", "conference": {
            "title": "X", "acronym": "xcon", "time_zone_name": "Europe/Berlin",
            "days": [{"date": "2026-06-10", "rooms": {"Hall": [{**base, **event}]}}]}}}  # fmt: skip
        [sid] = read_schedule(json.dumps(doc).encode()).sessions
        return sid

    assert (
        one({"guid": "36B973E6-6203-4506-9317-4959D04CE0D0", "id": 7})
        == "36b973e6-6203-4506-9317-4959d04ce0d0"
    )
    assert one({"code": "FX38ZD", "id": 7}) == "code-FX38ZD"
    assert one({"id": 7}) == "xcon-7"
    weird = one({"guid": "not a uuid / but stable"})
    assert weird == one({"guid": "not a uuid / but stable"})
    assert len(weird) <= 64 and all(c.isalnum() or c in "_.:-" for c in weird)


def test_room_capacity_comes_from_the_room_list_and_names_that_slug_alike_stay_apart() -> None:
    def session(n: int, room: str) -> dict[str, object]:
        return {"guid": f"00000000-0000-4000-8000-{n:012d}", "title": f"S{n}", "room": room,
                "date": f"2026-06-10T{9 + n:02d}:00:00+02:00", "duration": "00:30"}  # fmt: skip

    rooms = [
        {"name": "Hall A", "guid": "11111111-1111-4111-8111-111111111111", "capacity": 120},
        {"name": "Hall-A", "guid": "11111111-1111-4111-8111-111111111112", "capacity": None},
        {"name": "Salle Été", "guid": "11111111-1111-4111-8111-111111111113", "capacity": "lots"},
    ]
    day = {name: [session(n, name)] for n, name in enumerate(["Hall A", "Hall-A", "Salle Été"], start=1)}
    doc = {"schedule": {"version": "1", "conference": {
        "title": "X", "time_zone_name": "Europe/Berlin", "rooms": rooms,
        "days": [{"date": "2026-06-10", "rooms": day}]}}}  # fmt: skip
    imported = read_schedule(json.dumps(doc).encode())
    by_name = {r.name: r for r in imported.rooms.values()}
    assert by_name["Hall A"].capacity == 120 and by_name["Hall-A"].capacity is None
    assert by_name["Salle Été"].id == "salle-ete" and by_name["Salle Été"].capacity is None
    assert by_name["Hall A"].id != by_name["Hall-A"].id
    assert {by_name["Hall A"].id[:6], by_name["Hall-A"].id[:6]} == {"hall-a"}
    [warning] = imported.warnings
    assert "capacity “lots”" in warning.reason and warning.where == "schedule.conference.rooms[2]"
    assert read_schedule(json.dumps(doc).encode()).rooms == imported.rooms  # stable
