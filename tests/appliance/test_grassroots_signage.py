"""Grassroots steps reach the venue's signs through a real Mosquitto.

A demo appliance with a signage publisher (``appliance devices add --domain
signage``) against a broker of the test's own: a display subscribed to
``notices/grassroots`` hears each step (proposed, approved, scheduled,
withdrawn, cancelled) with the proposal's reference, and the room's
retained schedule shows the newly scheduled grassroots session.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.drivers.test_signage import MOSQUITTO, Broker, Listener
from tests.helpers import ApplianceProcess, konferenco, wait_for

VENUE = "grassroots-hall"
BASE = f"konferenco/{VENUE}/v1"
NOTICES = f"{BASE}/notices/grassroots"
pytestmark = pytest.mark.skipif(
    MOSQUITTO is None, reason="mosquitto is not installed (make setup installs it)"
)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    (tmp_path / "broker").mkdir()
    broker = Broker(tmp_path / "broker")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def test_a_display_hears_every_step_and_the_room_sign_shows_the_session(
    broker: Broker, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    konferenco("demo", "seed", "--data", str(data), "--attendees", "20")
    konferenco(
        "appliance", "devices", "add", "--data", str(data), "--id", "signs", "--domain", "signage",
        "--set", f"venue={VENUE}", "--set", "host=127.0.0.1", "--set", f"port={broker.port}",
    )  # fmt: skip
    konferenco("appliance", "badges", "--data", str(data), "--out", str(tmp_path / "badges.csv"))
    with (tmp_path / "badges.csv").open(encoding="utf-8", newline="") as f:
        person = next(csv.DictReader(f))
    tokens = {
        role: konferenco(
            "appliance", "issue-token", "--data", str(data), "--role", role, "--name", f"Olga {role}"
        ).stdout.strip()
        for role in ("kiosk", "organizer")
    }
    display = Listener(broker.port, NOTICES, f"{BASE}/rooms/gr-tent/schedule").start()
    try:
        with ApplianceProcess(data) as server:
            org = httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {tokens['organizer']}"}
            )
            kiosk = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {tokens['kiosk']}"})
            with org, kiosk:
                assert (
                    org.put("/api/v1/rooms/gr-tent", json={"name": "Tent", "grassroots": True}).status_code
                    == 200
                )
                on = org.put("/api/v1/schedule/settings", json={"grassroots": {"enabled": True}})
                assert on.status_code == 200, on.text
                made = kiosk.post(
                    "/api/v1/proposals",
                    json={
                        "badge": {"code": person["badge_code"]},
                        "title": "Origami corner",
                        "duration_min": 30,
                    },
                )
                assert made.status_code == 201, made.text
                proposal = made.json()

                def notices() -> list[dict[str, Any]]:
                    return [json.loads(m.payload) for m in display.on(NOTICES)]

                first = wait_for(lambda: notices(), what="the proposed notice")[0]
                assert first["step"] == "proposed" and first["ref"] == proposal["ref"]
                assert first["title"] == "Origami corner" and first["room"] is None
                slot = next(s for s in proposal["suggestions"] if s["room_id"] == "gr-tent")
                approved = org.post(
                    f"/api/v1/proposals/{proposal['proposal_id']}/approve",
                    json={"room_id": "gr-tent", "starts_at": slot["starts_at"]},
                )
                assert approved.status_code == 200, approved.text
                session_id = approved.json()["session"]["id"]
                wait_for(lambda: len(notices()) >= 3, what="the approved and scheduled notices")
                for notice in notices()[1:3]:
                    assert notice["room"] == "gr-tent" and notice["starts_at"] == slot["starts_at"]
                    assert notice["by"] == "Olga organizer"  # the staff member's name, not an id
                assert [n["step"] for n in notices()[:3]] == ["proposed", "approved", "scheduled"]

                def on_sign() -> dict[str, Any] | None:
                    payload = display.last(f"{BASE}/rooms/gr-tent/schedule")
                    sessions = json.loads(payload)["sessions"] if payload else []
                    return next((s for s in sessions if s["id"] == session_id), None)

                shown = wait_for(on_sign, timeout=5, what="the session on the room's sign")
                assert shown is not None and shown["grassroots"] is True
                assert shown["title"] == "Origami corner"

                # The host retitles it at a kiosk: the sign follows within a second or two.
                edited = kiosk.patch(
                    f"/api/v1/hosted-sessions/{session_id}",
                    json={"badge": {"code": person["badge_code"]}, "title": "Origami for all"},
                )
                assert edited.status_code == 200, edited.text
                wait_for(
                    lambda: (on_sign() or {}).get("title") == "Origami for all",
                    timeout=2,
                    what="the host's title on the room's sign",
                )

                withdrawn = org.post(
                    f"/api/v1/proposals/{proposal['proposal_id']}/withdraw", json={"reason": "rain"}
                )
                assert withdrawn.status_code == 200, withdrawn.text
                wait_for(lambda: len(notices()) >= 5, what="the withdrawn and cancelled notices")
                assert [n["step"] for n in notices()] == [
                    "proposed",
                    "approved",
                    "scheduled",
                    "withdrawn",
                    "cancelled",
                ]
                assert all(not m.retain for m in display.on(NOTICES))  # news, never retained
    finally:
        display.stop()
