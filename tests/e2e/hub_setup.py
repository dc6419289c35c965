"""Shared setup for tests that run the hub and enrolled appliances as real processes.

What an organizer does before a conference, through the same doors they
use: ``konferenco hub create-organization``, an API token from
``POST /api/v1/auth/token``, an event, a CSV import of the roster, one
enrolment per appliance redeemed with ``konferenco appliance enroll``, and a
door token from ``konferenco appliance issue-token``.  The tests then talk
to the hub's API as the organizer and to the appliances as door staff.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import ApplianceProcess, Box, HubProcess, konferenco, scratch_database, wait_for

PASSWORD = "correct horse battery"
OWNER = "owner@acme.example"
ORGANIZATION = "acme"


fresh_database = scratch_database  # the ``hub_db`` fixture's database, for tests outside tests/hub


def create_organization(database_url: str) -> None:
    """The first sign-in of a new hub: an organization on a paid tier and its owner."""
    konferenco(
        "hub", "create-organization", "--database-url", database_url, "--name", "Acme Events",
        "--slug", ORGANIZATION, "--tier", "professional", "--owner-email", OWNER,
        "--owner-password", PASSWORD,
    )  # fmt: skip


@dataclass(frozen=True)
class Badge:
    attendee_id: str
    name: str
    code: str


@dataclass
class Organizer:
    """The organizer's side of one event on one hub, through its HTTP API."""

    url: str  # the hub
    token: str  # an API token (kt1_…)
    event_id: str = ""

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)

    def get(self, path: str) -> Any:
        response = self.request("GET", path)
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
        return response.json()

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        response = self.request("POST", path, json=body, **kwargs)
        assert response.status_code in (200, 201), f"POST {path}: {response.status_code} {response.text}"
        return response.json()

    def dashboard(self) -> dict[str, Any]:
        return dict(self.get(f"/api/v1/events/{self.event_id}/dashboard"))

    def duplicates(self) -> list[dict[str, Any]]:
        return list(self.get(f"/api/v1/events/{self.event_id}/duplicates"))

    def devices(self) -> dict[str, dict[str, Any]]:
        return {d["id"]: d for d in self.get(f"/api/v1/events/{self.event_id}/devices")}

    def badges(self) -> list[Badge]:
        response = self.request("GET", f"/api/v1/events/{self.event_id}/badges.csv")
        assert response.status_code == 200, response.text
        rows = csv.DictReader(io.StringIO(response.text))
        return [Badge(r["attendee_id"], r["name"], r["badge_code"]) for r in rows]


def sign_in(hub_url: str) -> Organizer:
    body = {"email": OWNER, "password": PASSWORD, "organization": ORGANIZATION, "name": "e2e"}
    response = httpx.post(f"{hub_url}/api/v1/auth/token", json=body, timeout=30)
    assert response.status_code == 201, response.text
    return Organizer(hub_url, response.json()["token"])


def roster_csv(attendees: int) -> str:
    lines = ["external_ref,name,company,email,ticket_type"]
    lines += [f"T-{i:04d},Attendee {i:04d},Acme,a{i}@example.com,General" for i in range(attendees)]
    return "\n".join(lines) + "\n"


def create_event(organizer: Organizer, attendees: int = 50) -> Organizer:
    """An event with ``attendees`` people imported from a CSV; returns the organizer bound to it."""
    event = organizer.post("/api/v1/events", {"name": "Summit", "timezone": "UTC"})
    organizer.event_id = event["id"]
    report = organizer.post(
        f"/api/v1/events/{organizer.event_id}/attendees/import",
        content=roster_csv(attendees).encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert report["added"] == attendees, report
    return organizer


def enrol(organizer: Organizer, data: Path, name: str, capabilities: tuple[str, ...] = ("scanner",)) -> Box:
    """Enrol an appliance into DATA (not started yet: ``box.process.start()``)."""
    enrolment = organizer.post(
        f"/api/v1/events/{organizer.event_id}/enrolments", {"capabilities": list(capabilities), "name": name}
    )
    done = konferenco(
        "appliance", "enroll", "--data", str(data), "--hub", organizer.url, "--token", enrolment["token"],
        "--name", name,
    )  # fmt: skip
    assert "enrolled as" in done.stdout, done.stdout + done.stderr
    device_id = json.loads((data / "appliance.json").read_text())["device_id"]
    token = konferenco("appliance", "issue-token", "--data", str(data), "--role", "door").stdout.strip()
    return Box(data, device_id, token, ApplianceProcess(data))


def point_at(box: Box, hub_url: str) -> None:
    """Make an enrolled (stopped) appliance sync with another hub URL, as after a DNS change."""
    path = box.data / "appliance.json"
    config = json.loads(path.read_text())
    config["hub_url"] = hub_url
    path.write_text(json.dumps(config, indent=2))


@dataclass
class TwoHubs:
    """Two hub processes sharing one database and secrets, and two appliances, A on hub 1, B on hub 2."""

    hubs: tuple[HubProcess, HubProcess]
    organizer: Organizer  # talks to hub 1
    a: Box
    b: Box
    badges: list[Badge]


@contextmanager
def two_hubs(database_url: str, root: Path) -> Iterator[TwoHubs]:
    """Like ``hub serve --workers 2``, with each worker's address known; the appliances are not started."""
    create_organization(database_url)
    hubs = (HubProcess(database_url, root / "secrets"), HubProcess(database_url, root / "secrets"))
    boxes: list[Box] = []
    try:
        hubs[0].start()  # first alone: it creates the shared secrets
        hubs[1].start()
        organizer = create_event(sign_in(hubs[0].url))
        with ThreadPoolExecutor(2) as pool:
            boxes = list(pool.map(lambda name: enrol(organizer, root / name, name), ["A", "B"]))
        a, b = boxes
        point_at(b, hubs[1].url)
        yield TwoHubs(hubs, organizer, a, b, organizer.badges())
    finally:
        for box in boxes:
            box.process.stop()
        for hub in hubs:
            hub.stop()


@dataclass
class OneHub:
    hub: HubProcess
    organizer: Organizer
    box: Box  # started and connected to the hub


@contextmanager
def one_hub(database_url: str, root: Path) -> Iterator[OneHub]:
    """A hub with one event and one enrolled appliance, started and connected."""
    create_organization(database_url)
    hub = HubProcess(database_url, root / "secrets")
    box: Box | None = None
    try:
        hub.start()
        organizer = create_event(sign_in(hub.url))
        box = enrol(organizer, root / "A", "A")
        box.process.start()
        device = box.device_id
        wait_for(lambda: organizer.devices()[device]["connected"], what="the appliance connected to the hub")
        yield OneHub(hub, organizer, box)
    finally:
        if box is not None:
            box.process.stop()
        hub.stop()
