"""Grassroots sessions on a real appliance: attendees propose with their badge, organizers decide, hosts edit.

One ``konferenco appliance serve`` per module (the ``demo_appliance`` fixture:
200 demo attendees).  The demo event runs from today for three days; this
module turns grassroots proposals on (``PUT /api/v1/schedule/settings``),
opens a new room and Sala Łódź to grassroots sessions, and each test takes
its own attendees.  Figures are compared as deltas, since tests share the box.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from appliance.config import DataDir
from konferenco.badges import BadgePayload, BadgeSigner
from konferenco.schedule.grassroots import proposal_ref
from tests.appliance.conftest import DemoAppliance, nonce

PROPOSALS = "/api/v1/proposals"
HOSTED = "/api/v1/hosted-sessions"
MINUTE = 60_000
LOUNGE = {"name": "Grassroots Lounge", "capacity": 40, "grassroots": True}
SALA = {"name": "Sala Łódź", "capacity": 60, "grassroots": True}


# --- helpers ----------------------------------------------------------------------------------


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def refusal(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """A JSON refusal with this status and code, and a sentence for a person."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"], body
    return body


def settings(app: DemoAppliance, **grassroots: Any) -> None:
    with app.client("organizer") as client:
        ok(client.put("/api/v1/schedule/settings", json={"grassroots": {"enabled": True, **grassroots}}))


def propose(app: DemoAppliance, person: dict[str, Any], role: str = "kiosk", **body: Any) -> httpx.Response:
    body.setdefault("badge", {"code": person["badge_code"]})
    body.setdefault("title", f"Open session by {person['name']}")
    body.setdefault("duration_min", 45)
    with app.client(role) as client:
        return client.post(PROPOSALS, json=body)


def proposed(app: DemoAppliance, person: dict[str, Any], **body: Any) -> dict[str, Any]:
    return ok(propose(app, person, **body), 201)


def proposal(app: DemoAppliance, proposal_id: str) -> dict[str, Any]:
    with app.client("organizer") as client:
        return ok(client.get(f"{PROPOSALS}/{proposal_id}"))


def decide(app: DemoAppliance, proposal_id: str, action: str, **body: Any) -> httpx.Response:
    with app.client("organizer") as client:
        return client.post(f"{PROPOSALS}/{proposal_id}/{action}", json=body)


def schedule_session(app: DemoAppliance, session_id: str) -> dict[str, Any] | None:
    with app.client() as client:
        view = ok(client.get("/api/v1/schedule"))
    return next((s for s in view["sessions"] if s["id"] == session_id), None)


def recorded(app: DemoAppliance) -> tuple[int, int]:
    """Proposals in the projection and in the generic record table (the device log's copy)."""
    with sqlite3.connect(f"file:{app.data / 'appliance.db'}?mode=ro", uri=True) as conn:
        projected = conn.execute("SELECT count(*) FROM grassroots_proposal").fetchone()[0]
        logged = conn.execute("SELECT count(*) FROM sync_record WHERE kind = 'proposal'").fetchone()[0]
    return int(projected), int(logged)


def steps_metric(app: DemoAppliance) -> dict[str, float]:
    with app.client() as client:
        text = client.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    return {
        s.labels["step"]: s.value
        for s in families["konferenco_grassroots_steps"].samples
        if s.name.endswith("_total")
    }


def proposals_gauge(app: DemoAppliance) -> dict[str, float]:
    with app.client() as client:
        text = client.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    return {s.labels["status"]: s.value for s in families["konferenco_grassroots_proposals"].samples}


def full(row: dict[str, Any]) -> bool:
    return bool(row["ticket_type_id"] == "full")


@pytest.fixture(scope="module", autouse=True)
def grassroots_on(demo_appliance: DemoAppliance) -> Iterator[None]:
    with demo_appliance.client("organizer") as client:
        ok(client.put("/api/v1/rooms/gr-lounge", json=LOUNGE))
        ok(client.put("/api/v1/rooms/room-b", json=SALA))
    settings(demo_appliance)
    yield


# --- proposing ----------------------------------------------------------------------------------


