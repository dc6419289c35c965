"""Bad schedule files: every problem found in one go, with where it is and whose it is; nothing half-read."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from konferenco.errors import KonferencoError
from konferenco.schedule.formats import ScheduleFileError, read_schedule
from konferenco.schedule.formats.limits import MAX_SESSIONS
from konferenco.schedule.formats.problems import MAX_LISTED

DAY0 = 'schedule.conference.days[0].rooms["Hall A"]'


def event(n: int, **fields: Any) -> dict[str, Any]:
    base = {
        "guid": f"00000000-0000-4000-8000-{n:012d}",
        "id": n,
        "title": f"Session {n}",
        "date": f"2026-06-10T{9 + n % 10:02d}:00:00+02:00",
        "duration": "00:30",
        "room": "Hall A",
        "persons": [{"public_name": f"Speaker {n}"}],
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def schedule(events: list[dict[str, Any]], rooms: list[dict[str, Any]] | None = None, **conf: Any) -> bytes:
    conference: dict[str, Any] = {
        "title": "Test Con",
        "acronym": "testcon",
        "time_zone_name": "Europe/Berlin",
        "days": [{"index": 1, "date": "2026-06-10", "rooms": {"Hall A": events}}],
    }
    if rooms is not None:
        conference["rooms"] = rooms
    conference.update(conf)
    return json.dumps({"schedule": {"version": "1", "conference": conference}}).encode()


def refused(data: bytes, filename: str | None = None) -> ScheduleFileError:
    with pytest.raises(ScheduleFileError) as caught:
        read_schedule(data, filename)
    return caught.value


# --- not a schedule at all ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "is empty"),
        (b"hello, this is a CSV;with;columns\n", "neither a schedule JSON nor a frab schedule.xml"),
        (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n", "iCalendar file"),
        (b'{"talks": [], "speakers": []}', "not a schedule"),
        (b"[1, 2, 3]", "this one is a list"),
        (b'{"schedule": {"version": "x", "conference": {}, "events": []}}', "version 2"),
        (b"<html><body>404</body></html>", "root element is <html>"),
    ],
)
def test_a_file_that_is_no_schedule_is_refused_saying_what_it_is(data: bytes, says: str) -> None:
    error = refused(data, "upload.bin")
    [problem] = error.problems
    assert says in problem.reason
    assert isinstance(error, KonferencoError) and error.code == "schedule_rejected" and error.status == 422
    assert error.body()["details"]["problems"][0]["reason"] == problem.reason


def test_broken_json_says_the_line_and_column() -> None:
    data = b'{\n  "schedule": {\n    "version": "1",\n    "conference": {,}\n  }\n}'
    [problem] = refused(data).problems
    assert problem.where == "line 4, column 20" and problem.line == 4
    assert "not valid JSON" in problem.reason


def test_json_that_is_not_utf8_is_refused() -> None:
    data = schedule([event(1, title="Caf\u00e9")]).decode().replace("\\u00e9", "\u00e9").encode("latin-1")
    assert b'"Caf\xe9"' in data  # é in Latin-1, as an old Windows export would write it
    [problem] = refused(data).problems
    assert "not UTF-8" in problem.reason


def test_broken_xml_says_the_line() -> None:
    data = b'<?xml version="1.0"?>\n<schedule>\n  <day index="1">\n    <room name="A">\n  </day>\n</schedule>'
    [problem] = refused(data).problems
    assert problem.line == 5 and problem.where.startswith("line 5")
    assert "not well-formed XML" in problem.reason


def test_days_that_are_not_a_list_are_refused_at_their_path() -> None:
    data = json.dumps(
        {"schedule": {"version": "1", "conference": {"title": "X", "days": {"1": []}}}}
    ).encode()
    [problem] = refused(data).problems
    assert problem.where == "schedule.conference.days"


# --- the fatal problems, each with its place and id -------------------------------------------


def test_a_session_ending_before_it_starts_is_refused_with_its_path_and_id() -> None:
    bad = event(2, end="2026-06-10T08:00:00+02:00")
    error = refused(schedule([event(1), bad]))
    [problem] = error.problems
    assert problem.where == f"{DAY0}[1]"
    assert problem.source_id == bad["guid"]
    assert "ends before it starts" in problem.reason and "“Session 2”" in problem.reason
    assert "Session 2" in error.message


def test_two_sessions_with_one_id_are_refused_naming_both_places() -> None:
    twin = event(1, title="A twin")
    [problem] = refused(schedule([event(1), event(2), twin])).problems
    assert problem.where == f"{DAY0}[2]" and problem.source_id == twin["guid"]
    assert f"{DAY0}[0]" in problem.reason and "unique" in problem.reason


def test_a_room_that_is_not_in_the_room_list_is_refused() -> None:
    rooms = [{"name": "Hall B", "guid": "11111111-1111-4111-8111-111111111111"}]
    problems = refused(schedule([event(1, room="Hall B")], rooms=rooms)).problems
    assert [(p.where, p.source_id) for p in problems] == [(DAY0, "Hall A")]
    assert "not in the file's room list" in problems[0].reason


def test_a_session_naming_a_room_the_file_does_not_have_is_refused() -> None:
    [problem] = refused(schedule([event(1), event(2, room="Ballroom")])).problems
    assert (problem.where, problem.source_id) == (f"{DAY0}[1]", event(2)["guid"])
    assert "“Ballroom”" in problem.reason


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"date": "10.06.2026 09:00"}, "is not a date and time"),
        ({"date": "2026-06-10T25:00:00+02:00"}, "is not a date and time"),
        ({"duration": "half an hour"}, "duration “half an hour” cannot be read"),
        ({"duration": "00:75"}, "cannot be read"),
        ({"end": "soon"}, "its end “soon”"),
    ],
)
def test_unreadable_dates_and_durations_are_refused(fields: dict[str, Any], says: str) -> None:
    [problem] = refused(schedule([event(1), event(2, **fields)])).problems
    assert problem.where == f"{DAY0}[1]" and problem.source_id == event(2)["guid"]
    assert says in problem.reason


def test_an_unknown_time_zone_is_refused() -> None:
    [problem] = refused(schedule([event(1)], time_zone_name="Europe/Atlantis")).problems
    assert problem.where == "schedule.conference.time_zone_name"
    assert "unknown time zone “Europe/Atlantis”" in problem.reason


def test_a_time_without_offset_needs_the_file_time_zone() -> None:
    data = schedule([event(1, date="2026-06-10T09:00:00")], time_zone_name=None)
    [problem] = refused(data).problems
    assert "no UTC offset and the file names no time zone" in problem.reason
    # with a zone it is read in that zone
    imported = read_schedule(schedule([event(1, date="2026-06-10T09:00:00")]))
    [s] = imported.sessions.values()
    assert s.starts_at == 1781074800000  # 09:00 in Berlin (UTC+2) = 07:00 UTC


def test_a_session_without_any_id_is_refused() -> None:
    [problem] = refused(schedule([event(1, guid=None, id=None)])).problems
    assert "has no guid, code or id" in problem.reason


def test_three_problems_are_reported_as_three_with_nothing_imported() -> None:
    events = [
        event(1),
        event(2, duration="forever"),
        event(3),
        event(4, end="2026-06-10T01:00:00+02:00"),
        event(3, title="Copy of 3"),
    ]
    error = refused(schedule(events))
    assert [(p.where, p.source_id) for p in error.problems] == [
        (f"{DAY0}[1]", event(2)["guid"]),
        (f"{DAY0}[3]", event(4)["guid"]),
        (f"{DAY0}[4]", event(3)["guid"]),
    ]
    assert error.message.startswith("The schedule file was refused, nothing was imported: 3 problems")
    assert len(error.details["problems"]) == 3 and error.details["more"] == 0


def test_xml_problems_carry_their_line_numbers() -> None:
    data = b"""<?xml version="1.0" encoding="UTF-8"?>
