"""Schedule files in and out of a real appliance: pretalx/frab imports, exports, their caching and limits.

Imports go through the HTTP API of a serving box and through the command
line (on a stopped box, and on a serving one, where the command goes through
the box's API).  The examples in ``../shared/schedule-formats/examples/`` are
counted independently from their raw JSON; exports are validated against the
shipped XSD and JSON schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import icalendar
import jsonschema  # type: ignore[import-untyped]
import pytest
import xmlschema

from tests.appliance.conftest import DemoAppliance
from tests.appliance.test_schedule_api import (
    call,
    ok,
    refused,
    schedule,
    seed_schedule_box,
    session_body,
    start_schedule_box,
)
from tests.helpers import ROOT, ApplianceProcess, konferenco

FORMATS = ROOT.parent / "shared" / "schedule-formats"
EXAMPLES = FORMATS / "examples"
DEMOCON = EXAMPLES / "pretalx-democon.json"
CAMP = EXAMPLES / "frab-camp2019.json"
MB = 1024 * 1024


def json_events(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Every session in a schedule JSON document, read straight from its days and rooms."""
    days = document["schedule"]["conference"].get("days") or []
    return [event for day in days for events in day["rooms"].values() for event in events]


def raw_events(path: Path) -> list[dict[str, Any]]:
    return json_events(json.loads(path.read_bytes()))


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoAppliance]:
    served = start_schedule_box(seed_schedule_box(tmp_path_factory.mktemp("files"), attendees=20))
    try:
        yield served
    finally:
        served.process.stop()


def upload(box: DemoAppliance, body: bytes, role: str | None = "organizer", **params: Any) -> httpx.Response:
    return call(box, "POST", "/api/v1/schedule/import", role, content=body, params=params)


def session_ids(box: DemoAppliance) -> set[str]:
    return {s["id"] for s in schedule(box)["sessions"]}


def scheduled(box: DemoAppliance) -> list[dict[str, Any]]:
    return [s for s in schedule(box)["sessions"] if s["status"] == "scheduled"]


@pytest.fixture(scope="module")
def imported(box: DemoAppliance) -> dict[str, Any]:
    """Both examples imported through the API (the event's dates do not cover them: see the test)."""
    before = session_ids(box)
    # The demo event is this week; the examples are from 2019 and 2020: outside the event, which blocks.
    first = refused(upload(box, DEMOCON.read_bytes(), filename=DEMOCON.name), 409, "schedule_conflict")
    assert {f["rule"] for f in first["details"]["findings"]} == {"outside_event"}
    assert len(first["details"]["findings"]) == len(raw_events(DEMOCON))
    assert session_ids(box) == before, "a refused import writes nothing"
    ok(call(box, "PUT", "/api/v1/schedule/settings", json={"severities": {"outside_event": "warn"}}))
    dry = ok(upload(box, DEMOCON.read_bytes(), filename=DEMOCON.name, dry_run="true"))
    assert dry["dry_run"] is True and dry["written"] == 0
    assert len(dry["report"]["sessions"]["created"]) == len(raw_events(DEMOCON))
    assert session_ids(box) == before, "a dry run writes nothing"
    answers = {}
    for path in (DEMOCON, CAMP):
        answers[path.name] = ok(upload(box, path.read_bytes(), filename=path.name))
    return {"before": before, "answers": answers}