def test_an_attendee_proposes_with_their_badge_and_reads_a_reference(demo_appliance: DemoAppliance) -> None:
    person = demo_appliance.take(full)
    before = steps_metric(demo_appliance).get("proposed", 0)
    answer = proposed(
        demo_appliance, person, title="  Knitting for hackers  ", description="Bring needles.", attendance=12
    )
    assert answer["status"] == "pending"
    assert answer["ref"] == proposal_ref(answer["proposal_id"]) and answer["ref"].startswith("GR-")
    assert answer["title"] == "Knitting for hackers"
    assert answer["proposer"] == person["attendee_id"]
    assert answer["proposer_name"] == answer["host_name"] == person["name"]
    assert answer["device_id"] == demo_appliance.device_id
    assert answer["steps"] == [{"step": "proposed", "at": answer["at"], "by": person["attendee_id"]}]
    assert steps_metric(demo_appliance)["proposed"] == before + 1
    # Organizers find it among the pending ones, with the best slots in rooms open to grassroots.
    with demo_appliance.client("organizer") as client:
        pending = ok(client.get(PROPOSALS, params={"status": "pending"}))
    listed = {p["proposal_id"]: p for p in pending["proposals"]}
    mine = listed[answer["proposal_id"]]
    assert pending["status"] == "pending" and all(p["status"] == "pending" for p in pending["proposals"])
    assert 1 <= len(mine["suggestions"]) <= 3
    now = int(time.time() * 1000)
    for slot in mine["suggestions"]:
        assert slot["room_id"] in {"gr-lounge", "room-b"}
        assert slot["ends_at"] - slot["starts_at"] == 45 * MINUTE
        assert slot["starts_at"] >= now - 15 * MINUTE
        assert not [w for w in slot["warnings"] if w["severity"] == "block"]


def test_the_desk_may_read_proposals_but_not_decide_and_a_door_may_not_propose(
    demo_appliance: DemoAppliance,
) -> None:
    person = demo_appliance.take(full)
    refusal(propose(demo_appliance, person, role="door"), 403, "forbidden")
    made = proposed(demo_appliance, person, role="desk")
    with demo_appliance.client("desk") as desk:
        assert ok(desk.get(f"{PROPOSALS}/{made['proposal_id']}"))["proposal_id"] == made["proposal_id"]
        refused = desk.post(f"{PROPOSALS}/{made['proposal_id']}/reject", json={"reason": "no"})
    refusal(refused, 403, "forbidden")


def test_a_revoked_badge_is_refused_with_the_doors_reason_and_nothing_is_recorded(
    demo_appliance: DemoAppliance,
) -> None:
    person = demo_appliance.take(full)
    with demo_appliance.client("organizer") as organizer:
        ok(
            organizer.post(
                "/api/v1/revocations",
                json={"target": "attendee", "value": person["attendee_id"], "reason": "lost badge"},
            )
        )
    before = recorded(demo_appliance)
    body = refusal(propose(demo_appliance, person), 422, "badge_refused")
    assert body["details"]["result"] == "revoked"
    assert "lost badge" in body["details"]["reason"] and "revoked" in body["message"]
    assert recorded(demo_appliance) == before


def test_another_events_badge_a_forged_one_and_garbage_are_refused(demo_appliance: DemoAppliance) -> None:
    person = demo_appliance.take(full)
    event_key = DataDir(demo_appliance.data).event_key("demo")
    assert event_key is not None
    other_event = BadgeSigner(event_key).sign(BadgePayload("other-event", person["attendee_id"], "full"))
    before = recorded(demo_appliance)
    body = refusal(propose(demo_appliance, person, badge={"code": other_event}), 422, "badge_refused")
    assert "another event" in body["details"]["reason"]
    garbage = refusal(
        propose(demo_appliance, person, badge={"code": "KF1:not-a-badge"}), 422, "badge_refused"
    )
    assert garbage["details"]["result"] == "invalid"
    tag = refusal(propose(demo_appliance, person, badge={"nfc_uid": "04:A2:19:FF"}), 422, "badge_refused")
    assert tag["details"]["result"] == "unknown_badge"
    assert "not linked to anyone" in tag["message"]
    refusal(propose(demo_appliance, person, badge={}), 422, "invalid")
    assert recorded(demo_appliance) == before


