"""What a clumsy desk or a malicious client sends the appliance: refused with a 400, nothing recorded.

A NUL character or a lone surrogate cannot live in the SQLite tables or the CRDT logs the way a
name should (C strings stop at NUL; surrogates are not UTF-8), and an integer beyond 64 bits is
not an SQLite integer: every such input is refused at the edge with ``bad_request`` and the field
it came in, before a scan, a walk-in or a search touches the store.  Against a real appliance.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.appliance.conftest import DemoAppliance, nonce

DEMO_ATTENDEES = 20


def _error(response: httpx.Response, field: str) -> str:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == "bad_request" and body["details"]["field"] == field, body
    assert field in body["message"]
    return str(body["message"])


def _scans(app: DemoAppliance) -> int:
    with app.client("door") as client:
        response = client.get("/api/v1/stats")
    assert response.status_code == 200, response.text
    return int(response.json()["scans"])


def _found(app: DemoAppliance, q: str) -> list[dict[str, Any]]:
    with app.client("desk") as client:
        response = client.get("/api/v1/attendees", params={"q": q})
    assert response.status_code == 200, response.text
    hits: list[dict[str, Any]] = response.json()["attendees"]
    return hits


@pytest.mark.parametrize("field", ["code", "gate", "nonce"])
def test_a_nul_character_in_a_scan_is_refused_and_not_recorded(
    demo_appliance: DemoAppliance, field: str
) -> None:
    badge = demo_appliance.take()
    body = {"code": badge["badge_code"], "gate": "north", "nonce": nonce()}
    body[field] = body[field][:4] + "\x00" + body[field][4:]
    before = _scans(demo_appliance)
    with demo_appliance.client("door") as client:
        _error(client.post("/api/v1/scans", json=body), field)
    assert _scans(demo_appliance) == before


def test_a_scan_time_beyond_64_bits_is_refused(demo_appliance: DemoAppliance) -> None:
    badge = demo_appliance.take()
    before = _scans(demo_appliance)
    with demo_appliance.client("door") as client:
        response = client.post(
            "/api/v1/scans",
            json={"code": badge["badge_code"], "gate": "north", "nonce": nonce(), "device_time": 2**64},
        )
    _error(response, "device_time")
    assert _scans(demo_appliance) == before


@pytest.mark.parametrize("field", ["name", "company"])
def test_a_walk_in_with_a_nul_character_is_refused_and_not_registered(
    demo_appliance: DemoAppliance, field: str
) -> None:
    body = {"name": "Nulla Walkin", "ticket_type_id": "expo", "company": "Nulla GmbH"}
    body[field] = body[field].replace(" ", "\x00")
    with demo_appliance.client("desk") as client:
        _error(client.post("/api/v1/attendees", json=body), field)
    assert _found(demo_appliance, "Nulla") == []


def test_a_walk_in_with_a_lone_surrogate_is_refused_and_not_registered(demo_appliance: DemoAppliance) -> None:
    raw = b'{"name": "Surro\\udc00gate Walkin", "ticket_type_id": "expo"}'
    with demo_appliance.client("desk", headers={"Content-Type": "application/json"}) as client:
        response = client.post("/api/v1/attendees", content=raw)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "bad_request"
    assert _found(demo_appliance, "Surro") == []


def test_a_correction_with_a_nul_character_leaves_the_attendee_as_they_were(
    demo_appliance: DemoAppliance,
) -> None:
    person = demo_appliance.take()
    with demo_appliance.client("organizer") as client:
        response = client.patch(f"/api/v1/attendees/{person['attendee_id']}", json={"name": "Mal\x00lory"})
        _error(response, "name")
        after = client.get(f"/api/v1/attendees/{person['attendee_id']}")
    assert after.status_code == 200, after.text
    assert after.json()["name"] == person["name"]


def test_a_nul_character_or_bad_utf8_in_the_search_is_a_400(demo_appliance: DemoAppliance) -> None:
    with demo_appliance.client("desk") as client:
        _error(client.get("/api/v1/attendees", params={"q": "an\x00a"}), "q")
        assert "UTF-8" in _error(client.get("/api/v1/attendees?q=an%C3a"), "q")


def test_a_nul_character_in_a_path_is_a_400(demo_appliance: DemoAppliance) -> None:
    with demo_appliance.client("organizer") as client:
        _error(client.get("/api/v1/attendees/a000001%00"), "attendee_id")
        _error(client.post("/api/v1/scans/x%00y/annul", json={}), "scan_id")


def test_a_nul_character_in_the_sign_in_name_is_a_400(demo_appliance: DemoAppliance) -> None:
    with demo_appliance.client() as client:
        _error(client.post("/api/v1/auth/login", json={"name": "admin\x00", "secret": "1234"}), "name")