# --- importing --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [DEMOCON, CAMP], ids=["pretalx-democon", "frab-camp2019"])
def test_every_session_of_each_example_is_in_the_schedule_after_its_import(
    box: DemoAppliance, imported: dict[str, Any], path: Path
) -> None:
    answer = imported["answers"][path.name]
    raw = raw_events(path)
    created = answer["report"]["sessions"]["created"]
    assert len(created) == len(raw) and answer["report"]["skipped"] == []
    assert answer["written"] >= len(raw) and answer["summary"].startswith("From “")
    shown = {s["id"]: s for s in schedule(box)["sessions"]}
    assert set(created) <= set(shown)
    # The titles as the file has them (surrounding blanks aside: " Fully Open, ..." in the camp's file).
    assert sorted(shown[sid]["title"] for sid in created) == sorted(" ".join(e["title"].split()) for e in raw)
    by_source = {shown[sid]["source_id"]: shown[sid] for sid in created}
    for event in raw[:5]:  # spot checks: times as the file says them, in its zone, and the speakers
        source = event.get("guid") or str(event["id"])
        session = by_source[source]
        assert session["room_id"] in {r["id"] for r in schedule(box)["rooms"]}
        names = [p.get("public_name") or p.get("name") for p in event.get("persons", [])]
        assert session["speakers"] == names
        assert session["starts_at"] == int(datetime.fromisoformat(event["date"]).timestamp() * 1000)
    assert {w["severity"] for w in answer["warnings"]} == {"warn"}
    outside = {sid for w in answer["warnings"] if w["rule"] == "outside_event" for sid in w["sessions"]}
    assert outside == set(created)  # every one of them, now only a warning


def test_importing_the_same_file_again_changes_nothing(box: DemoAppliance, imported: dict[str, Any]) -> None:
    before = schedule(box)["sessions"]
    again = ok(upload(box, DEMOCON.read_bytes(), filename=DEMOCON.name))
    sessions = again["report"]["sessions"]
    assert (len(sessions["created"]), len(sessions["updated"]), len(sessions["unchanged"])) == (0, 0, 36)
    assert again["written"] == 0
    assert schedule(box)["sessions"] == before


def test_a_50_mb_upload_is_refused_before_it_is_read_and_nothing_is_written(
    box: DemoAppliance, imported: dict[str, Any]
) -> None:
    before = session_ids(box)
    big = b" " * (50 * MB)
    body = refused(upload(box, big), 413, "body_too_large")
    assert "at most 20 MB" in body["message"] and "50.0 MB" in body["message"]
    assert body["details"]["limit"] == 20 * MB

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds on the bytes as they come
        for _ in range(25):
            yield b" " * (2 * MB)

    with box.client("organizer") as client:
        streamed = client.post("/api/v1/schedule/import", content=chunks())
    assert "at most 20 MB" in refused(streamed, 413, "body_too_large")["message"]
    assert session_ids(box) == before


def test_a_bad_file_is_refused_with_every_problem_where_it_is_and_nothing_is_written(
    box: DemoAppliance, imported: dict[str, Any]
) -> None:
    before = session_ids(box)
    document = json.loads(DEMOCON.read_bytes())
    rooms = document["schedule"]["conference"]["days"][0]["rooms"]
    first_room = next(iter(rooms))
    events = rooms[first_room]
    events[0]["date"] = "yesterday at noon"
    events[1]["guid"] = events[2]["guid"]  # the same session twice
    events[3]["room"] = "Room That Is Not There"
    body = refused(upload(box, json.dumps(document).encode()), 422, "schedule_rejected")
    problems = body["details"]["problems"]
    assert len(problems) >= 3, problems
    assert all(p["where"].startswith("schedule.conference.days[0]") for p in problems), problems
    named = {p.get("source_id") for p in problems}
    assert {events[0]["guid"], events[2]["guid"]} <= named, problems
    assert session_ids(box) == before
    for junk, why in [
        (b"<?xml version='1.0'?>\n<schedule>\n  <day>\n</schedule>\n", "line"),
        (b"[1, 2]", ""),
    ]:
        answer = refused(upload(box, junk), 422, "schedule_rejected")
        assert answer["details"]["problems"], answer
        if why == "line":
            assert answer["details"]["problems"][0]["line"] is not None
    assert session_ids(box) == before


def test_only_an_organizer_imports(box: DemoAppliance) -> None:
    refused(upload(box, DEMOCON.read_bytes(), None), 401, "unauthorized")
    refused(upload(box, DEMOCON.read_bytes(), "desk"), 403, "forbidden")


# --- exporting --------------------------------------------------------------------------------