def test_a_day_pass_for_another_day_is_refused_as_at_the_door(demo_appliance: DemoAppliance) -> None:
    now_s = time.time()
    person = demo_appliance.take(lambda r: r["ticket_type_id"] == "day" and int(r["valid_from"]) > now_s)
    body = refusal(propose(demo_appliance, person), 422, "badge_refused")
    assert body["details"]["result"] == "not_yet_valid"
    assert "valid from" in body["message"]


def test_an_nfc_tag_proves_its_holder(demo_appliance: DemoAppliance) -> None:
    person = demo_appliance.take(lambda r: full(r) and bool(r["nfc_uid"]))
    answer = proposed(demo_appliance, person, badge={"nfc_uid": person["nfc_uid"]})
    assert answer["proposer"] == person["attendee_id"]


def test_proposals_are_refused_when_grassroots_is_off_or_out_of_limits(demo_appliance: DemoAppliance) -> None:
    person = demo_appliance.take(full)
    before = recorded(demo_appliance)
    with demo_appliance.client("organizer") as client:
        ok(client.put("/api/v1/schedule/settings", json={}))  # grassroots off (the default)
    try:
        body = refusal(propose(demo_appliance, person), 422, "proposal_refused")
        assert body["details"]["reason"] == "This event does not take session proposals."
    finally:
        settings(demo_appliance)
    long = refusal(propose(demo_appliance, person, duration_min=240), 422, "proposal_refused")
    assert long["details"]["reason"] == "A session here lasts between 15 and 120 minutes."
    settings(demo_appliance, closes_at=int(time.time() * 1000) - 1)
    try:
        closed = refusal(propose(demo_appliance, person), 422, "proposal_refused")
        assert closed["details"]["reason"] == "Session proposals are closed."
    finally:
        settings(demo_appliance)
    assert recorded(demo_appliance) == before


def test_an_attendee_may_keep_only_so_many_proposals_open(demo_appliance: DemoAppliance) -> None:
    person = demo_appliance.take(full)
    settings(demo_appliance, max_open_per_attendee=2)
    try:
        first = proposed(demo_appliance, person, title="One")
        proposed(demo_appliance, person, title="Two")
        body = refusal(propose(demo_appliance, person, title="Three"), 422, "proposal_refused")
        assert "already have 2 proposals waiting" in body["details"]["reason"]
        # A decided proposal is no longer open: the attendee may propose again.
        ok(decide(demo_appliance, first["proposal_id"], "reject", reason="Duplicate of another session"))
        proposed(demo_appliance, person, title="Three")
    finally:
        settings(demo_appliance)


def test_a_retried_proposal_with_its_nonce_is_recorded_once(demo_appliance: DemoAppliance) -> None:
    person = demo_appliance.take(full)
    key = nonce()
    first = proposed(demo_appliance, person, nonce=key)
    before = recorded(demo_appliance)
    again = ok(propose(demo_appliance, person, nonce=key), 200)
    assert again["replayed"] is True and again["proposal_id"] == first["proposal_id"] == key
    assert recorded(demo_appliance) == before
    refusal(propose(demo_appliance, person, nonce=key, title="Something else"), 409, "nonce_reused")


def test_bad_bodies_say_which_field(demo_appliance: DemoAppliance) -> None:
    person = demo_appliance.take(full)
    assert (
        refusal(propose(demo_appliance, person, title="   "), 422, "invalid")["details"]["field"] == "title"
    )
    wrong = refusal(propose(demo_appliance, person, wished_rooms=["atlantis"]), 422, "invalid")
    assert wrong["details"]["field"] == "wished_rooms"
    refusal(propose(demo_appliance, person, wished_from=2_000, wished_to=1_000), 422, "invalid")
    refusal(propose(demo_appliance, person, colour="red"), 400, "bad_request")


# --- deciding -----------------------------------------------------------------------------------


