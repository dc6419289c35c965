"""The door page's own API on a real demo appliance: what a door chooses from, and its gate's counts.

``GET /api/v1/door/setup`` lists the event, its gates (with their usual list) and lists;
``GET /api/v1/door/counts`` gives one gate's admitted, inside-now and refusals by reason.
Both are for door, desk and organizer accounts: a kiosk's token is refused, because a kiosk
is a self-service machine that has no business choosing gates or watching a gate's figures.
"""

from __future__ import annotations

from appliance.demo import STAFF
from tests.appliance.conftest import DemoAppliance, nonce

DEMO_ATTENDEES = 40


def test_a_door_account_gets_the_event_its_gates_and_its_lists(demo_appliance: DemoAppliance) -> None:
    with demo_appliance.client("door") as door:
        answer = door.get("/api/v1/door/setup")
    assert answer.status_code == 200, answer.text
    setup = answer.json()
    assert setup["event"] == "demo"
    assert setup["event_name"]
    assert setup["timezone"]  # an IANA name, for showing times as the event's clock says them
    gates = {g["id"]: g for g in setup["gates"]}
    assert gates["south"] == {"id": "south", "name": "South entrance", "default_list": "main"}
    assert gates["workshop"]["default_list"] == "workshop"
    lists = {item["id"]: item["name"] for item in setup["lists"]}
    assert all(item["default_list"] == "" for item in setup["lists"])
    assert lists["main"] == "Main entrance"
    assert {"main", "workshop", "party"} <= set(lists)
    # every gate's default list is one the door can choose
    assert all(g["default_list"] in lists for g in setup["gates"])
    # sorted by name, so the door's menu reads in order
    names = [g["name"].casefold() for g in setup["gates"]]
    assert names == sorted(names)


def test_desk_and_organizer_may_set_up_a_door_but_a_kiosk_and_no_token_may_not(
    demo_appliance: DemoAppliance,
) -> None:
    for role in ("desk", "organizer"):
        with demo_appliance.client(role) as client:
            assert client.get("/api/v1/door/setup").status_code == 200
            assert client.get("/api/v1/door/counts", params={"gate": "south"}).status_code == 200
    with demo_appliance.client("kiosk") as kiosk:
        for path, params in (("/api/v1/door/setup", {}), ("/api/v1/door/counts", {"gate": "south"})):
            refused = kiosk.get(path, params=params)
            assert refused.status_code == 403, refused.text
            assert refused.json()["code"] == "forbidden"
            assert "kiosk" in refused.json()["message"]
    with demo_appliance.client() as nobody:
        refused = nobody.get("/api/v1/door/setup")
        assert refused.status_code == 401
        assert refused.json()["code"] == "unauthorized"


def test_an_unknown_event_gate_or_list_is_refused_by_name(demo_appliance: DemoAppliance) -> None:
    with demo_appliance.client("door") as door:
        unknown = door.get("/api/v1/door/setup", params={"event": "elsewhere-2026"})
        assert unknown.status_code == 404
        assert unknown.json()["code"] == "unknown_event"
        assert "elsewhere-2026" in unknown.json()["message"]
        gate = door.get("/api/v1/door/counts", params={"gate": "back-door"})
        assert gate.status_code == 422
        assert gate.json()["code"] == "unknown_gate"
        assert "back-door" in gate.json()["message"]
        wrong_list = door.get("/api/v1/door/counts", params={"gate": "south", "list": "brunch"})
        assert wrong_list.status_code == 422
        assert wrong_list.json()["code"] == "unknown_list"
        missing = door.get("/api/v1/door/counts")
        assert missing.status_code == 400


def test_a_gate_counts_its_admissions_inside_and_refusals_by_reason(demo_appliance: DemoAppliance) -> None:
    with demo_appliance.client("door") as door:
        before = door.get("/api/v1/door/counts", params={"gate": "north"}).json()
        assert before["gate"] == "north" and before["list"] == "main"
        first, second = demo_appliance.take(), demo_appliance.take()

        def scan(code: str, direction: str = "entry") -> dict[str, object]:
            body = {"code": code, "gate": "north", "nonce": nonce(), "direction": direction}
            answer = door.post("/api/v1/scans", json=body)
            assert answer.status_code == 200, answer.text
            return dict(answer.json())

        admitted = scan(first["badge_code"])
        assert admitted["result"] == "admitted"
        assert scan(second["badge_code"])["result"] == "admitted"
        assert scan(first["badge_code"])["result"] == "already_admitted"
        assert scan("not a badge at all")["result"] in {"invalid", "unknown_badge"}
        assert scan(second["badge_code"], "exit")["result"] == "admitted"
        after = door.get("/api/v1/door/counts", params={"gate": "north", "list": "main"}).json()
        assert after["admitted"] == before["admitted"] + 2
        assert after["exits"] == before["exits"] + 1
        refusals, old = after["refusals"], before["refusals"]
        assert refusals["already_admitted"] == old.get("already_admitted", 0) + 1
        assert after["refused"] == before["refused"] + 2
        assert after["inside"] == before["inside"] + 1  # the second person went out again
        # an annulled admission no longer counts
        annulled = door.post(f"/api/v1/scans/{admitted['scan_id']}/annul", json={"reason": "test"})
        assert annulled.status_code == 200, annulled.text
        final = door.get("/api/v1/door/counts", params={"gate": "north"}).json()
        assert final["admitted"] == before["admitted"] + 1
        # another gate's figures are its own
        south = door.get("/api/v1/door/counts", params={"gate": "south"}).json()
        assert south["admitted"] == 0


def test_the_demo_door_account_signs_in_and_sets_up(demo_appliance: DemoAppliance) -> None:
    """The account a volunteer really uses (a name and PIN), not an issued token."""
    assert "Door" in dict(STAFF)
    pin = demo_appliance.staff["Door"]["pin"]
    with demo_appliance.client() as client:
        login = client.post("/api/v1/auth/login", json={"name": "Door", "secret": pin})
        assert login.status_code == 200, login.text
        token = login.json()["token"]
        answer = client.get("/api/v1/door/setup", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
