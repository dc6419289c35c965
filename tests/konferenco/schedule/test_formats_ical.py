"""iCalendar out: what a calendar app shows is the session, at the right local time, in the right room."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import msgspec
import pytest

from konferenco.errors import KonferencoError
from konferenco.schedule.formats import read_schedule, session_guid, write_ical
from konferenco.schedule.model import EventFrame, Room, Session
from tests.konferenco.schedule.builders import FRAME, t

ROOT = Path(__file__).resolve().parents[3]
CAMP = ROOT.parent / "shared" / "schedule-formats" / "examples" / "frab-camp2019.json"
BERLIN = ZoneInfo("Europe/Berlin")


def venue() -> tuple[dict[str, Room], dict[str, Session]]:
    rooms = {"a": Room(id="a", name="Hall A", grassroots=True), "b": Room(id="b", name="Room B", position=1)}
    sessions = [
        Session(id="s1", title="Opening", room_id="a", starts_at=t("09:00"), ends_at=t("09:30"),
                speakers=["Olga Núñez"], track="Main"),
        Session(id="s2", title="Sync in practice", room_id="a", starts_at=t("10:00"), ends_at=t("10:45"),
                speakers=["Olga Núñez", "Ben"], speaker_ids=["att-1"]),
        Session(id="gr-d1", title="Lockpicking", room_id="b", starts_at=t("11:00"), ends_at=t("12:00"),
                grassroots=True, type="grassroots", host="att-7", host_name="Kim Lee"),
        Session(id="s3", title="Cancelled", room_id="b", starts_at=t("13:00"), ends_at=t("13:30"),
                status="cancelled"),
    ]  # fmt: skip
    return rooms, {s.id: s for s in sessions}


def parsed(data: bytes) -> Any:  # icalendar's property types are a wide union: tests read them loosely
    return icalendar.Calendar.from_ical(data)


def summaries(data: bytes) -> list[str]:
    return sorted(str(e["SUMMARY"]) for e in parsed(data).events)


def test_each_scheduled_session_is_an_event_at_its_local_time_with_tzid_and_vtimezone() -> None:
    rooms, sessions = venue()
    data = write_ical(rooms, sessions, FRAME)
    calendar = parsed(data)
    assert summaries(data) == ["Lockpicking", "Opening", "Sync in practice"]  # grassroots in, cancelled out
    opening = next(e for e in calendar.events if str(e["SUMMARY"]) == "Opening")
    assert opening["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert b"DTSTART;TZID=Europe/Berlin:20260610T090000" in data
    assert opening.start == datetime(2026, 6, 10, 9, 0, tzinfo=BERLIN)
    assert opening.end - opening.start == timedelta(minutes=30)
    assert str(opening["LOCATION"]) == "Hall A"
    assert str(opening["UID"]) == session_guid(sessions["s1"])
    assert "DTSTAMP" in opening
    [zone] = calendar.timezones
    assert zone.tz_name == "Europe/Berlin"
    # the VTIMEZONE says summer time: 09:00 in Berlin is 07:00 UTC
    assert zone.to_tz().utcoffset(datetime(2026, 6, 10, 9)) == timedelta(hours=2)
    grassroots = next(e for e in calendar.events if str(e["SUMMARY"]) == "Lockpicking")
    assert str(grassroots["LOCATION"]) == "Room B" and "Kim Lee" in str(grassroots["DESCRIPTION"])
    assert "grassroots" in [str(c) for c in grassroots["CATEGORIES"].cats]


def test_a_whole_example_becomes_a_calendar_with_every_session_in_berlin_time() -> None:
    imported = read_schedule(CAMP.read_bytes())
    frame = EventFrame(event_id="camp", name=imported.title, timezone="Europe/Berlin")
    calendar = parsed(write_ical(imported.rooms, imported.sessions, frame))
    assert len(calendar.events) == 79
    assert {e["DTSTART"].params["TZID"] for e in calendar.events} == {"Europe/Berlin"}
    by_uid = {str(e["UID"]): e for e in calendar.events}
    late = by_uid["ed4b6c75-14f4-49fe-a11e-3762bd6b54e3"]
    assert late.start == datetime(2019, 8, 22, 23, 0, tzinfo=BERLIN)
    assert late.end == datetime(2019, 8, 23, 0, 30, tzinfo=BERLIN)
    assert len({str(e["UID"]) for e in calendar.events}) == 79


def test_per_room_calendar_by_id_or_name_and_an_unknown_room_is_an_error() -> None:
    rooms, sessions = venue()
    assert summaries(write_ical(rooms, sessions, FRAME, room="a")) == ["Opening", "Sync in practice"]
    assert summaries(write_ical(rooms, sessions, FRAME, room="room b")) == ["Lockpicking"]
    assert "Hall A" in str(parsed(write_ical(rooms, sessions, FRAME, room="a"))["X-WR-CALNAME"])
    with pytest.raises(KonferencoError) as caught:
        write_ical(rooms, sessions, FRAME, room="Ballroom")
    assert caught.value.code == "unknown_room" and caught.value.status == 404


def test_per_speaker_calendar_by_name_without_accents_or_by_attendee_id() -> None:
    rooms, sessions = venue()
    assert summaries(write_ical(rooms, sessions, FRAME, speaker="olga nunez")) == [
        "Opening",
        "Sync in practice",
    ]
    assert summaries(write_ical(rooms, sessions, FRAME, speaker="att-1")) == ["Sync in practice"]
    assert summaries(write_ical(rooms, sessions, FRAME, speaker="Kim Lee")) == ["Lockpicking"]  # the host
    assert summaries(write_ical(rooms, sessions, FRAME, speaker="att-7")) == ["Lockpicking"]
    empty = write_ical(rooms, sessions, FRAME, speaker="Nobody")
    assert summaries(empty) == [] and parsed(empty).timezones == []


def test_the_same_schedule_gives_the_same_bytes_and_no_clock_time_inside() -> None:
    rooms, sessions = venue()
    first = write_ical(rooms, sessions, FRAME)
    assert first == write_ical(dict(reversed(rooms.items())), dict(reversed(sessions.items())), FRAME)
    stamps = {str(e["DTSTAMP"].to_ical(), "ascii") for e in parsed(first).events}
    assert stamps == {"20260610T060000Z"}  # the event's start (08:00 Berlin), not "now"
    changed = write_ical(rooms, sessions, FRAME, changed_at=t("07:15"))
    assert {str(e["DTSTAMP"].to_ical(), "ascii") for e in parsed(changed).events} == {"20260610T051500Z"}


def test_times_stay_right_across_a_change_to_summer_time() -> None:
    lisbon = ZoneInfo("Europe/Lisbon")
    rooms = {"a": Room(id="a", name="Auditório")}
    before = int(datetime(2026, 3, 29, 0, 30, tzinfo=lisbon).timestamp() * 1000)
    after = int(datetime(2026, 3, 29, 10, 0, tzinfo=lisbon).timestamp() * 1000)
    sessions = {
        "x": Session(id="x", title="Before", room_id="a", starts_at=before, ends_at=before + 1_200_000),
        "y": Session(id="y", title="After", room_id="a", starts_at=after, ends_at=after + 3_600_000),
    }
    frame = EventFrame(event_id="l", name="Lisbon", timezone="Europe/Lisbon")
    data = write_ical(rooms, sessions, frame)
    assert b"DTSTART;TZID=Europe/Lisbon:20260329T003000" in data
    assert b"DTSTART;TZID=Europe/Lisbon:20260329T100000" in data
    events = {str(e["SUMMARY"]): e for e in parsed(data).events}
    before_start, after_start = events["Before"].start, events["After"].start
    assert isinstance(before_start, datetime) and isinstance(after_start, datetime)
    assert before_start.utcoffset() == timedelta(0)
    assert after_start.utcoffset() == timedelta(hours=1)
    assert b"TZOFFSETTO:+0100" in data  # the VTIMEZONE has the summer rule


def test_a_utc_event_writes_utc_times() -> None:
    rooms, sessions = venue()
    frame = msgspec.structs.replace(FRAME, timezone="UTC")
    data = write_ical(rooms, sessions, frame)
    assert b"DTSTART:20260610T070000Z" in data