def test_approved_into_a_suggested_slot_it_is_a_scheduled_session_everywhere(
    demo_appliance: DemoAppliance,
) -> None:
    person = demo_appliance.take(full)
    made = proposed(
        demo_appliance, person, title="Lockpicking basics", description="Bring locks.", attendance=20
    )
    before = steps_metric(demo_appliance)
    slot = proposal(demo_appliance, made["proposal_id"])["suggestions"][0]
    check = ok(
        decide(
            demo_appliance,
            made["proposal_id"],
            "reserve",
            room_id=slot["room_id"],
            starts_at=slot["starts_at"],
        )
    )
    assert check["ok"] is True
    answer = ok(
        decide(
            demo_appliance,
            made["proposal_id"],
            "approve",
            room_id=slot["room_id"],
            starts_at=slot["starts_at"],
        )
    )
    session = answer["session"]
    assert answer["decision"] == "scheduled" and answer["proposal"]["status"] == "approved"
    assert answer["by"] and answer["at"]
    assert session["id"] == f"gr-{answer['decision_id']}"
    assert session["grassroots"] is True and session["type"] == "grassroots"
    assert session["host"] == session["proposer"] == person["attendee_id"]
    assert session["host_name"] == person["name"] and session["abstract"] == "Bring locks."
    assert (session["room_id"], session["starts_at"]) == (slot["room_id"], slot["starts_at"])
    assert session["ends_at"] == slot["starts_at"] + 45 * MINUTE
    assert [s["step"] for s in answer["proposal"]["steps"]] == ["proposed", "approved"]
    shown = schedule_session(demo_appliance, session["id"])
    assert shown is not None and shown["status"] == "scheduled" and shown["title"] == "Lockpicking basics"
    with demo_appliance.client("organizer") as client:
        for export in ("/api/v1/schedule.ics", "/api/v1/schedule.xml", "/api/v1/schedule.json"):
            response = client.get(export)
            assert response.status_code == 200, (export, response.text)
            assert "Lockpicking basics" in response.text, export
    after = steps_metric(demo_appliance)
    assert after["approved"] == before.get("approved", 0) + 1
    assert after["scheduled"] == before.get("scheduled", 0) + 1


def test_a_taken_slot_is_refused_unless_the_overlap_is_approved_with_a_reason(
    demo_appliance: DemoAppliance,
) -> None:
    first, second = demo_appliance.take(full), demo_appliance.take(full)
    a = proposed(demo_appliance, first, title="Morning yoga")
    b = proposed(demo_appliance, second, title="Morning tai chi")
    slot = proposal(demo_appliance, a["proposal_id"])["suggestions"][0]
    where = {"room_id": slot["room_id"], "starts_at": slot["starts_at"]}
    ok(decide(demo_appliance, a["proposal_id"], "approve", **where))
    check = ok(decide(demo_appliance, b["proposal_id"], "reserve", **where))
    assert check["ok"] is False
    assert any(f["rule"] == "room_overlap" and f["severity"] == "block" for f in check["findings"])
    body = refusal(decide(demo_appliance, b["proposal_id"], "approve", **where), 409, "schedule_conflict")
    assert "booked twice" in body["message"] and "Morning yoga" in body["message"]
    assert proposal(demo_appliance, b["proposal_id"])["status"] == "pending"
    answer = ok(
        decide(
            demo_appliance, b["proposal_id"], "approve", **where, overlap_reason="Same mats, joint session"
        )
    )
    overlap = answer["session"]["overlap"]
    assert overlap["reason"] == "Same mats, joint session" and overlap["by"]
    assert any(w["rule"] == "room_overlap" and w["severity"] == "warn" for w in answer["warnings"])
    approved = answer["proposal"]["steps"][-1]
    assert approved["step"] == "approved" and approved["reason"] == "Same mats, joint session"
    # A second decision on a decided proposal is refused, whatever it says.
    again = refusal(
        decide(demo_appliance, b["proposal_id"], "reject", reason="changed my mind"), 409, "already_decided"
    )
    assert again["details"]["status"] == "approved"
    refusal(decide(demo_appliance, a["proposal_id"], "approve", **where), 409, "already_decided")


