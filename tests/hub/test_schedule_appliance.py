"""A proposal recorded at a venue appliance is decided on the hub, and the decision goes back to the box.

Real processes: ``konferenco hub serve`` on a scratch database and an
appliance enrolled as a kiosk (``konferenco appliance enroll``).  The
attendee's proposal is in the kiosk's own device log when it starts (as if
recorded while the internet was down); the box syncs it up, the organizer
finds it on the hub and approves it into a room, and then:

* the hub's catalog has a child event for it, and its exports hold it;
* the appliance receives the session by sync and shows it in its own
  schedule — the hub decided, the venue shows it, nobody copied anything.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from appliance.config import DataDir
from appliance.storage import open_replica
from sync.records import Proposal
from tests.e2e.hub_setup import (
    Badge,
    Organizer,
    create_event,
    create_organization,
    fresh_database,
    sign_in,
)
from tests.helpers import ApplianceProcess, Box, HubProcess, konferenco, wait_for

pytestmark = pytest.mark.slow

START = 1_900_000_800_000  # a Tuesday morning in 2030, whole hours (UTC)


def enrol_kiosk(organizer: Organizer, data: Path) -> Box:
    """An appliance at the proposals desk: the kiosk capability lets its log carry proposals."""
    enrolment = organizer.post(
        f"/api/v1/events/{organizer.event_id}/enrolments", {"capabilities": ["kiosk"], "name": "Desk"}
    )
    done = konferenco(
        "appliance", "enroll", "--data", str(data), "--hub", organizer.url, "--token", enrolment["token"],
        "--name", "Desk",
    )  # fmt: skip
    assert "enrolled as" in done.stdout, done.stdout + done.stderr
    device_id = json.loads((data / "appliance.json").read_text())["device_id"]
    token = konferenco("appliance", "issue-token", "--data", str(data), "--role", "door").stdout.strip()
    return Box(data, device_id, token, ApplianceProcess(data))


async def _record(data: Path, event_id: str, device_id: str, proposal: Proposal) -> None:
    replica = open_replica(DataDir(data))
    await replica.start()
    try:
        await replica.log(event_id, device_id, proposal)
    finally:
        await replica.close()


@dataclass
class Venue:
    hub: HubProcess
    organizer: Organizer
    box: Box
    proposal: Proposal


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venue]:
    root = tmp_path_factory.mktemp("schedule-appliance")
    with fresh_database() as database:
        create_organization(database)
        hub = HubProcess(database, root / "secrets")
        box: Box | None = None
        try:
            hub.start()
            organizer = create_event(sign_in(hub.url), attendees=5)
            event = organizer.event_id
            lab = {"name": "Lab", "capacity": 25, "grassroots": True}
            assert organizer.request("PUT", f"/api/v1/events/{event}/rooms/lab", json=lab).status_code == 200
            settings = {"grassroots": {"enabled": True}}
            assert (
                organizer.request(
                    "PUT", f"/api/v1/events/{event}/schedule/settings", json=settings
                ).status_code
                == 200
            )
            attendee: Badge = organizer.badges()[0]
            box = enrol_kiosk(organizer, root / "desk")
            proposal = Proposal(
                proposal_id="p-offline-1", title="Lockpicking for beginners", host=attendee.name,
                proposer=attendee.attendee_id, duration_min=45, attendance=12, description="Bring nothing.",
            )  # fmt: skip
            asyncio.run(_record(box.data, event, box.device_id, proposal))
            box.process.start()
            yield Venue(hub, organizer, box, proposal)
        finally:
            if box is not None:
                box.process.stop()
            hub.stop()


def test_the_proposal_recorded_at_the_box_reaches_the_hub_with_its_proposer(venue: Venue) -> None:
    organizer, event = venue.organizer, venue.organizer.event_id
    path = f"/api/v1/events/{event}/proposals?status=pending"
    wait_for(lambda: organizer.get(path)["proposals"], timeout=30, what="the proposal on the hub")
    (found,) = organizer.get(path)["proposals"]
    assert found["proposal_id"] == "p-offline-1" and found["title"] == "Lockpicking for beginners"
    assert found["device"] == venue.box.device_id
    assert found["proposer"]["id"] == venue.proposal.proposer
    assert found["proposer"]["name"] == venue.proposal.host  # the roster's name for the badge's attendee


def test_an_approval_on_the_hub_is_a_child_event_in_the_exports_and_reaches_the_box(venue: Venue) -> None:
    organizer, event = venue.organizer, venue.organizer.event_id
    wait_for(
        lambda: organizer.get(f"/api/v1/events/{event}/proposals")["proposals"],
        timeout=30,
        what="the proposal",
    )
    answer = organizer.post(
        f"/api/v1/events/{event}/proposals/p-offline-1/approve", {"room_id": "lab", "starts_at": START}
    )
    session = answer["session"]
    assert session["grassroots"] is True and session["host"] == venue.proposal.proposer

    children = wait_for(
        lambda: organizer.get(f"/api/v1/events/{event}")["children"], timeout=10, what="the child event"
    )
    assert [(c["name"], c["room"], c["starts_at"], c["host_name"]) for c in children] == [
        ("Lockpicking for beginners", "Lab", START, venue.proposal.host)
    ]
    xml = organizer.request("GET", f"/api/v1/events/{event}/schedule.xml")
    assert xml.status_code == 200 and b"Lockpicking for beginners" in xml.content

    def at_the_box() -> list[dict[str, object]]:
        response = httpx.get(f"{venue.box.process.url}/api/v1/schedule", params={"event": event}, timeout=10)
        assert response.status_code == 200, response.text
        return [s for s in response.json()["sessions"] if s["id"] == session["id"]]

    (shown,) = wait_for(at_the_box, timeout=30, what="the session at the appliance")
    assert shown["title"] == "Lockpicking for beginners" and shown["room_id"] == "lab"
    assert shown["starts_at"] == START and shown["grassroots"] is True