def test_the_exports_are_valid_and_hold_every_scheduled_session_grassroots_ones_too(
    box: DemoAppliance, imported: dict[str, Any]
) -> None:
    ok(call(box, "PUT", "/api/v1/rooms/lawn", json={"name": "Lawn", "grassroots": True}))
    start = schedule(box)["frame"]["starts_at"] + 2 * 24 * 3_600_000 + 15 * 3_600_000
    grassroots = session_body("lawn", start, 60, title="Knitting for hackers", grassroots=True,
                              type="grassroots", host_name="Margaret Hamilton")  # fmt: skip
    ok(call(box, "POST", "/api/v1/sessions", json=grassroots), 201)
    placed = scheduled(box)
    with httpx.Client(base_url=box.url, timeout=30) as anonymous:  # public: no token
        xml = anonymous.get("/api/v1/schedule.xml")
        as_json = anonymous.get("/api/v1/schedule.json")
        ics = anonymous.get("/api/v1/schedule.ics")
        lawn = anonymous.get("/api/v1/schedule.ics", params={"room": "lawn"})
        speaker = anonymous.get("/api/v1/schedule.ics", params={"speaker": "Margaret Hamilton"})
        nowhere = anonymous.get("/api/v1/schedule.ics", params={"room": "nowhere"})
    assert xml.status_code == as_json.status_code == ics.status_code == 200
    assert xml.headers["content-type"] == "application/xml"
    assert as_json.headers["content-type"] == "application/json"
    assert ics.headers["content-type"] == "text/calendar; charset=utf-8"
    xmlschema.XMLSchema(FORMATS / "schedule.xml.xsd").validate(xml.content)
    jsonschema.validate(as_json.json(), json.loads((FORMATS / "schedule.schema.json").read_bytes()))
    titles = sorted(s["title"] for s in placed)
    xml_titles = sorted(e.findtext("title") or "" for e in ElementTree.fromstring(xml.content).iter("event"))
    assert xml_titles == titles
    assert sorted(e["title"] for e in json_events(as_json.json())) == titles
    events = [c for c in icalendar.Calendar.from_ical(ics.content).walk("VEVENT")]
    assert sorted(str(e["SUMMARY"]) for e in events) == titles
    assert "Knitting for hackers" in titles
    assert [str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(lawn.content).walk("VEVENT")] == [
        "Knitting for hackers"
    ]
    assert "Knitting for hackers" in {
        str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(speaker.content).walk("VEVENT")
    }
    assert nowhere.status_code == 404 and nowhere.json()["code"] == "unknown_room"


def test_exports_are_cached_by_etag_until_the_schedule_changes(box: DemoAppliance) -> None:
    paths = ["/api/v1/schedule.xml", "/api/v1/schedule.json", "/api/v1/schedule.ics"]
    with httpx.Client(base_url=box.url, timeout=30) as client:
        first = {p: client.get(p) for p in paths}
        for path, response in first.items():
            etag = response.headers["etag"]
            assert etag.startswith('"') and response.headers["cache-control"] == "no-cache"
            again = client.get(path, headers={"If-None-Match": etag})
            assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
            assert client.get(path).content == response.content  # the same bytes for the same schedule
            other = client.get(path, headers={"If-None-Match": '"something-else"'})
            assert other.status_code == 200
        start = schedule(box)["frame"]["starts_at"] + 2 * 24 * 3_600_000 + 7 * 3_600_000
        ok(
            call(box, "POST", "/api/v1/sessions", json=session_body("room-b", start, 30, title="Early bird")),
            201,
        )
        for path, response in first.items():
            changed = client.get(path, headers={"If-None-Match": response.headers["etag"]})
            assert changed.status_code == 200 and changed.headers["etag"] != response.headers["etag"]
            assert b"Early bird" in changed.content


# --- the command line -------------------------------------------------------------------------