def test_rejected_with_a_reason_and_an_approval_withdrawn_cancels_its_session(
    demo_appliance: DemoAppliance,
) -> None:
    person = demo_appliance.take(full)
    rejected = proposed(demo_appliance, person, title="Crypto pitch")
    refusal(decide(demo_appliance, rejected["proposal_id"], "reject", reason="   "), 422, "invalid")
    refusal(decide(demo_appliance, rejected["proposal_id"], "reject"), 400, "bad_request")
    answer = ok(
        decide(demo_appliance, rejected["proposal_id"], "reject", reason="Sales pitches are not sessions")
    )
    assert answer["proposal"]["status"] == "rejected"
    assert answer["proposal"]["reason"] == "Sales pitches are not sessions"
    assert answer["proposal"]["steps"][-1]["step"] == "rejected" and answer["proposal"]["steps"][-1]["by"]

    made = proposed(demo_appliance, person, title="Board games night")
    slot = proposal(demo_appliance, made["proposal_id"])["suggestions"][0]
    approved = ok(
        decide(
            demo_appliance,
            made["proposal_id"],
            "approve",
            room_id=slot["room_id"],
            starts_at=slot["starts_at"],
        )
    )
    before = steps_metric(demo_appliance)
    withdrawn = ok(
        decide(demo_appliance, made["proposal_id"], "withdraw", reason="Room needed for a keynote")
    )
    assert withdrawn["proposal"]["status"] == "pending"
    assert withdrawn["session"]["status"] == "cancelled"
    assert [s["step"] for s in withdrawn["proposal"]["steps"]] == ["proposed", "approved", "withdrawn"]
    shown = schedule_session(demo_appliance, approved["session"]["id"])
    assert shown is None or shown["status"] == "cancelled"
    after = steps_metric(demo_appliance)
    assert after["withdrawn"] == before.get("withdrawn", 0) + 1
    assert after["cancelled"] == before.get("cancelled", 0) + 1
    # Pending again: it may be approved anew, into another session.
    again = ok(
        decide(
            demo_appliance,
            made["proposal_id"],
            "approve",
            room_id=slot["room_id"],
            starts_at=slot["starts_at"],
        )
    )
    assert again["session"]["id"] != approved["session"]["id"]
    refusal(decide(demo_appliance, rejected["proposal_id"], "withdraw"), 409, "already_decided")


def test_unknown_proposals_and_rooms(demo_appliance: DemoAppliance) -> None:
    with demo_appliance.client("organizer") as client:
        refusal(client.get(f"{PROPOSALS}/no-such-proposal"), 404, "unknown_proposal")
        body = refusal(
            client.post(
                f"{PROPOSALS}/no-such-proposal/approve", json={"room_id": "gr-lounge", "starts_at": 0}
            ),
            404,
            "unknown_proposal",
        )
        assert body["details"]["proposal_id"] == "no-such-proposal"
        refusal(
            client.post(f"{PROPOSALS}/no-such-proposal/reject", json={"reason": "x"}), 404, "unknown_proposal"
        )
    made = proposed(demo_appliance, demo_appliance.take(full))
    refusal(
        decide(demo_appliance, made["proposal_id"], "approve", room_id="atlantis", starts_at=0),
        404,
        "unknown_room",
    )


def test_the_lists_filter_by_status_and_the_gauge_counts_them(demo_appliance: DemoAppliance) -> None:
    gauge = proposals_gauge(demo_appliance)
    with demo_appliance.client("organizer") as client:
        counts = {
            status: ok(client.get(PROPOSALS, params={"status": status}))["count"]
            for status in ("pending", "approved", "rejected", "all")
        }
        assert ok(client.get(f"{PROPOSALS}/conflicts"))["count"] == 0
    assert counts["all"] == counts["pending"] + counts["approved"] + counts["rejected"]
    assert gauge == {status: counts[status] for status in ("pending", "approved", "rejected")}


# --- hosts --------------------------------------------------------------------------------------


