"""The schedule on the hub, through its HTTP API, as organizers and conference apps use it.

A real ``konferenco hub serve`` on a scratch PostgreSQL database: rooms and
sessions edited, a double booking refused with its sentence and then
approved explicitly, settings that change what blocks, free slots, both
example files of ../shared/schedule-formats imported (every session), the
exports valid against the shipped XSD and JSON schema, ETags, the published
schedule served anonymously, and another organization refused on every new
route.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import icalendar
import jsonschema  # type: ignore[import-untyped]
import pytest
import xmlschema

from hub.tenants.accounts import OrgRole
from konferenco.schedule.model import MINUTE, at_local
from tests.hub.api_support import Org, api_token, assert_error, bearer, new_org, set_member, sql

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "schedule-formats"
EXAMPLES = SHARED / "examples"
ZONE = "Europe/Berlin"
DAYS = ("2031-06-10", "2031-06-11", "2031-06-12")


def at(day: int, clock: str) -> int:
    """Milliseconds of a wall-clock time on the event's ``day`` (0-based) in Berlin."""
    from zoneinfo import ZoneInfo

    return at_local(DAYS[day], clock, ZoneInfo(ZONE))


def dated_event(http: httpx.Client, org: Org, name: str = "Summit") -> str:
    """An event over three days in Berlin (its rooms open whenever it runs)."""
    body = {"name": name, "timezone": ZONE, "starts_at": at(0, "08:00"), "ends_at": at(2, "20:00")}
    response = http.post("/api/v1/events", json=body, headers=org.auth)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def undated_event(http: httpx.Client, org: Org, name: str = "Import") -> str:
    response = http.post("/api/v1/events", json={"name": name}, headers=org.auth)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def put_room(http: httpx.Client, org: Org, event: str, room: str, **fields: Any) -> dict[str, Any]:
    body = {"name": room.title(), **fields}
    response = http.put(f"/api/v1/events/{event}/rooms/{room}", json=body, headers=org.auth)
    assert response.status_code == 200, response.text
    return dict(response.json())


def add_session(
    http: httpx.Client,
    org: Org,
    event: str,
    title: str,
    room: str,
    start: int,
    minutes: int = 60,
    **extra: Any,
) -> httpx.Response:
    body = {"title": title, "room_id": room, "starts_at": start, "duration_min": minutes, **extra}
    return http.post(f"/api/v1/events/{event}/sessions", json=body, headers=org.auth)


def schedule(http: httpx.Client, org: Org, event: str, **params: str) -> dict[str, Any]:
    response = http.get(f"/api/v1/events/{event}/schedule", params=params, headers=org.auth)
    assert response.status_code == 200, response.text
    return dict(response.json())


def import_file(
    http: httpx.Client, org: Org, event: str, data: bytes, name: str, *, dry_run: bool = False
) -> httpx.Response:
    return http.post(
        f"/api/v1/events/{event}/schedule/import",
        params={"dry_run": "true" if dry_run else "false", "filename": name},
        content=data,
        headers=org.auth,
        timeout=120,
    )


def example_counts(name: str) -> tuple[int, int]:
    """Rooms and sessions of an example, counted from the raw JSON (not by our reader)."""
    conference = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))["schedule"]["conference"]
    rooms = {room for day in conference["days"] for room in day["rooms"]}
    sessions = sum(len(talks) for day in conference["days"] for talks in day["rooms"].values())
    return len(rooms), sessions


# --- editing ---------------------------------------------------------------------------------


