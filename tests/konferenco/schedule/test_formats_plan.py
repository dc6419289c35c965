"""Planning an import: created, updated, unchanged, skipped; a re-import updates, never duplicates."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec

from konferenco.schedule.formats import (
    ImportPlan,
    plan_import,
    read_schedule,
    write_frab_xml,
    write_schedule_json,
)
from konferenco.schedule.model import MINUTE, EventFrame, Hours, OverlapApproval, Room, Session
from konferenco.schedule.rules import ScheduleIndex, blocking

ROOT = Path(__file__).resolve().parents[3]
CAMP = ROOT.parent / "shared" / "schedule-formats" / "examples" / "frab-camp2019.json"
DEMOCON = ROOT.parent / "shared" / "schedule-formats" / "examples" / "pretalx-democon.json"
OPENCODES = "36b973e6-6203-4506-9317-4959d04ce0d0"


def applied(
    rooms: dict[str, Room], sessions: dict[str, Session], plan: ImportPlan
) -> tuple[dict[str, Room], dict[str, Session]]:
    """What the schedule holds after the plan is written (as apply_import writes it)."""
    return {**rooms, **plan.rooms}, {**sessions, **plan.sessions}


def test_a_first_import_creates_every_room_and_session() -> None:
    imported = read_schedule(CAMP.read_bytes())
    plan = plan_import({}, {}, imported)
    report = plan.report
    assert (len(report.sessions.created), report.sessions.updated, report.sessions.unchanged) == (79, [], [])
    assert report.rooms.created == ["curie", "meitner"]
    assert plan.sessions == imported.sessions and set(plan.rooms) == {"curie", "meitner"}
    assert report.summary == (
        "From “Chaos Communication Camp 2019” (frab-json): 79 sessions created, 0 updated, 0 unchanged, "
        "0 skipped; 2 rooms created, 0 updated, 0 unchanged."
    )
    msgspec.json.encode(report)  # the report travels as JSON as it is


def test_importing_the_same_file_again_changes_nothing() -> None:
    imported = read_schedule(CAMP.read_bytes())
    rooms, sessions = applied({}, {}, plan_import({}, {}, imported))
    again = plan_import(rooms, sessions, read_schedule(CAMP.read_bytes()))
    assert again.changes_nothing
    assert len(again.report.sessions.unchanged) == 79 and again.report.rooms.unchanged == ["curie", "meitner"]
    assert "Nothing changes: the schedule already matches the file." in again.report.sentences


def test_a_changed_file_updates_only_what_changed() -> None:
    rooms, sessions = applied({}, {}, plan_import({}, {}, read_schedule(CAMP.read_bytes())))
    raw = json.loads(CAMP.read_bytes())
    event = next(
        e
        for d in raw["schedule"]["conference"]["days"]
        for es in d["rooms"].values()
        for e in es
        if e["guid"] == OPENCODES
    )
    event["date"], event["start"], event["title"] = "2019-08-22T13:00:00+02:00", "13:00", "OpenCodes (moved)"
    plan = plan_import(rooms, sessions, read_schedule(json.dumps(raw).encode()))
    assert plan.report.sessions.updated == [OPENCODES] and plan.report.sessions.created == []
    assert list(plan.sessions) == [OPENCODES] and plan.rooms == {}
    moved = plan.sessions[OPENCODES]
    assert moved.title == "OpenCodes (moved)"
    assert moved.starts_at == sessions[OPENCODES].starts_at + 60 * MINUTE


def test_what_the_venue_added_survives_a_reimport() -> None:
    rooms, sessions = applied({}, {}, plan_import({}, {}, read_schedule(CAMP.read_bytes())))
    rooms["curie"] = msgspec.structs.replace(
        rooms["curie"],
        hours=[Hours(day="2019-08-22", opens="09:00", closes="24:00")],
        features=["projector", "stream"],
        grassroots=True,
        buffer_min=10,
        area="Tent 1",
        capacity=400,
    )
    approval = OverlapApproval(by="olga", reason="shared audience", at=1)
    sessions[OPENCODES] = msgspec.structs.replace(
        sessions[OPENCODES], attendance=250, speaker_ids=["att-9"], overlap=approval
    )
    plan = plan_import(rooms, sessions, read_schedule(CAMP.read_bytes()))
    assert plan.changes_nothing  # the file brings no capacity: the venue's 400 stays

    raw = json.loads(CAMP.read_bytes())
    for day in raw["schedule"]["conference"]["days"]:
        for event in day["rooms"].get("Curie", []):
            if event["guid"] == OPENCODES:
                event["title"] = "OpenCodes 2"
    plan = plan_import(rooms, sessions, read_schedule(json.dumps(raw).encode()))
    kept = plan.sessions[OPENCODES]
    assert kept.title == "OpenCodes 2"
    assert (kept.attendance, kept.speaker_ids, kept.overlap) == (
        250,
        ["att-9"],
        approval,
    )  # same place: approval kept


def test_a_session_moved_by_the_file_loses_its_overlap_approval() -> None:
    rooms, sessions = applied({}, {}, plan_import({}, {}, read_schedule(CAMP.read_bytes())))
    sessions[OPENCODES] = msgspec.structs.replace(
        sessions[OPENCODES],
        overlap=OverlapApproval(by="olga", reason="x", at=1),
        starts_at=sessions[OPENCODES].starts_at - 1,
    )
    plan = plan_import(rooms, sessions, read_schedule(CAMP.read_bytes()))
    assert plan.sessions[OPENCODES].overlap is None  # the approval was for another placement


def test_a_cancelled_session_stays_cancelled_and_the_report_says_so() -> None:
    rooms, sessions = applied({}, {}, plan_import({}, {}, read_schedule(CAMP.read_bytes())))
    sessions[OPENCODES] = msgspec.structs.replace(sessions[OPENCODES], status="cancelled")
    plan = plan_import(rooms, sessions, read_schedule(CAMP.read_bytes()))
    assert plan.changes_nothing and plan.report.kept_cancelled == [OPENCODES]
    assert "1 session cancelled here stays cancelled, though the file lists them." in plan.report.sentences


def test_a_room_made_by_hand_takes_the_sessions_of_the_file_room_with_its_name() -> None:
    hand = {"hall": Room(id="hall", name="CURIE", grassroots=True, position=3)}
    plan = plan_import(hand, {}, read_schedule(CAMP.read_bytes()))
    assert plan.report.rooms.updated == ["hall"] and plan.report.rooms.created == ["meitner"]
    assert plan.rooms["hall"].name == "Curie" and plan.rooms["hall"].grassroots
    assert plan.rooms["meitner"].position == 4  # after the rooms already there
    assert {s.room_id for s in plan.sessions.values()} == {"hall", "meitner"}
    assert "curie" not in plan.rooms


def test_sessions_not_in_the_file_are_left_alone_and_counted() -> None:
    imported = read_schedule(CAMP.read_bytes())
    rooms, sessions = applied({}, {}, plan_import({}, {}, imported))
    start = sessions[OPENCODES].starts_at
    sessions["gr-1"] = Session(
        id="gr-1", title="Grassroots", room_id="curie", starts_at=start, ends_at=start + 1,
        grassroots=True, host="att-1", host_name="Kim",
    )  # fmt: skip
    sessions["local"] = Session(
        id="local", title="Added here", room_id="meitner", starts_at=start, ends_at=start + 1
    )
    other = read_schedule(DEMOCON.read_bytes())
    plan = plan_import(rooms, sessions, other)
    assert len(plan.report.not_in_file) == 81
    assert set(plan.sessions).isdisjoint(sessions)  # nothing here is rewritten, nothing deleted
    assert (
        "81 sessions here are not in the file; left as they are (1 grassroots; 79 from an earlier import, "
        "maybe dropped upstream: remove them by hand if so)."
    ) in plan.report.sentences


def test_skipped_sessions_and_warnings_are_in_the_report() -> None:
    raw = json.loads(DEMOCON.read_bytes())
    first = raw["schedule"]["conference"]["days"][0]["rooms"]["Gray Room"][0]
    first["duration"] = "00:00"
    plan = plan_import({}, {}, read_schedule(json.dumps(raw).encode()))
    assert len(plan.report.sessions.created) == 35
    [skipped] = plan.report.skipped
    assert skipped.source_id == first["guid"] and "lasts no time" in skipped.reason
    assert skipped.where == 'schedule.conference.days[0].rooms["Gray Room"][0]'
    assert any("1 session in the file was skipped" in s for s in plan.report.sentences)
    assert any(s.startswith("Note: ") and "UTC offset" in s for s in plan.report.sentences)


def test_our_own_export_edited_elsewhere_updates_the_sessions_it_came_from() -> None:
    """Export, edit in another tool, import again: local and grassroots sessions are not duplicated."""
    start = 1_781_071_200_000  # 2026-06-10 08:00 Berlin
    rooms = {"a": Room(id="a", name="Hall A"), "b": Room(id="b", name="Room B", position=1)}
    sessions = {
        "01J7ZK3QX0": Session(id="01J7ZK3QX0", title="Made here", room_id="a", starts_at=start,
                              ends_at=start + 30 * MINUTE, speakers=["Olga"], attendance=40),
        "gr-01J7ZK": Session(id="gr-01J7ZK", title="Grassroots", room_id="b", starts_at=start,
                             ends_at=start + 60 * MINUTE, grassroots=True, type="grassroots",
                             host="att-7", host_name="Kim Lee"),
    }  # fmt: skip
    frame = EventFrame(event_id="e1", name="Demo", timezone="Europe/Berlin")
    for data in (write_frab_xml(rooms, sessions, frame), write_schedule_json(rooms, sessions, frame)):
        plan = plan_import(rooms, sessions, read_schedule(data))
        assert plan.changes_nothing, plan.report.sentences
        assert sorted(plan.report.sessions.unchanged) == sorted(sessions)
        edited = data.replace(b"Made here", b"Made here, edited")
        plan = plan_import(rooms, sessions, read_schedule(edited))
        assert plan.report.sessions.updated == ["01J7ZK3QX0"] and plan.report.sessions.created == []
        assert plan.sessions["01J7ZK3QX0"].title == "Made here, edited"
        assert plan.sessions["01J7ZK3QX0"].attendance == 40


def test_the_imported_examples_pass_the_blocking_rules_of_the_lead_rule_engine() -> None:
    """An import is refused if the result breaks a block rule; the shipped examples do not."""
    for path, zone in ((CAMP, "Europe/Berlin"), (DEMOCON, "UTC")):
        imported = read_schedule(path.read_bytes())
        rooms, sessions = applied({}, {}, plan_import({}, {}, imported))
        first = min(s.starts_at for s in sessions.values())
        last = max(s.ends_at for s in sessions.values())
        frame = EventFrame(event_id="e", timezone=zone, starts_at=first, ends_at=last)
        assert blocking(ScheduleIndex(rooms, sessions, frame, None).findings()) == []


def test_with_the_event_frame_the_report_warns_of_another_time_zone_and_other_dates() -> None:
    imported = read_schedule(CAMP.read_bytes())
    june = EventFrame(event_id="e", timezone="UTC", starts_at=1_781_071_200_000, ends_at=1_781_244_000_000)
    sentences = plan_import({}, {}, imported, june).report.sentences
    assert (
        "The file's time zone is Europe/Berlin, the event's is UTC: times are imported as the same moments "
        "and shown in UTC."
    ) in sentences
    assert (
        "79 sessions of the file are outside the event's dates: the file runs from 21 Aug 2019 to "
        "25 Aug 2019, the event from 10 Jun 2026 to 12 Jun 2026. Is it the right file for this event?"
    ) in sentences
    first = min(s.starts_at for s in imported.sessions.values())
    last = max(s.ends_at for s in imported.sessions.values())
    fits = EventFrame(event_id="e", timezone="Europe/Berlin", starts_at=first, ends_at=last)
    without = plan_import({}, {}, imported).report.sentences
    assert plan_import({}, {}, imported, fits).report.sentences == without


def test_a_rule_refusing_imported_sessions_can_point_at_their_places_in_the_file() -> None:
    """Overlaps are the rule engine's to find; the plan says where the sessions it names are."""
    raw = json.loads(CAMP.read_bytes())
    curie = raw["schedule"]["conference"]["days"][1]["rooms"]["Curie"]
    curie[1]["date"] = curie[0]["date"]  # two sessions in Curie at once
    plan = plan_import({}, {}, read_schedule(json.dumps(raw).encode()))
    first = min(s.starts_at for s in plan.sessions.values())
    last = max(s.ends_at for s in plan.sessions.values())
    frame = EventFrame(event_id="e", timezone="Europe/Berlin", starts_at=first, ends_at=last)
    [finding] = blocking(ScheduleIndex(plan.rooms, plan.sessions, frame, None).findings())
    assert finding.rule == "room_overlap"
    assert sorted(plan.places[sid] for sid in finding.sessions) == [
        'schedule.conference.days[1].rooms["Curie"][0]',
        'schedule.conference.days[1].rooms["Curie"][1]',
    ]
