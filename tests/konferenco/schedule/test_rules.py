"""Each schedule rule, as an organizer meets it: what is found, how severe, in what words."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from konferenco.schedule.model import (
    EventFrame,
    Hours,
    OverlapApproval,
    Room,
    ScheduleSettings,
    open_intervals,
    settings_from,
)
from konferenco.schedule.rules import blocking
from tests.konferenco.schedule.builders import MINUTE, ROOMS, index, session


def rules_of(findings: list) -> list[tuple[str, str]]:
    return sorted((f.rule, f.severity) for f in findings)


def test_a_clean_schedule_has_no_findings() -> None:
    ix = index(
        session("s1", "a", "09:00", 60), session("s2", "a", "10:30", 60), session("s3", "b", "09:00", 60)
    )
    assert ix.findings() == []


def test_two_sessions_in_one_room_at_once_block_with_both_titles_and_times_in_the_event_zone() -> None:
    one = session("s1", "a", "09:00", 60, title="Opening")
    two = session("s2", "a", "09:30", 60, title="Sync in practice")
    [finding] = index(one, two).findings()
    assert (finding.rule, finding.severity) == ("room_overlap", "block")
    assert sorted(finding.sessions) == ["s1", "s2"]
    # Berlin time (UTC+2 in June), as the organizer reads the schedule
    assert "Hall A is booked twice" in finding.message
    assert "“Opening” (Wed 10 Jun 09:00\N{EN DASH}10:00)" in finding.message
    assert "“Sync in practice” (Wed 10 Jun 09:30\N{EN DASH}10:30)" in finding.message


def test_touching_sessions_do_not_overlap_but_break_the_changeover_buffer() -> None:
    ix = index(session("s1", "a", "09:00", 60), session("s2", "a", "10:00", 60))
    [finding] = ix.findings()
    assert (finding.rule, finding.severity) == ("changeover", "warn")
    assert "needs 10 min between sessions" in finding.message and "leave 0 min" in finding.message
    # room B has no buffer: back to back is fine
    assert index(session("s1", "b", "09:00", 60), session("s2", "b", "10:00", 60)).findings() == []


def test_an_approved_overlap_is_a_warning_that_names_who_approved_it_and_why() -> None:
    approval = OverlapApproval(by="olga", reason="joint workshop, same audience", at=1)
    ix = index(session("s1", "a", "09:00", 60), session("s2", "a", "09:30", 60, overlap=approval))
    [finding] = ix.findings()
    assert (finding.rule, finding.severity) == ("room_overlap", "warn")
    assert "Overlap approved by olga: joint workshop, same audience" in finding.message


def test_the_overlap_rule_cannot_be_lowered_by_settings_but_others_can() -> None:
    lenient = ScheduleSettings(severities={"room_overlap": "ignore", "over_capacity": "block"})
    ix = index(
        session("s1", "a", "09:00", 60),
        session("s2", "a", "09:30", 60),
        session("s3", "b", "12:00", 60, attendance=50),
        settings=lenient,
    )
    assert rules_of(ix.findings()) == [("over_capacity", "block"), ("room_overlap", "block")]


def test_ignored_rules_are_not_reported() -> None:
    quiet = ScheduleSettings(severities={"changeover": "ignore"})
    assert (
        index(session("s1", "a", "09:00", 60), session("s2", "a", "10:00", 60), settings=quiet).findings()
        == []
    )


def test_a_speaker_in_two_rooms_at_once_is_found_by_name_without_case_or_accents() -> None:
    one = session("s1", "a", "09:00", 60, speakers=["José Ñúñez"])
    two = session("s2", "b", "09:30", 60, speakers=["jose  nunez"])
    [finding] = index(one, two).findings()
    assert finding.rule == "person_overlap"
    assert "two places at once (Hall A and Room B)" in finding.message


def test_a_host_is_matched_by_attendee_id_even_when_names_differ() -> None:
    one = session("s1", "a", "09:00", 60, speaker_ids=["att-7"], speakers=["Ada"])
    two = session("s2", "b", "09:30", 60, host="att-7", host_name="Ada L.", grassroots=True)
    rules = rules_of(index(one, two).findings())
    assert ("person_overlap", "warn") in rules


def test_a_room_closed_at_that_time_blocks() -> None:
    rooms = {
        **ROOMS,
        "b": Room(id="b", name="Room B", hours=[Hours(day="2026-06-10", opens="10:00", closes="18:00")]),
    }
    ix = index(session("early", "b", "09:30", 60), session("ok", "b", "11:00", 60), rooms=rooms)
    [finding] = ix.findings()
    assert (finding.rule, finding.severity, finding.sessions) == ("room_closed", "block", ["early"])
    assert finding.message.startswith("Room B is closed during “EARLY”")


def test_opening_hours_are_wall_clock_times_in_the_event_zone_even_on_a_dst_day() -> None:
    # 29 March 2026: Berlin skips 02:00-03:00, so 00:00-06:00 local lasts five hours
    night = Room(id="n", name="Night", hours=[Hours(day="2026-03-29", opens="00:00", closes="06:00")])
    [(opens, closes)] = open_intervals(night, ZoneInfo("Europe/Berlin"))
    assert closes - opens == 5 * 60 * MINUTE
    late = Room(id="l", name="Late", hours=[Hours(day="2026-06-10", opens="20:00", closes="24:00")])
    frame = EventFrame(event_id="e1", timezone="Europe/Berlin")
    ix = index(session("x", "l", "23:00", 60), rooms={"l": late}, frame=frame)
    assert ix.findings() == []  # until midnight, inclusive
    assert rules_of(index(session("y", "l", "23:30", 60), rooms={"l": late}, frame=frame).findings()) == [
        ("room_closed", "block")
    ]


def test_expected_attendance_above_capacity_warns_by_default() -> None:
    [finding] = index(session("big", "b", "09:00", 60, attendance=35)).findings()
    assert (finding.rule, finding.severity) == ("over_capacity", "warn")
    assert finding.message == "35 people are expected at “BIG”, but Room B holds 20."


def test_a_session_outside_the_event_blocks() -> None:
    [finding] = index(session("dawn", "a", "07:00", 60)).findings()
    assert (finding.rule, finding.severity) == ("outside_event", "block")


def test_grassroots_only_in_rooms_open_to_them_and_allowed_by_the_event() -> None:
    assert rules_of(index(session("g", "b", "09:00", 30, grassroots=True)).findings()) == [
        ("grassroots_room", "block")
    ]
    assert index(session("g", "a", "09:00", 30, grassroots=True)).findings() == []
    only_b = settings_from({"grassroots": {"enabled": True, "rooms": ["b"]}})
    assert rules_of(index(session("g", "a", "09:00", 30, grassroots=True), settings=only_b).findings()) == [
        ("grassroots_room", "block")
    ]


def test_cancelled_and_proposed_sessions_occupy_nothing() -> None:
    ix = index(
        session("s1", "a", "09:00", 60),
        session("s2", "a", "09:00", 60, status="cancelled"),
        session("s3", "a", "09:00", 60, status="proposed"),
    )
    assert ix.findings() == []


def test_a_session_that_ends_before_it_starts_or_names_no_room_is_refused() -> None:
    backwards = session("s1", "a", "10:00", 60)
    backwards = msgspec.structs.replace(backwards, ends_at=backwards.starts_at - MINUTE)
    nowhere = session("s2", "zz", "10:00", 60)
    findings = index().check(backwards) + index().check(nowhere)
    assert [(f.rule, f.severity) for f in findings] == [("bad_time", "block"), ("bad_time", "block")]
    assert "ends before it starts" in findings[0].message
    assert "room “zz”, which does not exist" in findings[1].message


def test_check_of_an_edit_ignores_the_session_s_own_old_value() -> None:
    old = session("s1", "a", "09:00", 60)
    moved = session("s1", "a", "09:30", 60)
    assert index(old).check(moved) == []


def test_settings_refuse_an_unknown_severity_with_the_field() -> None:
    with pytest.raises(msgspec.ValidationError, match="severities"):
        settings_from({"severities": {"changeover": "sometimes"}})


# --- the full list and the one-session check agree -----------------------------------------

starts = st.integers(min_value=0, max_value=40).map(lambda q: q * 15)  # 08:00..18:00 in quarters
lengths = st.sampled_from([15, 30, 45, 60, 90])


@st.composite
def schedules(draw: st.DrawFn) -> list:
    n = draw(st.integers(min_value=0, max_value=14))
    out = []
    for i in range(n):
        minute = draw(starts)
        out.append(
            session(
                f"s{i}",
                draw(st.sampled_from(["a", "b"])),
                f"{8 + minute // 60:02d}:{minute % 60:02d}",
                draw(lengths),
                speakers=[draw(st.sampled_from(["Ada", "Grace", "Alan"]))],
                attendance=draw(st.one_of(st.none(), st.integers(0, 150))),
            )
        )
    return out


@settings(max_examples=150, deadline=None)
@given(schedules())
def test_a_session_is_blocked_by_check_exactly_when_the_full_list_blames_it(sessions: list) -> None:
    ix = index(*sessions)
    blamed = {sid for f in blocking(ix.findings()) for sid in f.sessions}
    for s in sessions:
        assert bool(blocking(ix.check(s))) == (s.id in blamed), s