def test_rooms_and_sessions_are_edited_and_a_double_booking_is_refused_with_its_sentence(
    hub_db_module: str, http: httpx.Client
) -> None:
    org = new_org(hub_db_module, http)
    event = dated_event(http, org)
    hall = put_room(http, org, event, "hall", capacity=120, features=["projector"], buffer_min=10)
    assert hall == {**hall, "id": "hall", "name": "Hall", "capacity": 120, "grassroots": False}
    put_room(http, org, event, "lab", capacity=20, grassroots=True, position=1)
    rooms = http.get(f"/api/v1/events/{event}/rooms", headers=org.auth).json()["rooms"]
    assert [r["id"] for r in rooms] == ["hall", "lab"]

    created = add_session(http, org, event, "Opening", "hall", at(0, "10:00"), speakers=["Ada Lovelace"])
    assert created.status_code == 201, created.text
    opening = created.json()["session"]
    assert opening["status"] == "scheduled" and opening["ends_at"] == at(0, "11:00")

    clash = add_session(http, org, event, "Keynote", "hall", at(0, "10:30"))
    message = assert_error(clash, 409, "schedule_conflict")
    assert "Hall is booked twice" in message and "“Opening”" in message and "“Keynote”" in message
    assert [f["rule"] for f in clash.json()["details"]["findings"]] == ["room_overlap"]
    assert [s["title"] for s in schedule(http, org, event)["sessions"]] == ["Opening"]  # nothing written

    approved = add_session(
        http, org, event, "Keynote", "hall", at(0, "10:30"), overlap_reason="Overflow of the opening"
    )
    assert approved.status_code == 201, approved.text
    keynote = approved.json()["session"]
    assert keynote["overlap"]["by"] == org.email and keynote["overlap"]["reason"] == "Overflow of the opening"
    warned = approved.json()["warnings"]
    assert [w["severity"] for w in warned if w["rule"] == "room_overlap"] == ["warn"]
    assert f"Overlap approved by {org.email}" in warned[0]["message"]

    # A speaker in two places at once is a warning, said with the name.
    talk = add_session(http, org, event, "Workshop", "lab", at(0, "10:15"), 30, speakers=["Ada Lovelace"])
    assert talk.status_code == 201, talk.text
    assert any("Ada Lovelace would be in two places" in w["message"] for w in talk.json()["warnings"])

    findings = http.get(f"/api/v1/events/{event}/schedule/findings", headers=org.auth).json()
    assert {f["rule"] for f in findings["findings"]} == {"room_overlap", "person_overlap"}
    assert findings["blocking"] == 0

    changed = http.put(
        f"/api/v1/events/{event}/sessions/{opening['id']}",
        json={
            "title": "Opening ceremony",
            "room_id": "hall",
            "starts_at": at(0, "10:00"),
            "duration_min": 60,
        },
        headers=org.auth,
    )
    assert changed.status_code == 200, changed.text
    got = http.get(f"/api/v1/events/{event}/sessions/{opening['id']}", headers=org.auth).json()
    assert got["title"] == "Opening ceremony"

    backwards = {
        "title": "Backwards",
        "room_id": "lab",
        "starts_at": at(1, "10:00"),
        "ends_at": at(1, "09:00"),
    }
    bad = http.post(f"/api/v1/events/{event}/sessions", json=backwards, headers=org.auth)
    assert_error(bad, 422, "invalid")
    assert bad.json()["details"]["field"] == "ends_at"
    unknown = http.put(f"/api/v1/events/{event}/sessions/nope", json=backwards, headers=org.auth)
    assert_error(unknown, 404, "unknown_session")
    nowhere = add_session(http, org, event, "Nowhere", "attic", at(1, "10:00"))
    assert "which does not exist" in assert_error(nowhere, 409, "schedule_conflict")

    in_use = http.delete(f"/api/v1/events/{event}/rooms/hall", headers=org.auth)
    assert_error(in_use, 409, "conflict")
    cancelled = http.post(f"/api/v1/events/{event}/sessions/{keynote['id']}/cancel", headers=org.auth)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    day = schedule(http, org, event, day=DAYS[0])
    assert {s["title"]: s["status"] for s in day["sessions"]} == {
        "Opening ceremony": "scheduled",
        "Keynote": "cancelled",
        "Workshop": "scheduled",
    }
    assert schedule(http, org, event, day=DAYS[1])["sessions"] == []
    assert day["days"] == list(DAYS)
    removed = http.delete(f"/api/v1/events/{event}/sessions/{keynote['id']}", headers=org.auth)
    assert removed.status_code == 204, removed.text
    gone = http.get(f"/api/v1/events/{event}/sessions/{keynote['id']}", headers=org.auth)
    assert_error(gone, 404, "unknown_session")
    assert_error(http.get(f"/api/v1/events/{event}/rooms/attic", headers=org.auth), 404, "unknown_room")


