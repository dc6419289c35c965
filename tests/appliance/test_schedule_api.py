"""The schedule's HTTP API as organizers, door staff and attendees use it, on a real appliance process.

``schedule_box`` (module scope) seeds a demo event with the real CLI, adds a
check-in list at the door of an extra room ("annex", no opening-hours rule, so
scans pass at any hour of the day), exports the badges, issues a token per role
and starts ``konferenco appliance serve``.  Tests of one module share it, so
each adds its own rooms and sessions and counts in deltas.  The other schedule
test modules (signage, files) build their box with :func:`start_schedule_box`.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from appliance.config import DataDir
from konferenco.catalog.bundle import Catalog, Gate, sign_catalog
from konferenco.rules import CheckinList
from konferenco.types import now_ms
from tests.appliance.conftest import ROLES, DemoAppliance
from tests.helpers import ApplianceProcess, konferenco

MINUTE = 60_000
HOUR = 60 * MINUTE
ORGANIZER_NAME = "Olga Organizer"


# --- the box ----------------------------------------------------------------------------------


def seed_schedule_box(
    root: Path, *, attendees: int = 60, signage_port: int | None = None, venue: str = ""
) -> Path:
    """A demo data directory with an "annex" door list (no hours rule) and, optionally, room signs."""
    data = root / "data"
    konferenco("demo", "seed", "--data", str(data), "--attendees", str(attendees), "--seed", "11")
    bundle = json.loads((data / "catalog.json").read_bytes())
    catalog = msgspec.convert(bundle["catalog"], Catalog)
    door = CheckinList(id="annex", name="Annex door", room_id="annex", capacity=4)
    catalog = msgspec.structs.replace(
        catalog,
        revision=catalog.revision + 1,
        lists=[*catalog.lists, door],
        gates=[*catalog.gates, Gate(id="annex", name="Annex door", default_list="annex")],
    )
    key = DataDir(data).catalog_key()
    assert key is not None
    signed = root / "catalog-2.json"
    signed.write_bytes(sign_catalog(catalog, key))
    konferenco("appliance", "import", "--data", str(data), str(signed))
    if signage_port is not None:
        konferenco(
            "appliance", "devices", "add", "--data", str(data), "--id", "signs", "--domain", "signage",
            "--set", f"venue={venue}", "--set", "host=127.0.0.1", "--set", f"port={signage_port}",
        )  # fmt: skip
    return data


def start_schedule_box(data: Path) -> DemoAppliance:
    """Serve DATA and sign in every role (the organizer as :data:`ORGANIZER_NAME`)."""
    root = data.parent
    badges_csv = root / "badges.csv"
    konferenco("appliance", "badges", "--data", str(data), "--out", str(badges_csv))
    tokens = {}
    for role in ROLES:
        name = ORGANIZER_NAME if role == "organizer" else role.title()
        issued = konferenco("appliance", "issue-token", "--data", str(data), "--role", role, "--name", name)
        tokens[role] = issued.stdout.strip()
    process = ApplianceProcess(data).start()
    with badges_csv.open(encoding="utf-8", newline="") as f:
        badges = list(csv.DictReader(f))
    bundle = json.loads((data / "catalog.json").read_bytes())
    catalog = {a["id"]: a for a in bundle["catalog"]["attendees"]}
    staff = json.loads((data / "secrets" / "demo-staff.json").read_text())
    device_id = json.loads((data / "appliance.json").read_text())["device_id"]
    return DemoAppliance(data, process, tokens, badges, catalog, staff, device_id)


@pytest.fixture(scope="module")
def schedule_box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoAppliance]:
    box = start_schedule_box(seed_schedule_box(tmp_path_factory.mktemp("schedule")))
    try:
        yield box
    finally:
        box.process.stop()


# --- helpers ----------------------------------------------------------------------------------


def call(
    box: DemoAppliance, method: str, path: str, role: str | None = "organizer", **kwargs: Any
) -> httpx.Response:
    with box.client(role) as client:
        return client.request(method, path, **kwargs)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return body


def schedule(box: DemoAppliance, **params: Any) -> dict[str, Any]:
    return dict(ok(call(box, "GET", "/api/v1/schedule", None, params=params)))


def frame(box: DemoAppliance) -> dict[str, Any]:
    return dict(schedule(box)["frame"])


def new_room(box: DemoAppliance, **fields: Any) -> str:
    room_id = f"room-{uuid.uuid4().hex[:8]}"
    body = {"name": f"Room {room_id[-4:]}", **fields}
    ok(call(box, "PUT", f"/api/v1/rooms/{room_id}", json=body))
    return room_id


def session_body(room_id: str, starts_at: int, minutes: int = 60, **fields: Any) -> dict[str, Any]:
    return {"title": f"Session {uuid.uuid4().hex[:6]}", "room_id": room_id, "starts_at": starts_at,
            "duration_min": minutes, **fields}  # fmt: skip


def day3(box: DemoAppliance, hour: int) -> int:
    """``hour`` o'clock (event time zone) on the event's third day, which the demo leaves empty."""
    return int(frame(box)["starts_at"]) + 2 * 24 * HOUR + hour * HOUR


# --- reading ----------------------------------------------------------------------------------


def test_anyone_reads_the_schedule_and_one_day_of_it(schedule_box: DemoAppliance) -> None:
    everything = schedule(schedule_box)
    assert everything["frame"]["timezone"] == "Europe/Vienna"
    assert {"main-hall", "room-a", "room-b"} <= {r["id"] for r in everything["rooms"]}
    demo = [s for s in everything["sessions"] if s["id"].startswith(("d1-", "d2-"))]
    assert len(demo) == 12
    assert all(s["status"] == "scheduled" and "speakers" in s for s in demo)  # every field, defaults too
    starts = [s["starts_at"] for s in everything["sessions"]]
    assert starts == sorted(starts)
    first_day = everything["frame"]["starts_at"]
    from datetime import datetime
    from zoneinfo import ZoneInfo

    day = datetime.fromtimestamp(first_day / 1000, ZoneInfo("Europe/Vienna")).date().isoformat()
    one = schedule(schedule_box, day=day)
    assert {s["id"] for s in one["sessions"] if s["id"].startswith("d")} == {f"d1-s{n}" for n in range(1, 7)}
    body = refused(
        call(schedule_box, "GET", "/api/v1/schedule", None, params={"day": "14.05.2025"}), 422, "invalid"
    )
    assert body["details"]["field"] == "day"
    assert ok(call(schedule_box, "GET", "/api/v1/sessions/d1-s1", None))["title"].startswith(
        "Opening keynote"
    )
    refused(call(schedule_box, "GET", "/api/v1/sessions/no-such", None), 404, "unknown_session")
    refused(call(schedule_box, "GET", "/api/v1/rooms/no-such", None), 404, "unknown_room")
    refused(
        call(schedule_box, "GET", "/api/v1/schedule", None, params={"event": "other"}), 404, "unknown_event"
    )


def test_an_organizer_adds_a_room_and_a_session_that_everyone_then_reads(schedule_box: DemoAppliance) -> None:
    room = new_room(schedule_box, capacity=30, area="Floor 2", features=["projector"], buffer_min=10)
    listed = ok(call(schedule_box, "GET", "/api/v1/rooms", None))["rooms"]
    assert {"id": room, "name": f"Room {room[-4:]}", "capacity": 30, "area": "Floor 2", "accessibility": "",
            "hours": [], "features": ["projector"], "grassroots": False, "buffer_min": 10,
            "position": 0} in listed  # fmt: skip
    body = session_body(room, day3(schedule_box, 10), 45, speakers=["Ada Lovelace"], track="Hardware")
    created = ok(call(schedule_box, "POST", "/api/v1/sessions", json=body), 201)
    session = created["session"]
    assert session["id"].startswith("s-") and created["warnings"] == []
    assert session["ends_at"] - session["starts_at"] == 45 * MINUTE
    read = ok(call(schedule_box, "GET", f"/api/v1/sessions/{session['id']}", None))
    assert read == session
    assert session["id"] in {s["id"] for s in schedule(schedule_box)["sessions"]}
    # The whole session is replaced by PUT; what an editor does not set is kept only where it came from.
    changed = ok(
        call(schedule_box, "PUT", f"/api/v1/sessions/{session['id']}", json={**body, "title": "Renamed"})
    )
    assert changed["session"]["title"] == "Renamed" and changed["session"]["track"] == "Hardware"


def test_a_double_booking_is_refused_with_its_sentence_and_nothing_is_written(
    schedule_box: DemoAppliance,
) -> None:
    room = new_room(schedule_box)
    first = ok(
        call(schedule_box, "POST", "/api/v1/sessions", json=session_body(room, day3(schedule_box, 9))), 201
    )
    before = len(schedule(schedule_box)["sessions"])
    clash = session_body(room, day3(schedule_box, 9) + 30 * MINUTE, title="Second booking")
    body = refused(call(schedule_box, "POST", "/api/v1/sessions", json=clash), 409, "schedule_conflict")
    assert "is booked twice" in body["message"] and first["session"]["title"] in body["message"]
    [finding] = body["details"]["findings"]
    assert finding["rule"] == "room_overlap" and finding["severity"] == "block"
    assert first["session"]["id"] in finding["sessions"]
    assert len(schedule(schedule_box)["sessions"]) == before
    assert "Second booking" not in {s["title"] for s in schedule(schedule_box)["sessions"]}
    # Moving the first one onto the second's time through PUT is refused the same way.
    other = ok(
        call(schedule_box, "POST", "/api/v1/sessions", json=session_body(room, day3(schedule_box, 12))), 201
    )
    moved = session_body(room, day3(schedule_box, 9), title=other["session"]["title"])
    refused(
        call(schedule_box, "PUT", f"/api/v1/sessions/{other['session']['id']}", json=moved),
        409,
        "schedule_conflict",
    )
    assert ok(call(schedule_box, "GET", f"/api/v1/sessions/{other['session']['id']}", None))[
        "starts_at"
    ] == day3(schedule_box, 12)


def test_an_approved_overlap_is_recorded_with_who_and_why_and_warns(schedule_box: DemoAppliance) -> None:
    room = new_room(schedule_box)
    first = ok(
        call(schedule_box, "POST", "/api/v1/sessions", json=session_body(room, day3(schedule_box, 14))), 201
    )
    clash = session_body(room, day3(schedule_box, 14), overlap_reason="two halves of the stage")
    created = ok(call(schedule_box, "POST", "/api/v1/sessions", json=clash), 201)
    overlap = created["session"]["overlap"]
    assert (overlap["by"], overlap["reason"]) == (ORGANIZER_NAME, "two halves of the stage")
    assert abs(overlap["at"] - now_ms()) < 60_000
    [warning] = [w for w in created["warnings"] if w["rule"] == "room_overlap"]
    assert warning["severity"] == "warn"
    assert f"Overlap approved by {ORGANIZER_NAME}: two halves of the stage" in warning["message"]
    listed = ok(call(schedule_box, "GET", "/api/v1/schedule/findings"))
    pair = {created["session"]["id"], first["session"]["id"]}
    assert any(f["rule"] == "room_overlap" and set(f["sessions"]) == pair and f["severity"] == "warn"
               for f in listed["findings"])  # fmt: skip
    # Moved elsewhere, the approval does not follow it: it was for that overlap.
    moved = {**clash, "starts_at": day3(schedule_box, 16), "overlap_reason": None}
    again = ok(call(schedule_box, "PUT", f"/api/v1/sessions/{created['session']['id']}", json=moved))
    assert again["session"]["overlap"] is None and again["warnings"] == []


def test_warnings_come_back_with_the_saved_session(schedule_box: DemoAppliance) -> None:
    room = new_room(schedule_box, capacity=60)
    crowded = session_body(room, day3(schedule_box, 8), attendance=500)
    created = ok(call(schedule_box, "POST", "/api/v1/sessions", json=crowded), 201)
    [warning] = created["warnings"]
    assert warning["rule"] == "over_capacity" and warning["severity"] == "warn"
    assert (
        warning["message"]
        == f"500 people are expected at “{crowded['title']}”, but Room {room[-4:]} holds 60."
    )
    found = ok(call(schedule_box, "GET", "/api/v1/schedule/findings"))["findings"]
    assert any(f["rule"] == "over_capacity" and f["sessions"] == [created["session"]["id"]] for f in found)


def test_the_settings_decide_what_blocks(schedule_box: DemoAppliance) -> None:
    room = new_room(schedule_box, capacity=10)
    try:
        settings = ok(
            call(
                schedule_box,
                "PUT",
                "/api/v1/schedule/settings",
                json={"severities": {"over_capacity": "block"}},
            )
        )
        assert settings["settings"]["severities"] == {"over_capacity": "block"}
        assert settings["rules"]["over_capacity"] == "warn" and "room_overlap" in settings["fixed"]
        crowded = session_body(room, day3(schedule_box, 18), attendance=11)
        body = refused(call(schedule_box, "POST", "/api/v1/sessions", json=crowded), 409, "schedule_conflict")
        assert body["details"]["findings"][0]["rule"] == "over_capacity"
        # A rule that always blocks cannot be lowered; an unknown rule is named.
        fixed = call(
            schedule_box, "PUT", "/api/v1/schedule/settings", json={"severities": {"room_overlap": "warn"}}
        )
        assert refused(fixed, 422, "invalid")["details"]["field"] == "severities.room_overlap"
        typo = call(
            schedule_box, "PUT", "/api/v1/schedule/settings", json={"severities": {"over_capcity": "warn"}}
        )
        assert refused(typo, 422, "invalid")["details"]["field"] == "severities.over_capcity"
        ignored = ok(
            call(
                schedule_box,
                "PUT",
                "/api/v1/schedule/settings",
                json={"severities": {"over_capacity": "ignore"}},
            )
        )
        assert ignored["settings"]["severities"] == {"over_capacity": "ignore"}
        created = ok(call(schedule_box, "POST", "/api/v1/sessions", json=crowded), 201)
        assert created["warnings"] == []
        read = ok(call(schedule_box, "GET", "/api/v1/schedule/settings", "kiosk"))
        assert read["settings"]["severities"] == {"over_capacity": "ignore"}
    finally:
        ok(call(schedule_box, "PUT", "/api/v1/schedule/settings", json={}))


def _overlaps(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    return a_start < b_end and b_start < a_end


def test_free_slots_never_overlap_anything_and_respect_the_filters(schedule_box: DemoAppliance) -> None:
    studio = new_room(schedule_box, capacity=25, features=["projector", "stream"], buffer_min=15)
    ok(
        call(
            schedule_box, "POST", "/api/v1/sessions", json=session_body(studio, day3(schedule_box, 10), 120)
        ),
        201,
    )
    start, end = frame(schedule_box)["starts_at"], frame(schedule_box)["ends_at"]
    found = ok(call(schedule_box, "GET", "/api/v1/slots", "kiosk",
                    params={"duration": 45, "from": start, "limit": 50}))  # fmt: skip
    assert found["count"] == len(found["slots"]) > 10
    everything = schedule(schedule_box)
    placed = [s for s in everything["sessions"] if s["status"] == "scheduled"]
    buffers = {r["id"]: r["buffer_min"] * MINUTE for r in everything["rooms"]}
    for slot in found["slots"]:
        assert slot["ends_at"] - slot["starts_at"] == 45 * MINUTE
        assert start <= slot["starts_at"] and slot["ends_at"] <= end
        buffer = buffers[slot["room_id"]]
        for s in placed:
            if s["room_id"] == slot["room_id"]:
                assert not _overlaps(
                    slot["starts_at"], slot["ends_at"], s["starts_at"] - buffer, s["ends_at"] + buffer
                ), (slot, s)
    # Only rooms with the features asked for, inside the window asked for, in the event's zone.
    day = everything["frame"]["starts_at"] + 2 * 24 * HOUR
    wanted = ok(call(schedule_box, "GET", "/api/v1/slots", "desk",
                     params={"duration": 60, "features": "projector,stream", "from": day + 9 * HOUR,
                             "to": day + 15 * HOUR, "attendance": 20}))  # fmt: skip
    assert wanted["slots"] and {s["room_id"] for s in wanted["slots"]} == {studio}
    for slot in wanted["slots"]:
        assert day + 9 * HOUR <= slot["starts_at"] and slot["ends_at"] <= day + 15 * HOUR
        assert not _overlaps(
            slot["starts_at"], slot["ends_at"], day + 10 * HOUR - 15 * MINUTE, day + 12 * HOUR + 15 * MINUTE
        )
    long_before = {"duration": 60, "rooms": studio, "from": "2000-01-01T00:00", "to": "2000-01-02T00:00"}
    iso = ok(call(schedule_box, "GET", "/api/v1/slots", "desk", params=long_before))
    assert iso["slots"] == []  # long before the event
    bad = call(schedule_box, "GET", "/api/v1/slots", "desk", params={"duration": 60, "from": "next tuesday"})
    assert refused(bad, 422, "invalid")["details"]["field"] == "from"
    unknown = call(schedule_box, "GET", "/api/v1/slots", "desk", params={"duration": 60, "rooms": "nowhere"})
    assert refused(unknown, 422, "invalid")["details"]["field"] == "rooms"
    refused(call(schedule_box, "GET", "/api/v1/slots", "desk", params={"duration": 2}), 400, "bad_request")


def test_a_value_that_cannot_be_names_its_field(schedule_box: DemoAppliance) -> None:
    room = new_room(schedule_box)
    before = len(schedule(schedule_box)["sessions"])
    cases = {
        "ends_at": {"title": "Backwards", "room_id": room, "starts_at": day3(schedule_box, 10),
                    "ends_at": day3(schedule_box, 9)},
        "room_id": session_body("no-such-room", day3(schedule_box, 10)),
        "duration_min": {**session_body(room, day3(schedule_box, 10), 30), "ends_at": day3(schedule_box, 12)},
        "title": {**session_body(room, day3(schedule_box, 10)), "title": "   "},
    }  # fmt: skip
    for field, body in cases.items():
        answer = refused(call(schedule_box, "POST", "/api/v1/sessions", json=body), 422, "invalid")
        assert answer["details"]["field"] == field, answer
    shapeless = call(schedule_box, "POST", "/api/v1/sessions", json={"room_id": room, "starts_at": "noon"})
    assert refused(shapeless, 400, "bad_request")["details"]["errors"]
    bad_id = refused(
        call(schedule_box, "PUT", "/api/v1/rooms/hall%20b", json={"name": "Hall B"}), 422, "invalid"
    )
    assert bad_id["details"]["field"] == "room_id"
    hours = {"name": "Late", "hours": [{"day": "2030-01-01", "opens": "18:00", "closes": "09:00"}]}
    assert (
        refused(call(schedule_box, "PUT", f"/api/v1/rooms/{room}", json=hours), 422, "invalid")["details"][
            "field"
        ]
        == "hours[0]"
    )
    assert len(schedule(schedule_box)["sessions"]) == before


def test_only_organizers_edit_and_only_staff_see_findings(schedule_box: DemoAppliance) -> None:
    body = session_body("main-hall", day3(schedule_box, 20))
    refused(call(schedule_box, "POST", "/api/v1/sessions", None, json=body), 401, "unauthorized")
    for role in ("door", "desk", "kiosk"):
        answer = refused(call(schedule_box, "POST", "/api/v1/sessions", role, json=body), 403, "forbidden")
        assert answer["details"]["allowed_roles"] == ["organizer"]
        refused(
            call(schedule_box, "PUT", "/api/v1/rooms/main-hall", role, json={"name": "X"}), 403, "forbidden"
        )
        refused(call(schedule_box, "PUT", "/api/v1/schedule/settings", role, json={}), 403, "forbidden")
    refused(call(schedule_box, "GET", "/api/v1/schedule/findings", "door"), 403, "forbidden")
    ok(call(schedule_box, "GET", "/api/v1/schedule/findings", "desk"))
    refused(call(schedule_box, "GET", "/api/v1/slots", None, params={"duration": 30}), 401, "unauthorized")
    assert ok(call(schedule_box, "GET", "/api/v1/rooms/main-hall", None))["name"] == "Main Hall"


def test_cancelling_frees_the_room_and_removing_is_for_mistakes(schedule_box: DemoAppliance) -> None:
    room = new_room(schedule_box)
    at = day3(schedule_box, 11)
    first = ok(call(schedule_box, "POST", "/api/v1/sessions", json=session_body(room, at)), 201)["session"]
    cancelled = ok(call(schedule_box, "POST", f"/api/v1/sessions/{first['id']}/cancel"))
    assert cancelled["status"] == "cancelled"
    shown = {s["id"]: s for s in schedule(schedule_box)["sessions"]}
    assert shown[first["id"]]["status"] == "cancelled"  # attendees see it was cancelled
    second = ok(call(schedule_box, "POST", "/api/v1/sessions", json=session_body(room, at)), 201)
    assert second["warnings"] == []  # the cancelled one holds no room
    in_use = refused(call(schedule_box, "DELETE", f"/api/v1/rooms/{room}"), 409, "conflict")
    assert in_use["details"]["sessions"] == [second["session"]["id"]]
    assert call(schedule_box, "DELETE", f"/api/v1/sessions/{second['session']['id']}").status_code == 204
    refused(
        call(schedule_box, "GET", f"/api/v1/sessions/{second['session']['id']}", None), 404, "unknown_session"
    )
    refused(
        call(schedule_box, "DELETE", f"/api/v1/sessions/{second['session']['id']}"), 404, "unknown_session"
    )
    refused(call(schedule_box, "POST", "/api/v1/sessions/no-such/cancel"), 404, "unknown_session")
    assert call(schedule_box, "DELETE", f"/api/v1/rooms/{room}").status_code == 204
    refused(call(schedule_box, "GET", f"/api/v1/rooms/{room}", None), 404, "unknown_room")


def test_a_box_without_the_organizer_capability_refuses_every_edit(tmp_path: Path) -> None:
    data = tmp_path / "data"
    konferenco("demo", "seed", "--data", str(data), "--attendees", "5")
    config = json.loads((data / "appliance.json").read_text())
    config["capabilities"] = ["scanner", "kiosk", "printer"]
    (data / "appliance.json").write_text(json.dumps(config))
    token = konferenco("appliance", "issue-token", "--data", str(data), "--role", "organizer").stdout.strip()
    with (
        ApplianceProcess(data) as process,
        httpx.Client(
            base_url=process.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as client,
    ):
        before = client.get("/api/v1/schedule").json()
        start = before["frame"]["starts_at"] + 2 * 24 * HOUR + 10 * HOUR
        for method, path, body in [
            ("POST", "/api/v1/sessions", session_body("main-hall", start)),
            ("PUT", "/api/v1/rooms/annex", {"name": "Annex"}),
            ("PUT", "/api/v1/schedule/settings", {}),
            ("POST", "/api/v1/sessions/d1-s1/cancel", None),
            ("DELETE", "/api/v1/sessions/d1-s1", None),
        ]:
            answer = refused(client.request(method, path, json=body), 403, "forbidden")
            assert answer["details"]["capability"] == "organizer"
            assert "organizer capability" in answer["message"]
        assert client.get("/api/v1/schedule").json() == before


def test_a_wrongly_typed_grassroots_field_is_the_clients_mistake(schedule_box: DemoAppliance) -> None:
    # Litestar answers 500 when a bad body field is named like a dependency: none may be "grassroots".
    for method, path, body in [
        ("PUT", "/api/v1/rooms/annex", {"name": "Annex", "grassroots": {}}),
        (
            "POST",
            "/api/v1/sessions",
            {**session_body("main-hall", day3(schedule_box, 9)), "grassroots": "yes"},
        ),
        ("PUT", "/api/v1/schedule/settings", {"grassroots": [None]}),
    ]:
        refused(call(schedule_box, method, path, json=body), 400, "bad_request")


def test_speakers_by_attendee_id_must_be_on_the_roster(schedule_box: DemoAppliance) -> None:
    attendee = next(iter(schedule_box.catalog))
    unknown = call(
        schedule_box, "POST", "/api/v1/sessions",
        json=session_body("main-hall", day3(schedule_box, 18), speaker_ids=["att-nobody"]),
    )  # fmt: skip
    body = refused(unknown, 422, "invalid")
    assert "unknown speaker 'att-nobody'" in body["message"] and body["details"]["field"] == "speaker_ids[0]"
    known = ok(
        call(
            schedule_box, "POST", "/api/v1/sessions",
            json=session_body("main-hall", day3(schedule_box, 18), speaker_ids=[attendee], host=attendee),
        ),
        201,
    )  # fmt: skip
    assert known["session"]["speaker_ids"] == [attendee]