<schedule>
  <version>1</version>
  <conference><title>X</title><time_zone_name>Europe/Berlin</time_zone_name></conference>
  <day index="1" date="2026-06-10" start="2026-06-10T04:00:00+02:00" end="2026-06-11T04:00:00+02:00">
    <room name="Hall A">
      <event guid="00000000-0000-4000-8000-000000000001" id="1">
        <title>One</title><date>2026-06-10T09:00:00+02:00</date><duration>00:30</duration>
      </event>
      <event guid="00000000-0000-4000-8000-000000000002" id="2">
        <title>Two</title><date>2026-06-10T10:00:00+02:00</date><duration>1 hour</duration>
      </event>
      <event guid="00000000-0000-4000-8000-000000000001" id="3">
        <title>One again</title><date>2026-06-10T11:00:00+02:00</date><duration>00:30</duration>
      </event>
    </room>
  </day>
</schedule>"""
    error = refused(data, "schedule.xml")
    assert [(p.where, p.line, p.source_id) for p in error.problems] == [
        ("line 10", 10, "00000000-0000-4000-8000-000000000002"),
        ("line 13", 13, "00000000-0000-4000-8000-000000000001"),
    ]
    assert "line 7" in error.problems[1].reason  # where the first one is


def test_the_list_of_problems_is_bounded_and_counts_the_rest() -> None:
    events = [event(n, duration="x") for n in range(MAX_LISTED + 25)]
    error = refused(schedule(events))
    assert len(error.problems) == MAX_LISTED and error.more == 25
    assert f"{MAX_LISTED + 25} problems" in error.message


def test_an_absurd_number_of_sessions_is_refused_early() -> None:
    events = [{"guid": str(n)} for n in range(MAX_SESSIONS + 1)]
    [problem] = refused(schedule(events)).problems
    assert f"more than {MAX_SESSIONS} sessions" in problem.reason


# --- XML attacks --------------------------------------------------------------------------------


def test_an_external_entity_is_refused_and_nothing_is_read_from_disk(tmp_path: Any) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    data = f"""<?xml version="1.0"?>
<!DOCTYPE schedule [<!ENTITY xxe SYSTEM "file://{secret}">]>
<schedule><version>1</version><conference><title>&xxe;</title></conference></schedule>""".encode()
    error = refused(data)
    [problem] = error.problems
    assert "entities or external references" in problem.reason
    assert "TOP-SECRET" not in json.dumps(error.body())


def test_a_billion_laughs_file_is_refused_at_once() -> None:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
    )
    data = f'<?xml version="1.0"?>\n<!DOCTYPE s [{entities}]>\n<schedule>&lol9;</schedule>'.encode()
    began = time.perf_counter()
    [problem] = refused(data).problems
    assert time.perf_counter() - began < 1.0
    assert "entities" in problem.reason


# --- what is skipped, not refused ------------------------------------------------------------


def test_sessions_without_title_start_or_length_are_skipped_and_the_rest_imported() -> None:
    events = [
        event(1),
        event(2, title="  "),
        event(3, date=None),
        event(4, duration="00:00"),
        event(5, duration=None),
        event(6),
    ]
    imported = read_schedule(schedule(events))
    assert sorted(s.title for s in imported.sessions.values()) == ["Session 1", "Session 6"]
    skipped = {p.where: (p.source_id, p.reason) for p in imported.skipped}
    assert skipped == {
        f"{DAY0}[1]": (event(2)["guid"], "the session: has no title"),
        f"{DAY0}[2]": (event(3)["guid"], "“Session 3”: has no start time"),
        f"{DAY0}[3]": (
            event(4)["guid"],
            "“Session 4”: lasts no time (00:00): there is nothing to place in a room",
        ),
        f"{DAY0}[4]": (event(5)["guid"], "“Session 5”: has no duration or end"),
    }


def test_a_start_without_a_date_is_placed_on_its_day_in_the_file_zone() -> None:
    imported = read_schedule(schedule([event(1, date=None, start="14:30")]))
    [s] = imported.sessions.values()
    assert s.starts_at == 1781094600000  # 2026-06-10 14:30 Berlin


def test_an_xml_event_filed_under_one_room_but_naming_another_stays_where_it_is_filed() -> None:
    data = b"""<schedule><version>1</version>