def test_settings_decide_what_blocks_and_the_overlap_rule_stays_fixed(
    hub_db_module: str, http: httpx.Client
) -> None:
    org = new_org(hub_db_module, http)
    event = dated_event(http, org)
    put_room(http, org, event, "lab", capacity=10)
    path = f"/api/v1/events/{event}/schedule/settings"
    current = http.get(path, headers=org.auth).json()
    assert current["settings"]["grassroots"]["enabled"] is False and current["settings"]["public"] is False
    assert set(current["fixed"]) == {"room_overlap", "bad_time"}

    crowded = add_session(http, org, event, "Crowded", "lab", at(0, "09:00"), attendance=30)
    assert crowded.status_code == 201
    assert [w["rule"] for w in crowded.json()["warnings"]] == ["over_capacity"]

    strict = http.put(path, json={"severities": {"over_capacity": "block"}}, headers=org.auth)
    assert strict.status_code == 200, strict.text
    refused = add_session(http, org, event, "Crowded too", "lab", at(1, "09:00"), attendance=30)
    assert "holds 10" in assert_error(refused, 409, "schedule_conflict")

    fixed = http.put(path, json={"severities": {"room_overlap": "warn"}}, headers=org.auth)
    assert "always blocks" in assert_error(fixed, 422, "invalid")
    unknown = http.put(path, json={"severities": {"bad_vibes": "block"}}, headers=org.auth)
    assert "no rule 'bad_vibes'" in assert_error(unknown, 422, "invalid")
    no_room = http.put(path, json={"grassroots": {"enabled": True, "rooms": ["attic"]}}, headers=org.auth)
    assert "attic" in assert_error(no_room, 422, "invalid")
    assert http.get(path, headers=org.auth).json()["settings"]["severities"] == {"over_capacity": "block"}


