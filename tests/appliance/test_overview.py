"""``/api/v1/overview`` and ``/api/v1/overview/public``: the front page's two answers, on a real appliance.

Who may read what (no token: the public facts only; a kiosk's token: refused), the shape the
page relies on, that nothing secret or personal is in either answer, and that a scan shows up
as a change the (absent) hub has not acknowledged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.appliance.conftest import DemoAppliance, nonce
from tests.helpers import ApplianceProcess, free_port, konferenco, wait_for

DEMO_ATTENDEES = 20


def _secrets(app: DemoAppliance) -> list[str]:
    """Strings that must never appear in an overview: tokens, PINs, key files' contents."""
    found = [*app.tokens.values(), *(s["pin"] for s in app.staff.values())]
    for key in (app.data / "secrets").glob("*.key"):
        found.append(key.read_bytes().hex()[:16])
    return found


def _personal(app: DemoAppliance) -> list[str]:
    return [v for a in app.catalog.values() for v in (a["name"], a.get("email", "")) if v]


def test_the_public_overview_names_the_box_and_its_event_and_nothing_else(
    demo_appliance: DemoAppliance,
) -> None:
    with demo_appliance.client() as client:
        answer = client.get("/api/v1/overview/public")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"name", "device_id", "events", "status", "uptime_s"}
    assert body["device_id"] == demo_appliance.device_id
    assert body["events"] == [{"id": "demo", "name": "Konferenco Demo Days", "timezone": "Europe/Vienna"}]
    assert body["status"] in ("ok", "degraded")
    for value in [*_secrets(demo_appliance), *_personal(demo_appliance), str(demo_appliance.data)]:
        assert value not in answer.text


def test_the_overview_needs_a_staff_token_and_refuses_a_kiosk(demo_appliance: DemoAppliance) -> None:
    with demo_appliance.client() as anonymous:
        answer = anonymous.get("/api/v1/overview")
    assert answer.status_code == 401
    assert answer.json()["code"] == "unauthorized"
    with demo_appliance.client("kiosk") as kiosk:
        answer = kiosk.get("/api/v1/overview")
    assert answer.status_code == 403
    assert answer.json()["code"] == "forbidden"
    assert "kiosk" in answer.json()["message"]
    with demo_appliance.client(headers={"Authorization": "Bearer ks1.forged.token"}) as forged:
        assert forged.get("/api/v1/overview").status_code == 401
    for role in ("door", "desk", "organizer"):
        with demo_appliance.client(role) as client:
            assert client.get("/api/v1/overview").status_code == 200, role


def test_the_overview_shows_the_box_its_hub_link_and_its_devices(demo_appliance: DemoAppliance) -> None:
    with demo_appliance.client("door") as client:
        body = client.get("/api/v1/overview").json()
    assert body["device_id"] == demo_appliance.device_id
    assert body["events"][0]["name"] == "Konferenco Demo Days"
    assert body["data_dir"] == str(demo_appliance.data)
    assert body["hub"]["state"] == "not_configured"
    assert body["hub"]["url"] is None
    assert body["hub"]["last_acknowledged_at"] is None
    assert isinstance(body["devices"], list)
    assert isinstance(body["printers"], list)
    assert all(set(loop) == {"name", "state", "failures", "last_error"} for loop in body["loops"])
    config = json.loads((demo_appliance.data / "appliance.json").read_text())
    assert [d["id"] for d in body["devices"]] == [d["id"] for d in config.get("devices", [])]


def test_a_scan_is_counted_as_not_yet_at_the_hub(demo_appliance: DemoAppliance) -> None:
    def unacknowledged() -> int:
        with demo_appliance.client("desk") as client:
            return int(client.get("/api/v1/overview").json()["hub"]["unacknowledged"])

    before = unacknowledged()
    with demo_appliance.client("door") as door:
        for _ in range(3):
            row = demo_appliance.take()
            answer = door.post(
                "/api/v1/scans", json={"code": row["badge_code"], "gate": "south", "nonce": nonce()}
            )
            assert answer.status_code == 200, answer.text
    wait_for(lambda: unacknowledged() >= before + 3, timeout=10, what="three scans counted as unacknowledged")
    with demo_appliance.client("desk") as client:
        hub = client.get("/api/v1/overview").json()["hub"]
    device_log = next(d for d in hub["by_document"] if "/device/" in d["document"])
    assert device_log["count"] >= 3
    assert hub["oldest_unacknowledged_age_s"] >= 0


@pytest.mark.parametrize("path", ["/api/v1/overview", "/api/v1/overview/public"])
def test_no_overview_holds_a_secret_or_an_attendee(demo_appliance: DemoAppliance, path: str) -> None:
    with demo_appliance.client("organizer") as client:
        answer = client.get(path)
    assert answer.status_code == 200
    for value in [*_secrets(demo_appliance), *_personal(demo_appliance), "ks1."]:
        assert value not in answer.text, value


def test_a_hub_that_does_not_answer_is_shown_as_not_connected_with_its_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    konferenco("demo", "seed", "--data", str(data), "--attendees", "5", "--seed", "3")
    desk = konferenco("appliance", "issue-token", "--data", str(data), "--role", "desk").stdout.strip()
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there: the hub is down
    process = ApplianceProcess(data, None, "--upstream", nowhere).start()
    try:

        def hub() -> dict[str, Any]:
            answer = httpx.get(
                f"{process.url}/api/v1/overview", headers={"Authorization": f"Bearer {desk}"}, timeout=10
            )
            assert answer.status_code == 200, answer.text
            return dict(answer.json()["hub"])

        def not_connected() -> dict[str, Any] | None:
            found = hub()
            return found if found["state"] == "not_connected" else None

        found = wait_for(not_connected, timeout=20, what="the overview to say the hub is not connected")
        assert found["url"] == nowhere
        assert found["last_error"], found
        assert found["last_acknowledged_at"] is None
    finally:
        process.stop()
