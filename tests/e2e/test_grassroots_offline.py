"""Grassroots sessions with the venue's internet gone, then the hub catching up (issue #12, "done means").

A hub, and two appliances enrolled with it: A at the entrance (a kiosk that
also organizes) and B in the organizers' office, with room signs on the
venue's Mosquitto.  The event takes proposals; the hub set the rooms.

1. The cable is pulled: the hub stops.  B syncs with A over the LAN.
2. Two attendees propose sessions at A's kiosk with their badges.  B, the
   organizers' box, lists both.
3. The LAN link between the two boxes fails too.  Each box approves a
   different proposal into the same slot of the same room — neither can
   know.  B's approval is on the room's sign (``mosquitto_sub``, a stock
   client) and in B's ``schedule.ics`` and schema-valid ``schedule.xml``.
4. The cable is back: the hub starts again.  Both boxes catch up with it.
   The hub shows both sessions as child events; the hub, A and B all list
   the same one conflict — the later decision, "slot taken" — and nothing
   was dropped or moved.

The module fixture plays the scenario once with real processes and keeps
what each side answered; the tests check those answers.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import xmlschema

from tests.e2e.hub_setup import Organizer, create_organization, enrol, fresh_database, sign_in
from tests.helpers import ROOT, ApplianceProcess, Box, HubProcess, konferenco, wait_for

pytestmark = pytest.mark.slow

FORMATS = ROOT.parent / "shared" / "schedule-formats"
HOUR = 3_600_000
VENUE = f"e2e-grassroots-{int(time.time())}"  # the machine's broker is shared: a venue of our own
SIGN = f"konferenco/{VENUE}/v1/rooms/hall/schedule"


@dataclass
class Staff:
    """A signed-in client of one appliance."""

    url: str
    token: str

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        assert response.status_code in (200, 201), f"{method} {path}: {response.status_code} {response.text}"
        return response.json()


@dataclass
class Story:
    organizer: Organizer
    slot: int = 0
    refs: dict[str, str] = field(default_factory=dict)  # proposal id -> the reference the attendee read
    listed_at_b: list[str] = field(default_factory=list)
    approvals: dict[str, dict[str, Any]] = field(default_factory=dict)  # box -> its approval answer
    sign: dict[str, Any] = field(default_factory=dict)  # what the room's sign showed, from B
    ics: bytes = b""
    xml: bytes = b""
    children: list[dict[str, Any]] = field(default_factory=list)
    hub_conflicts: list[dict[str, Any]] = field(default_factory=list)
    box_conflicts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    box_sessions: dict[str, list[str]] = field(default_factory=dict)  # grassroots session ids per box
    caught_up_s: float = 0.0


def token(data: Path, role: str, name: str) -> str:
    return konferenco(
        "appliance", "issue-token", "--data", str(data), "--role", role, "--name", name
    ).stdout.strip()


def restart(box: Box, *extra: str) -> None:
    """Stop the box and serve it again on the same port (``extra``: e.g. a LAN upstream)."""
    box.process.stop()
    box.process = ApplianceProcess(box.data, box.process.port, *extra)
    box.process.start()


class SignWatcher:
    """``mosquitto_sub`` on the room's retained schedule topic, as a third-party sign would run it."""

    def __init__(self, topic: str) -> None:
        self.proc = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", "1883", "-t", topic, "-q", "1"],
            stdout=subprocess.PIPE,
            text=True,
        )

    def session_titled(self, title: str, timeout: float = 10) -> dict[str, Any]:
        """The first payload that lists a session with ``title`` (lines are JSON payloads)."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            payload = json.loads(line)
            for session in payload.get("sessions", []):
                if session["title"] == title:
                    return dict(session)
        raise AssertionError(f"the sign never showed “{title}”")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    root = tmp_path_factory.mktemp("grassroots-offline")
    with fresh_database() as database:
        create_organization(database)
        hub = HubProcess(database, root / "secrets")
        boxes: list[Box] = []
        watcher: SignWatcher | None = None
        try:
            hub.start()
            organizer = sign_in(hub.url)
            now = int(time.time() * 1000) // HOUR * HOUR
            event = organizer.post(
                "/api/v1/events",
                {
                    "name": "Camp",
                    "timezone": "Europe/Berlin",
                    "starts_at": now - HOUR,
                    "ends_at": now + 48 * HOUR,
                },
            )
            organizer.event_id = event["id"]
            roster = "external_ref,name,company,email,ticket_type\n" + "".join(
                f"T-{i},Camper {i},Acme,c{i}@example.com,General\n" for i in range(6)
            )
            organizer.post(
                f"/api/v1/events/{organizer.event_id}/attendees/import",
                content=roster.encode(),
                headers={"Content-Type": "text/csv"},
            )
            base = f"/api/v1/events/{organizer.event_id}"
            room = organizer.request(
                "PUT", f"{base}/rooms/hall", json={"name": "Hall", "capacity": 80, "grassroots": True}
            )
            assert room.status_code == 200, room.text
            settings = organizer.request(
                "PUT", f"{base}/schedule/settings", json={"grassroots": {"enabled": True}}
            )
            assert settings.status_code == 200, settings.text
            story = Story(organizer, slot=now + 26 * HOUR)  # tomorrow, inside the event
            badges = organizer.badges()

            a = enrol(organizer, root / "A", "Entrance", ("kiosk", "organizer", "scanner"))
            b = enrol(organizer, root / "B", "Office", ("organizer", "scanner"))
            boxes = [a, b]
            konferenco(
                "appliance", "devices", "add", "--data", str(b.data), "--id", "signs", "--domain", "signage",
                "--set", f"venue={VENUE}", "--set", "host=127.0.0.1", "--set", "port=1883",
            )  # fmt: skip
            kiosk_a = Staff(a.process.url, token(a.data, "kiosk", "Entrance kiosk"))
            org_a = Staff(a.process.url, token(a.data, "organizer", "Olga"))
            org_b = Staff(b.process.url, token(b.data, "organizer", "Ravi"))
            for box in boxes:
                box.process.start()
            for staff in (org_a, org_b):  # the hub's rooms and settings reached both boxes
                wait_for(
                    lambda s=staff: (
                        any(r["id"] == "hall" for r in s.ok("GET", "/api/v1/schedule")["rooms"])
                        and s.ok("GET", "/api/v1/schedule/settings")["settings"]["grassroots"]["enabled"]
                    ),
                    timeout=30,
                    what="the hub's schedule on the appliance",
                )

            # 1. the cable is pulled; B reaches A over the LAN
            hub.stop()
            restart(b, "--upstream", a.process.url)

            # 2. two attendees propose at A's kiosk with their badges
            for badge, title in ((badges[0], "Soldering for beginners"), (badges[1], "Night sky walk")):
                body = {"badge": {"code": badge.code}, "title": title, "duration_min": 60, "attendance": 20}
                made = kiosk_a.ok("POST", "/api/v1/proposals", json=body)
                story.refs[made["proposal_id"]] = made["ref"]
            solder, night = list(story.refs)

            def listed() -> list[str]:
                return [
                    p["proposal_id"] for p in org_b.ok("GET", "/api/v1/proposals?status=pending")["proposals"]
                ]

            story.listed_at_b = wait_for(
                lambda: sorted(listed()) == sorted(story.refs) and listed(),
                timeout=30,
                what="the proposals at the organizers' box",
            )

            # 3. the LAN fails too: each box approves a different proposal into the same slot
            restart(b)
            watcher = SignWatcher(SIGN)
            slot = {"room_id": "hall", "starts_at": story.slot}
            story.approvals["A"] = org_a.ok("POST", f"/api/v1/proposals/{night}/approve", json=slot)
            time.sleep(0.05)  # B decides after A, by the clock they share here
            story.approvals["B"] = org_b.ok("POST", f"/api/v1/proposals/{solder}/approve", json=slot)
            story.sign = watcher.session_titled("Soldering for beginners")
            story.ics = org_b.call("GET", "/api/v1/schedule.ics").content
            story.xml = org_b.call("GET", "/api/v1/schedule.xml").content

            # 4. the cable is back: the same hub again (database, secrets, port)
            back = time.monotonic()
            hub = HubProcess(database, root / "secrets", hub.port)
            hub.start()

            def hub_sees_both() -> list[dict[str, Any]]:
                children = organizer.get(f"{base}/children")["children"]
                return children if len(children) == 2 else []

            story.children = wait_for(hub_sees_both, timeout=60, what="both child events on the hub")
            story.caught_up_s = time.monotonic() - back
            story.hub_conflicts = wait_for(
                lambda: organizer.get(f"{base}/schedule")["conflicts"], timeout=30, what="the hub's conflict"
            )
            for name, staff in (("A", org_a), ("B", org_b)):
                story.box_conflicts[name] = wait_for(
                    lambda s=staff: s.ok("GET", "/api/v1/proposals/conflicts")["conflicts"],
                    timeout=60,
                    what=f"the conflict at box {name}",
                )
                story.box_sessions[name] = sorted(
                    s["id"] for s in staff.ok("GET", "/api/v1/schedule")["sessions"] if s["grassroots"]
                )
            yield story
        finally:
            if watcher is not None:
                watcher.stop()
            for box in boxes:
                box.process.stop()
            hub.stop()


def test_attendees_proposed_at_one_box_and_the_organizers_box_listed_them_with_the_hub_gone(
    story: Story,
) -> None:
    assert sorted(story.listed_at_b) == sorted(story.refs)
    assert all(ref.startswith("GR-") for ref in story.refs.values())


def test_the_approval_made_offline_is_on_the_room_sign_and_in_the_exports(story: Story) -> None:
    assert story.sign["title"] == "Soldering for beginners"
    assert story.sign["starts_at"] == story.slot and story.sign["grassroots"] is True
    assert b"SUMMARY:Soldering for beginners" in story.ics
    xmlschema.XMLSchema(FORMATS / "schedule.xml.xsd").validate(story.xml)
    assert b"<title>Soldering for beginners</title>" in story.xml


def test_the_hub_catches_up_and_shows_both_sessions_as_child_events(story: Story) -> None:
    print(f"the hub showed both child events {story.caught_up_s:.1f} s after it came back")
    assert story.caught_up_s < 30, f"the hub took {story.caught_up_s:.1f} s to catch up"
    assert sorted(c["name"] for c in story.children) == ["Night sky walk", "Soldering for beginners"]
    assert all(c["parent_id"] == story.organizer.event_id and c["room_id"] == "hall" for c in story.children)


def test_nothing_was_dropped_and_every_replica_names_the_same_later_decision(story: Story) -> None:
    later = story.approvals["B"]["decision_id"]
    assert story.box_sessions["A"] == story.box_sessions["B"] and len(story.box_sessions["A"]) == 2
    for conflicts in (story.hub_conflicts, story.box_conflicts["A"], story.box_conflicts["B"]):
        assert [(c["decision_id"], c["rule"]) for c in conflicts] == [(later, "slot_taken")]
        assert conflicts[0]["earlier_decision_id"] == story.approvals["A"]["decision_id"]