<conference><title>X</title><time_zone_name>UTC</time_zone_name></conference>
<day index="1" date="2026-06-10" start="2026-06-10T04:00:00Z" end="2026-06-11T04:00:00Z">
<room name="A"><event guid="00000000-0000-4000-8000-000000000001" id="1"><room>B</room>
<title>T</title><date>2026-06-10T09:00:00Z</date><duration>00:30</duration></event></room>
<room name="B"><event guid="00000000-0000-4000-8000-000000000002" id="2"><room>B</room>
<title>U</title><date>2026-06-10T10:00:00Z</date><duration>00:30</duration></event></room>
</day></schedule>"""
    imported = read_schedule(data)
    assert imported.sessions["00000000-0000-4000-8000-000000000001"].room_id == "a"
    [warning] = imported.warnings
    assert warning.line == 4 and "kept in “A”" in warning.reason


# --- whatever comes in, the answer is a schedule or a list of problems ------------------------------

_edges = st.sampled_from(
    [float("inf"), 1e300, -1, 2**70, "99999:00", "-01:00", "24:00", "0:00", "1:00:00:00",
     "9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00+00:00", "1969-12-31T23:59:00Z", "2026-06-10T09:00:00",
     "", " ", "\x00", "Hall A", "\ud800"]
)  # fmt: skip
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20) | _edges,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
_fields = st.sampled_from(
    ["guid", "id", "code", "title", "date", "start", "end", "duration", "room", "persons", "type", "track",
     "language", "abstract", "description", "subtitle", "slug", "url"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    changes=st.dictionaries(_fields, _json_values, max_size=5),
    zone=st.sampled_from(["UTC", "Nowhere/X", None]),
)
def test_any_mangled_session_gives_a_schedule_or_listed_problems_never_a_crash(
    changes: dict[str, Any], zone: str | None
) -> None:
    data = schedule([event(1), {**event(2), **changes}], time_zone_name=zone)
    try:
        imported = read_schedule(data)
    except ScheduleFileError as error:
        assert error.problems and all(p.where and p.reason for p in error.problems)
        return
    assert len(imported.sessions) + len(imported.skipped) == 2
    for s in imported.sessions.values():
        assert s.ends_at > s.starts_at >= 0 and s.room_id in imported.rooms


@settings(max_examples=200, deadline=None)
@given(doc=_json_values)
def test_any_json_value_is_refused_cleanly(doc: Any) -> None:
    with pytest.raises(ScheduleFileError):
        read_schedule(json.dumps(doc).encode())


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200).map(lambda b: b"<" + b))
def test_any_bytes_that_look_like_xml_are_refused_cleanly(data: bytes) -> None:
    with pytest.raises(ScheduleFileError):
        read_schedule(data)


def test_text_no_document_may_hold_is_refused_at_its_session() -> None:
    """NUL and lone surrogates (possible as JSON escapes) are refused by every store: say where they are."""
    events = [event(1, title="Null\u0000byte"), event(2, persons=[{"public_name": "Half \ud83d"}]), event(3)]
    error = refused(schedule(events))
    assert [(p.where, p.source_id) for p in error.problems] == [
        (f"{DAY0}[0]", event(1)["guid"]),
        (f"{DAY0}[1]", event(2)["guid"]),
    ]
    assert "its title contains a NUL character (U+0000)" in error.problems[0].reason
    assert "its speaker contains a lone surrogate (U+D83D)" in error.problems[1].reason