def test_a_host_sees_their_session_with_its_occupancy_and_edits_title_and_description_only(
    demo_appliance: DemoAppliance,
) -> None:
    host, other = demo_appliance.take(full), demo_appliance.take(full)
    made = proposed(demo_appliance, host, title="Soldering for beginners", duration_min=60)
    now = int(time.time() * 1000)
    start = now - now % (15 * MINUTE)  # running now, in Sala Łódź (its door list counts who is inside)
    answer = ok(
        decide(
            demo_appliance, made["proposal_id"], "approve", room_id="room-b", starts_at=start,
            overlap_reason="Test: whatever else is on in the room now",
        )
    )  # fmt: skip
    session_id = answer["session"]["id"]
    admitted = 0
    for guest in (demo_appliance.take(full), demo_appliance.take(full)):
        with demo_appliance.client("door") as door:
            scan = ok(
                door.post(
                    "/api/v1/scans", json={"code": guest["badge_code"], "nonce": nonce(), "gate": "workshop"}
                )
            )
        admitted += scan["result"] == "admitted"

    with demo_appliance.client("kiosk") as kiosk:
        mine = ok(kiosk.post(HOSTED, json={"badge": {"code": host["badge_code"]}}))
        assert mine["attendee_id"] == host["attendee_id"] and mine["name"] == host["name"]
        hosted = {h["session"]["id"]: h for h in mine["sessions"]}[session_id]
        assert hosted["room"] == "Sala Łódź"
        assert hosted["occupancy"]["now"] is True
        assert hosted["occupancy"]["capacity"] == 60
        assert hosted["occupancy"]["inside"] >= admitted  # earlier tests of the module may have entered too
        assert ok(kiosk.post(HOSTED, json={"badge": {"code": other["badge_code"]}}))["sessions"] == []

        edited = ok(
            kiosk.patch(
                f"{HOSTED}/{session_id}",
                json={"badge": {"code": host["badge_code"]}, "title": "Soldering for everyone"},
            )
        )
        assert edited["session"]["title"] == "Soldering for everyone"
        described = ok(
            kiosk.patch(
                f"{HOSTED}/{session_id}",
                json={"badge": {"code": host["badge_code"]}, "description": "Irons provided."},
            )
        )
        assert described["session"]["title"] == "Soldering for everyone"  # the title edit still counts
        assert described["session"]["abstract"] == "Irons provided."
        not_host = refusal(
            kiosk.patch(
                f"{HOSTED}/{session_id}", json={"badge": {"code": other["badge_code"]}, "title": "Mine now"}
            ),
            403,
            "not_host",
        )
        assert "host" in not_host["message"]
        # Nothing else: a room or a time is not the host's to change.
        refusal(
            kiosk.patch(
                f"{HOSTED}/{session_id}", json={"badge": {"code": host["badge_code"]}, "room_id": "main-hall"}
            ),
            400,
            "bad_request",
        )
        refusal(
            kiosk.patch(f"{HOSTED}/{session_id}", json={"badge": {"code": host["badge_code"]}}),
            422,
            "invalid",
        )
        refusal(
            kiosk.patch(
                f"{HOSTED}/no-such-session", json={"badge": {"code": host["badge_code"]}, "title": "x"}
            ),
            404,
            "unknown_session",
        )
    shown = schedule_session(demo_appliance, session_id)
    assert shown is not None
    assert shown["title"] == "Soldering for everyone" and shown["abstract"] == "Irons provided."
    assert shown["room_id"] == "room-b" and shown["starts_at"] == start
    with demo_appliance.client() as client:
        assert "Soldering for everyone" in client.get("/api/v1/schedule.ics").text


# --- the API's documentation -------------------------------------------------------------------


def test_the_openapi_document_names_each_routes_refusals(demo_appliance: DemoAppliance) -> None:
    from appliance.grassroots.controller import ROUTE_ERRORS

    with demo_appliance.client() as client:
        document = ok(client.get("/schema/openapi.json"))
    for key, codes in ROUTE_ERRORS.items():
        method, path = key.split(" ", 1)
        operation = document["paths"][path][method.lower()]
        named = {
            example["value"]["code"]
            for status, response in operation["responses"].items()
            if int(status) >= 400
            for example in response["content"]["application/json"]["examples"].values()
        }
        assert set(codes) <= named, key
        assert operation["tags"] == ["grassroots"], key
    reserve = document["paths"]["/api/v1/proposals/{proposal_id}/reserve"]["post"]
    assert "holds nothing" in reserve["description"]