def test_free_slots_never_overlap_a_session_and_fit_the_room(hub_db_module: str, http: httpx.Client) -> None:
    org = new_org(hub_db_module, http)
    event = dated_event(http, org)
    put_room(http, org, event, "hall", capacity=200, buffer_min=15)
    put_room(http, org, event, "lab", capacity=25, grassroots=True)
    taken = [(at(0, "09:00"), at(0, "12:00")), (at(0, "13:00"), at(0, "17:00"))]
    for n, (start, end) in enumerate(taken):
        assert (
            add_session(http, org, event, f"Block {n}", "hall", start, (end - start) // MINUTE).status_code
            == 201
        )
    response = http.get(
        f"/api/v1/events/{event}/slots",
        params={"duration": 60, "attendance": 100, "from": f"{DAYS[0]}T08:00", "to": f"{DAYS[0]}T20:00"},
        headers=org.auth,
    )
    assert response.status_code == 200, response.text
    slots = response.json()["slots"]
    assert slots, "a free hour exists in the hall"
    assert slots[0]["room_id"] == "hall"  # the lab holds 25, not 100: it ranks after the hall
    for slot in slots:
        assert slot["ends_at"] - slot["starts_at"] == 60 * MINUTE
        if slot["room_id"] == "lab":
            assert [w["rule"] for w in slot["warnings"]] == ["over_capacity"]
            continue
        for start, end in taken:
            assert slot["ends_at"] + 15 * MINUTE <= start or slot["starts_at"] >= end + 15 * MINUTE, slot
    grassroots = http.get(
        f"/api/v1/events/{event}/slots", params={"duration": 30, "grassroots": "true"}, headers=org.auth
    ).json()["slots"]
    assert grassroots and {s["room_id"] for s in grassroots} == {"lab"}
    bad = http.get(f"/api/v1/events/{event}/slots", params={"duration": 30, "from": "soon"}, headers=org.auth)
    assert_error(bad, 422, "invalid")


def test_a_viewer_reads_the_schedule_but_cannot_change_it(hub_db_module: str, http: httpx.Client) -> None:
    org = new_org(hub_db_module, http)
    event = dated_event(http, org)
    put_room(http, org, event, "hall")
    viewer = f"viewer@{org.slug}.example"
    set_member(hub_db_module, org, viewer, OrgRole.VIEWER)
    token = bearer(api_token(http, viewer, org.slug))
    assert http.get(f"/api/v1/events/{event}/schedule", headers=token).status_code == 200
    refused = http.put(f"/api/v1/events/{event}/rooms/lab", json={"name": "Lab"}, headers=token)
    assert_error(refused, 403, "forbidden")
    session = {"title": "Sneaky", "room_id": "hall", "starts_at": at(0, "10:00"), "duration_min": 30}
    assert_error(http.post(f"/api/v1/events/{event}/sessions", json=session, headers=token), 403, "forbidden")
    assert [r["id"] for r in schedule(http, org, event)["rooms"]] == ["hall"]


# --- import ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["pretalx-democon.json", "frab-camp2019.json"])
def test_each_example_is_imported_whole_and_again_changes_nothing(
    hub_db_module: str, http: httpx.Client, name: str
) -> None:
    org = new_org(hub_db_module, http)
    event = undated_event(http, org)
    data = (EXAMPLES / name).read_bytes()
    rooms, sessions = example_counts(name)

    preview = import_file(http, org, event, data, name, dry_run=True)
    assert preview.status_code == 200, preview.text
    report = preview.json()["outcome"]["report"]
    assert preview.json()["outcome"]["dry_run"] is True
    assert len(report["sessions"]["created"]) == sessions and len(report["rooms"]["created"]) == rooms
    assert schedule(http, org, event)["sessions"] == []  # a dry run writes nothing

    done = import_file(http, org, event, data, name)
    assert done.status_code == 200, done.text
    assert done.json()["outcome"]["report"]["sentences"], "the report says what happened in words"
    view = schedule(http, org, event)
    assert len(view["sessions"]) == sessions and len(view["rooms"]) == rooms
    assert all(s["status"] == "scheduled" for s in view["sessions"])

    again = import_file(http, org, event, data, name).json()["outcome"]["report"]
    assert len(again["sessions"]["unchanged"]) == sessions
    assert again["sessions"]["created"] == [] and again["sessions"]["updated"] == []
    assert len(schedule(http, org, event)["sessions"]) == sessions


def test_a_spot_session_of_the_frab_example_keeps_its_title_room_and_time(
    hub_db_module: str, http: httpx.Client
) -> None:
    org = new_org(hub_db_module, http)
    event = undated_event(http, org)
    assert (
        import_file(http, org, event, (EXAMPLES / "frab-camp2019.json").read_bytes(), "camp.json").status_code
        == 200
    )
    view = schedule(http, org, event)
    rooms = {r["id"]: r["name"] for r in view["rooms"]}
    opening = next(s for s in view["sessions"] if s["title"] == "Opening Ceremony")
    assert rooms[opening["room_id"]] == "Curie"
    assert opening["starts_at"] == 1566378000000  # 2019-08-21T11:00:00+02:00
    assert opening["ends_at"] - opening["starts_at"] == 30 * MINUTE


def test_a_bad_file_is_refused_whole_with_every_problem_and_a_huge_one_is_413(
    hub_db_module: str, http: httpx.Client
) -> None:
    org = new_org(hub_db_module, http)
    event = undated_event(http, org)
    refused = import_file(http, org, event, b'{"schedule": {"conference": "no"}}', "broken.json")
    assert "refused" in assert_error(refused, 422, "schedule_rejected")
    assert refused.json()["details"]["problems"], "the problems are listed"
    not_json = import_file(http, org, event, b"<html><body>hello</body></html>", "page.xml")
    assert_error(not_json, 422, "schedule_rejected")
    huge = import_file(http, org, event, b" " * (50 * 1024 * 1024), "huge.json")
    assert_error(huge, 413, "body_too_large")
    empty = import_file(http, org, event, b"", "empty.json")
    assert_error(empty, 422, "invalid")
    assert schedule(http, org, event)["sessions"] == [] and schedule(http, org, event)["rooms"] == []


# --- export ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exported(hub_db_module: str, http: httpx.Client) -> tuple[Org, str]:
    org = new_org(hub_db_module, http)
    event = undated_event(http, org, "DemoCon")
    data = (EXAMPLES / "pretalx-democon.json").read_bytes()
    assert import_file(http, org, event, data, "democon.json").status_code == 200
    return org, event


def test_the_exports_are_valid_against_the_shipped_schemas_and_hold_every_session(
    exported: tuple[Org, str], http: httpx.Client
) -> None:
    org, event = exported
    _, sessions = example_counts("pretalx-democon.json")
    xml = http.get(f"/api/v1/events/{event}/schedule.xml", headers=org.auth)
    assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/xml")
    xmlschema.XMLSchema(str(SHARED / "schedule.xml.xsd")).validate(xml.content)
    assert xml.content.count(b"<event ") == sessions

    body = http.get(f"/api/v1/events/{event}/schedule.json", headers=org.auth)
    assert body.status_code == 200
    document = body.json()
    jsonschema.validate(document, json.loads((SHARED / "schedule.schema.json").read_text(encoding="utf-8")))
    days = document["schedule"]["conference"]["days"]
    assert sum(len(talks) for day in days for talks in day["rooms"].values()) == sessions

    ics = http.get(f"/api/v1/events/{event}/schedule.ics", headers=org.auth)
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(ics.content)
    assert len(calendar.walk("VEVENT")) == sessions
    per_room = http.get(
        f"/api/v1/events/{event}/schedule.ics", params={"room": "Gray Room"}, headers=org.auth
    )
    assert per_room.status_code == 200, per_room.text
    in_room = icalendar.Calendar.from_ical(per_room.content).walk("VEVENT")
    assert 0 < len(in_room) < sessions and {str(e["LOCATION"]) for e in in_room} == {"Gray Room"}


def test_exports_answer_304_while_unchanged_and_anonymously_only_once_published(
    exported: tuple[Org, str], http: httpx.Client, hub_db_module: str
) -> None:
    org, event = exported
    path = f"/api/v1/events/{event}/schedule.xml"
    first = http.get(path, headers=org.auth)
    etag = first.headers["etag"]
    assert "no-cache" in first.headers["cache-control"]
    again = http.get(path, headers={**org.auth, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""

    assert_error(http.get(path), 401, "unauthorized")  # not published yet
    assert_error(http.get("/api/v1/events/no-such-event/schedule.xml"), 401, "unauthorized")  # the same
    other = new_org(hub_db_module, http)
    assert_error(http.get(path, headers=other.auth), 404, "not_found")

    settings = f"/api/v1/events/{event}/schedule/settings"
    assert http.put(settings, json={"public": True}, headers=org.auth).status_code == 200
    anonymous = http.get(path)
    assert anonymous.status_code == 200 and anonymous.headers["etag"] == etag  # same bytes
    assert anonymous.headers["cache-control"].startswith("public")
    assert http.get(path, headers={"If-None-Match": etag}).status_code == 304
    assert http.get(f"/api/v1/events/{event}/schedule.json").status_code == 200
    assert_error(http.get(f"/api/v1/events/{event}/schedule"), 401, "unauthorized")  # the API is not public

    # A change moves the ETag: the exports follow the schedule.
    room = schedule(http, org, event)["rooms"][0]["id"]
    session = {"title": "Late addition", "room_id": room, "starts_at": 1608000000000, "duration_min": 30}
    assert http.post(f"/api/v1/events/{event}/sessions", json=session, headers=org.auth).status_code == 201
    changed = http.get(path, headers={"If-None-Match": etag})
    assert (
        changed.status_code == 200 and changed.headers["etag"] != etag and b"Late addition" in changed.content
    )
    assert http.put(settings, json={"public": False}, headers=org.auth).status_code == 200
    assert_error(http.get(path), 401, "unauthorized")


# --- tenancy ---------------------------------------------------------------------------------


def test_another_organization_can_neither_read_nor_change_the_schedule(
    hub_db_module: str, http: httpx.Client
) -> None:
    acme = new_org(hub_db_module, http)
    event = dated_event(http, acme)
    put_room(http, acme, event, "hall")
    session = add_session(http, acme, event, "Secret", "hall", at(0, "10:00")).json()["session"]["id"]
    before = schedule(http, acme, event)
    globex = new_org(hub_db_module, http)
    base = f"/api/v1/events/{event}"
    body = {"title": "Hijack", "room_id": "hall", "starts_at": at(0, "12:00"), "duration_min": 30}
    calls: list[tuple[str, str, Any]] = [
        ("GET", "/schedule", None),
        ("GET", "/schedule/findings", None),
        ("GET", "/schedule/settings", None),
        ("PUT", "/schedule/settings", {"public": True}),
        ("GET", "/schedule/occupancy", None),
        ("GET", "/slots?duration=30", None),
        ("GET", "/rooms", None),
        ("GET", "/rooms/hall", None),
        ("PUT", "/rooms/hall", {"name": "Mine now"}),
        ("DELETE", "/rooms/hall", None),
        ("POST", "/sessions", body),
        ("GET", f"/sessions/{session}", None),
        ("PUT", f"/sessions/{session}", body),
        ("POST", f"/sessions/{session}/cancel", None),
        ("DELETE", f"/sessions/{session}", None),
        ("POST", "/schedule/import", None),
        ("GET", "/schedule.ics", None),
        ("GET", "/schedule.xml", None),
        ("GET", "/schedule.json", None),
        ("GET", "/proposals", None),
        ("GET", "/proposals/p-1", None),
        ("POST", "/proposals/p-1/reserve", {"room_id": "hall", "starts_at": at(0, "12:00")}),
        ("POST", "/proposals/p-1/approve", {"room_id": "hall", "starts_at": at(0, "12:00")}),
        ("POST", "/proposals/p-1/reject", {"reason": "no"}),
        ("POST", "/proposals/p-1/withdraw", {"reason": "no"}),
        ("GET", "/children", None),
    ]
    for method, path, payload in calls:
        kwargs: dict[str, Any] = {"json": payload} if payload is not None else {}
        if path == "/schedule/import":
            kwargs = {"content": (EXAMPLES / "pretalx-democon.json").read_bytes()}
        response = http.request(method, base + path, headers=globex.auth, **kwargs)
        assert response.status_code == 404, (method, path, response.text)
        assert_error(response, 404, "not_found")
    assert schedule(http, acme, event) == before
    assert (
        sql(hub_db_module, "SELECT count(*) AS n FROM schedule_session WHERE event_id = $1", event)[0]["n"]
        == 1
    )


def test_a_speaker_named_by_an_unknown_attendee_id_is_refused_with_the_field(
    hub_db_module: str, http: httpx.Client
) -> None:
    org = new_org(hub_db_module, http)
    event = dated_event(http, org)
    put_room(http, org, event, "hall")
    unknown = add_session(http, org, event, "Panel", "hall", at(0, "10:00"), speaker_ids=["att-nobody"])
    message = assert_error(unknown, 422, "invalid")
    assert (
        "unknown speaker 'att-nobody'" in message and unknown.json()["details"]["field"] == "speaker_ids[0]"
    )
    host = add_session(http, org, event, "Meetup", "hall", at(0, "12:00"), host="att-ghost")
    assert_error(host, 422, "invalid")
    assert schedule(http, org, event)["sessions"] == []  # nothing written
    named = add_session(http, org, event, "Panel", "hall", at(0, "10:00"), speakers=["Ada Lovelace"])
    assert named.status_code == 201, named.text  # a free name needs no attendee