def test_the_command_line_imports_into_a_stopped_box_which_then_serves_it(tmp_path: Path) -> None:
    data = tmp_path / "box"
    konferenco("appliance", "init", "--data", str(data), "--event", "camp")  # no catalog: no dates
    bad = tmp_path / "bad.json"
    document = json.loads(CAMP.read_bytes())
    first_day = document["schedule"]["conference"]["days"][0]["rooms"]
    next(iter(first_day.values()))[0]["duration"] = "soon"
    bad.write_text(json.dumps(document))
    refusal = konferenco("appliance", "schedule", "import", "--data", str(data), str(bad), check=False)
    assert refusal.returncode == 1
    assert (
        "refused: schedule.conference.days[0]" in refusal.stderr and "nothing was imported" in refusal.stderr
    )
    dry = konferenco("appliance", "schedule", "import", "--data", str(data), str(CAMP), "--dry-run")
    assert "dry run, nothing written" in dry.stdout
    export = tmp_path / "empty.json"
    konferenco(
        "appliance", "schedule", "export", "--data", str(data), "--format", "json", "--out", str(export)
    )
    assert json_events(json.loads(export.read_bytes())) == []
    for path in (CAMP, DEMOCON):
        done = konferenco("appliance", "schedule", "import", "--data", str(data), str(path))
        assert f"{len(raw_events(path))} sessions created" in done.stdout, done.stdout
    konferenco(
        "appliance", "schedule", "export", "--data", str(data), "--format", "json", "--out", str(export)
    )
    exported = json.loads(export.read_bytes())
    jsonschema.validate(exported, json.loads((FORMATS / "schedule.schema.json").read_bytes()))
    assert len(json_events(exported)) == len(raw_events(CAMP)) + len(raw_events(DEMOCON))
    xml = tmp_path / "camp.xml"
    konferenco("appliance", "schedule", "export", "--data", str(data), "--format", "xml", "--out", str(xml))
    xmlschema.XMLSchema(FORMATS / "schedule.xml.xsd").validate(xml.read_bytes())
    findings = konferenco("appliance", "schedule", "findings", "--data", str(data))
    assert "scheduled sessions of event 'camp'" in findings.stderr
    with ApplianceProcess(data) as process:
        shown = httpx.get(f"{process.url}/api/v1/schedule", timeout=10).json()["sessions"]
        assert len(shown) == len(raw_events(CAMP)) + len(raw_events(DEMOCON))
        # While it serves, the command goes through its API (and says so); a wrong port is refused clearly.
        wrong = konferenco(
            "appliance", "schedule", "import", "--data", str(data), str(CAMP), "--port", "9", check=False
        )
        assert wrong.returncode == 1 and "nothing answers on 127.0.0.1:9" in wrong.stderr
        via = konferenco(
            "appliance", "schedule", "import", "--data", str(data), str(CAMP), "--port", str(process.port)
        )
        assert "through its API" in via.stderr and "0 sessions created" in via.stdout
        assert "79 unchanged" in via.stdout


def test_a_file_that_double_books_a_room_imports_only_with_an_approval_for_the_whole_file(
    tmp_path: Path,
) -> None:
    """Real programmes double-book on purpose (38C3's export has two such pairs)."""
    data = tmp_path / "box"
    konferenco("appliance", "init", "--data", str(data), "--event", "camp")
    document = json.loads(CAMP.read_bytes())
    room = next(iter(document["schedule"]["conference"]["days"][0]["rooms"].values()))
    first, second = room[0], room[1]
    second["date"], second["start"] = first["date"], first["start"]  # the second now starts with the first
    twice = tmp_path / "twice.json"
    twice.write_text(json.dumps(document))
    refusal = konferenco("appliance", "schedule", "import", "--data", str(data), str(twice), check=False)
    assert refusal.returncode == 1 and "is booked twice" in refusal.stderr
    export = tmp_path / "out.json"
    konferenco(
        "appliance", "schedule", "export", "--data", str(data), "--format", "json", "--out", str(export)
    )
    assert json_events(json.loads(export.read_bytes())) == []  # nothing written
    done = konferenco(
        "appliance", "schedule", "import", "--data", str(data), str(twice),
        "--approve-overlaps", "as published by the camp's programme team",
    )  # fmt: skip
    assert f"{len(raw_events(CAMP))} sessions created" in done.stdout
    findings = konferenco("appliance", "schedule", "findings", "--data", str(data))
    assert "Overlap approved by command line: as published by the camp's programme team" in findings.stdout
