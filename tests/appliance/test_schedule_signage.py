"""Schedule edits on room signs within a second, and room occupancy, through a real Mosquitto.

Two real appliances: A, the organizer's box with the room signs of its hall,
and B, initialised separately from A's catalog with A as its sync upstream
and signs of its own.  An edit made on A reaches A's signs within a second;
the same edit, arriving at B by sync, reaches B's signs within a second too.
Displays are plain paho clients (:class:`tests.drivers.test_signage.Listener`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.appliance.conftest import DemoAppliance, nonce
from tests.appliance.test_schedule_api import (
    HOUR,
    call,
    ok,
    seed_schedule_box,
    session_body,
    start_schedule_box,
)
from tests.drivers.test_signage import MOSQUITTO, Broker, Listener
from tests.helpers import ApplianceProcess, konferenco, wait_for

pytestmark = pytest.mark.skipif(
    MOSQUITTO is None, reason="mosquitto is not installed (make setup installs it)"
)

VENUE_A, VENUE_B = "hall-a-signs", "hall-b-signs"
#: An edit must be on the room's sign this soon after the organizer saved it (issue: "within a second").
WITHIN_S = 1.0


@dataclass
class Venue:
    broker: Broker
    a: DemoAppliance
    b: ApplianceProcess


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venue]:
    root = tmp_path_factory.mktemp("signs")
    (root / "broker").mkdir()
    broker = Broker(root / "broker")
    broker.start()
    a = b = None
    try:
        a = start_schedule_box(seed_schedule_box(root / "a", signage_port=broker.port, venue=VENUE_A))
        b_dir = root / "b" / "data"
        catalog_key = json.loads((a.data / "appliance.json").read_text())["catalog_keys"][0]
        konferenco(
            "appliance", "init", "--data", str(b_dir), "--event", "demo", "--device-id", "box-b",
            "--catalog-key", catalog_key,
        )  # fmt: skip
        konferenco("appliance", "import", "--data", str(b_dir), str(root / "a" / "catalog-2.json"))
        konferenco(
            "appliance", "devices", "add", "--data", str(b_dir), "--id", "signs", "--domain", "signage",
            "--set", f"venue={VENUE_B}", "--set", "host=127.0.0.1", "--set", f"port={broker.port}",
        )  # fmt: skip
        token = konferenco(
            "appliance", "peer-token", "--data", str(a.data), "--role", "device", "--peer-id", "box-b",
            "--device-id", "box-b",
        ).stdout.strip()  # fmt: skip
        b = ApplianceProcess(
            b_dir, None, "--upstream", a.url, "--upstream-token", token, "--upstream-peer", "A"
        )
        b.start()
        yield Venue(broker, a, b)
    finally:
        if b is not None:
            b.stop()
        if a is not None:
            a.process.stop()
        broker.stop()


def sign(venue: Venue, name: str, room: str, kind: str = "schedule") -> tuple[Listener, str]:
    """A door sign of ``room`` at venue ``name``, subscribed (it has its retained state once it settles)."""
    topic = f"konferenco/{name}/v1/rooms/{room}/{kind}"
    return Listener(venue.broker.port, topic).start(), topic


def arrives(
    listener: Listener, topic: str, predicate: Callable[[dict[str, Any]], bool], after: float, skip: int = 0
) -> float:
    """Seconds from ``after`` (time.monotonic) until a payload on ``topic`` satisfies ``predicate``.

    ``skip``: how many messages on the topic came before (they cannot be the answer).
    """
    deadline = after + 10

    def seen() -> bool:
        return any(predicate(json.loads(m.payload)) for m in listener.on(topic)[skip:] if m.payload)

    while not seen():
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing on {topic} matched within 10 s: {listener.on(topic)[-1:]}")
        time.sleep(0.005)
    return time.monotonic() - after


def ids(payload: dict[str, Any]) -> set[str]:
    return {s["id"] for s in payload["sessions"]}


def day3(venue: Venue, hour: int) -> int:
    frame = ok(call(venue.a, "GET", "/api/v1/schedule", None))["frame"]
    return int(frame["starts_at"]) + 2 * 24 * HOUR + hour * HOUR


def test_an_edit_is_on_the_rooms_sign_within_a_second_here_and_at_a_box_that_syncs(venue: Venue) -> None:
    here, here_topic = sign(venue, VENUE_A, "room-a")
    there, there_topic = sign(venue, VENUE_B, "room-a")
    try:
        # Both boxes published the demo schedule (B once it had synced A's control document).
        wait_for(lambda: here.last(here_topic), what="A's retained schedule of room-a")
        wait_for(lambda: there.last(there_topic), timeout=30, what="B's schedule of room-a, after its sync")
        timings: dict[str, list[float]] = {"here": [], "there": []}

        def measure(edit: Callable[[], Any], seen: Callable[[dict[str, Any]], bool]) -> None:
            before = len(here.on(here_topic)), len(there.on(there_topic))
            start = time.monotonic()
            edit()
            timings["here"].append(arrives(here, here_topic, seen, start, before[0]))
            timings["there"].append(arrives(there, there_topic, seen, start, before[1]))

        body = session_body("room-a", day3(venue, 16), 45, title="Late addition")
        created: dict[str, Any] = {}

        def create() -> None:
            created.update(ok(call(venue.a, "POST", "/api/v1/sessions", json=body), 201)["session"])

        measure(create, lambda p: created.get("id") in ids(p))
        sid = created["id"]
        new_title = {**body, "title": "Late addition (moved to 17:00)", "starts_at": day3(venue, 17)}
        measure(
            lambda: ok(call(venue.a, "PUT", f"/api/v1/sessions/{sid}", json=new_title)),
            lambda p: any(s["id"] == sid and s["title"] == new_title["title"] for s in p["sessions"]),
        )
        measure(
            lambda: ok(call(venue.a, "POST", f"/api/v1/sessions/{sid}/cancel")),
            lambda p: sid not in ids(p) and "d1-s2" in ids(p),  # cancelled: off the sign, the rest stays
        )
        print(f"edit to sign, seconds: {timings}")  # shown with -s
        for where, seconds in timings.items():
            assert max(seconds) < WITHIN_S, (where, seconds)
        shown = json.loads(here.last(here_topic) or b"{}")
        assert shown["name"] == "Salle Ádám" and shown["tz"] == "Europe/Vienna"
    finally:
        here.stop()
        there.stop()


def test_a_grassroots_session_shows_on_its_sign_with_its_host(venue: Venue) -> None:
    room = f"garden-{uuid.uuid4().hex[:6]}"
    ok(call(venue.a, "PUT", f"/api/v1/rooms/{room}", json={"name": "Garden", "grassroots": True}))
    display, topic = sign(venue, VENUE_A, room)
    try:
        body = session_body(room, day3(venue, 15), 60, title="Knitting for hackers", grassroots=True,
                            type="grassroots", host_name="Margaret Hamilton")  # fmt: skip
        created = ok(call(venue.a, "POST", "/api/v1/sessions", json=body), 201)["session"]
        arrives(display, topic, lambda p: created["id"] in ids(p), time.monotonic())
        (shown,) = json.loads(display.last(topic) or b"{}")["sessions"]
        assert (shown["grassroots"], shown["host"], shown["type"]) == (
            True,
            "Margaret Hamilton",
            "grassroots",
        )
        # A grassroots session in a room not open to them is refused, and never reaches a sign.
        closed = {**body, "room_id": "room-b", "title": "Not here"}
        refused = call(venue.a, "POST", "/api/v1/sessions", json=closed)
        assert (
            refused.status_code == 409
            and refused.json()["details"]["findings"][0]["rule"] == "grassroots_room"
        )
    finally:
        display.stop()


def scan(box: DemoAppliance, code: str, direction: str = "entry") -> dict[str, Any]:
    answer = ok(
        call(box, "POST", "/api/v1/scans", "door",
             json={"code": code, "nonce": nonce(), "gate": "annex", "direction": direction})
    )  # fmt: skip
    assert answer["result"] == "admitted", answer
    return dict(answer)


def test_occupancy_follows_check_ins_on_the_rooms_list_on_the_api_and_the_sign(venue: Venue) -> None:
    box = venue.a
    ok(call(box, "PUT", "/api/v1/rooms/annex", json={"name": "Annex", "capacity": 4}))
    now = int(time.time() * 1000)
    on = ok(
        call(box, "POST", "/api/v1/sessions", json=session_body("annex", now - 60_000, 50, attendance=4)), 201
    )
    session_id = on["session"]["id"]
    display, topic = sign(venue, VENUE_A, "annex", "capacity")

    def annex() -> dict[str, Any]:
        rooms = ok(call(box, "GET", "/api/v1/schedule/occupancy", None))["rooms"]
        return dict(next(r for r in rooms if r["room_id"] == "annex"))

    try:
        empty = annex()
        assert (empty["inside"], empty["capacity"], empty["state"]) == (0, 4, "open")
        assert empty["session"]["id"] == session_id and empty["session"]["title"] == on["session"]["title"]
        people = [box.take(lambda r: r["ticket_type_id"] == "full") for _ in range(4)]
        for person in people[:3]:
            scan(box, person["badge_code"])
        three = annex()
        assert (three["inside"], three["fill"], three["state"]) == (3, 0.75, "open")
        arrives(display, topic, lambda p: p["count"] == 3 and p["session_id"] == session_id, time.monotonic())
        scan(box, people[3]["badge_code"])
        assert annex()["state"] == "full"
        arrives(display, topic, lambda p: p["count"] == 4 and p["state"] == "full", time.monotonic())
        scan(box, people[0]["badge_code"], "exit")
        assert (annex()["inside"], annex()["state"]) == (3, "open")
        rooms = {r["room_id"]: r for r in ok(call(box, "GET", "/api/v1/schedule/occupancy", None))["rooms"]}
        assert rooms["main-hall"]["inside"] is None  # no list at its door: no count, not a zero
    finally:
        display.stop()
    with httpx.Client(base_url=box.url, timeout=10) as anonymous:  # public, like the signs
        assert anonymous.get("/api/v1/schedule/occupancy").status_code == 200
