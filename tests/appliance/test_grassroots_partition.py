"""Two organizer appliances decide while cut off; after they sync, both list the same conflicts.

Appliance A (the demo seed, where attendees propose) and appliance B (an
organizer box initialised with A's signed catalog) first sync, so B knows the
schedule and the proposals.  Then B is cut off (restarted without its
upstream), and:

* A approves proposal P1 into a slot of the Tent; B, a moment later, approves
  P2 into the same slot (each box checked the slot against what it could see);
* B also rejects P1, which A approved meanwhile.

When B syncs again, nothing is dropped or moved: both sessions exist on both
boxes, and both list the same two conflicts, each marking B's later decision
(decisions are ordered by time, then id, on every replica): ``slot_taken``
for P2 and ``decided_twice`` for P1.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import ApplianceProcess, konferenco, wait_for


@dataclass
class Boxes:
    a: ApplianceProcess
    b: ApplianceProcess
    tokens: dict[str, dict[str, str]]  # box -> role -> staff token
    codes: list[str]  # full-pass badge codes; the first two proposed P1 and P2
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)

    def client(self, box: str, role: str) -> httpx.Client:
        process = self.a if box == "a" else self.b
        headers = {"Authorization": f"Bearer {self.tokens[box][role]}"}
        return httpx.Client(base_url=process.url, headers=headers, timeout=10)

    def get(self, box: str, path: str, **params: Any) -> dict[str, Any]:
        with self.client(box, "organizer") as client:
            response = client.get(path, params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def post(self, box: str, path: str, body: dict[str, Any], role: str = "organizer") -> dict[str, Any]:
        with self.client(box, role) as client:
            response = client.post(path, json=body)
        assert response.status_code in (200, 201), response.text
        answer: dict[str, Any] = response.json()
        return answer


def staff_tokens(data: Path) -> dict[str, str]:
    return {
        role: konferenco(
            "appliance",
            "issue-token",
            "--data",
            str(data),
            "--role",
            role,
            "--name",
            f"{role} of {data.name}",
        ).stdout.strip()
        for role in ("kiosk", "organizer")
    }


def upstream_of(a: ApplianceProcess, token: str, b_dir: Path) -> ApplianceProcess:
    return ApplianceProcess(
        b_dir, None, "--upstream", a.url, "--upstream-token", token, "--upstream-peer", "A"
    )  # fmt: skip


@pytest.fixture(scope="module")
def boxes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Boxes]:
    root = tmp_path_factory.mktemp("partition")
    a_dir, b_dir = root / "A", root / "B"
    konferenco("demo", "seed", "--data", str(a_dir), "--attendees", "40")
    catalog_key = json.loads((a_dir / "appliance.json").read_text())["catalog_keys"][0]
    konferenco(
        "appliance", "init", "--data", str(b_dir), "--event", "demo",
        "--device-id", "box-b", "--catalog-key", catalog_key,
    )  # fmt: skip
    konferenco("appliance", "import", "--data", str(b_dir), str(a_dir / "catalog.json"))
    konferenco("appliance", "badges", "--data", str(a_dir), "--out", str(root / "badges.csv"))
    with (root / "badges.csv").open(newline="", encoding="utf-8") as f:
        codes = [row["badge_code"] for row in csv.DictReader(f) if row["ticket_type"] == "Full pass"]
    peer_token = konferenco(
        "appliance", "peer-token", "--data", str(a_dir), "--role", "device", "--peer-id", "box-b",
        "--device-id", "box-b", "--capability", "organizer", "--capability", "kiosk",
    ).stdout.strip()  # fmt: skip
    a = ApplianceProcess(a_dir)
    b = upstream_of(a, peer_token, b_dir)
    a.start()
    b.start()
    boxes = Boxes(a, b, {"a": staff_tokens(a_dir), "b": staff_tokens(b_dir)}, codes)
    try:
        with boxes.client("a", "organizer") as org:
            assert org.put(
                "/api/v1/rooms/tent", json={"name": "Tent", "capacity": 30, "grassroots": True}
            ).is_success
            assert org.put("/api/v1/schedule/settings", json={"grassroots": {"enabled": True}}).is_success
        for n, title in enumerate(("Juggling", "Poetry slam")):
            made = boxes.post(
                "a",
                "/api/v1/proposals",
                {"badge": {"code": codes[n]}, "title": title, "duration_min": 30},
                "kiosk",
            )
            boxes.answers[f"p{n + 1}"] = made
        p1, p2 = boxes.answers["p1"]["proposal_id"], boxes.answers["p2"]["proposal_id"]

        def b_knows() -> bool:
            listed = boxes.get("b", "/api/v1/proposals", status="all")["proposals"]
            rooms = boxes.get("b", "/api/v1/rooms")["rooms"]
            return {p1, p2} <= {p["proposal_id"] for p in listed} and any(r["id"] == "tent" for r in rooms)

        wait_for(b_knows, timeout=30, what="the proposals and the Tent at B")
        slot = next(s for s in boxes.answers["p1"]["suggestions"] if s["room_id"] == "tent")
        where = {"room_id": "tent", "starts_at": slot["starts_at"]}

        # cut off: B runs on its own
        b.stop()
        b = boxes.b = ApplianceProcess(b_dir, b.port)
        b.start()
        boxes.answers["a_approves_p1"] = boxes.post("a", f"/api/v1/proposals/{p1}/approve", where)
        time.sleep(0.05)
        boxes.answers["b_approves_p2"] = boxes.post("b", f"/api/v1/proposals/{p2}/approve", where)
        time.sleep(0.05)
        boxes.answers["b_rejects_p1"] = boxes.post(
            "b", f"/api/v1/proposals/{p1}/reject", {"reason": "Too loud"}
        )

        # together again
        b.stop()
        b = boxes.b = upstream_of(a, peer_token, b_dir)
        b.start()

        def both_see_everything() -> bool:
            return all(len(boxes.get(box, "/api/v1/proposals/conflicts")["conflicts"]) == 2 for box in "ab")

        wait_for(both_see_everything, timeout=30, what="both conflicts on both boxes")
        yield boxes
    finally:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(ApplianceProcess.stop, (boxes.a, boxes.b)))


def test_each_box_decided_what_it_could_see(boxes: Boxes) -> None:
    answers = boxes.answers
    assert answers["a_approves_p1"]["proposal"]["status"] == "approved"
    assert answers["b_approves_p2"]["proposal"]["status"] == "approved"  # B could not see A's session
    assert answers["b_rejects_p1"]["proposal"]["status"] == "rejected"  # nor A's approval


@pytest.mark.parametrize("box", ["a", "b"])
def test_after_the_sync_both_boxes_list_the_later_decisions_as_conflicts(boxes: Boxes, box: str) -> None:
    answers = boxes.answers
    found = boxes.get(box, "/api/v1/proposals/conflicts")
    by_rule = {c["rule"]: c for c in found["conflicts"]}
    assert set(by_rule) == {"slot_taken", "decided_twice"}
    taken = by_rule["slot_taken"]
    assert taken["decision_id"] == answers["b_approves_p2"]["decision_id"]
    assert taken["earlier_decision_id"] == answers["a_approves_p1"]["decision_id"]
    assert taken["proposal_id"] == answers["p2"]["proposal_id"]
    assert "booked twice" in taken["message"]
    twice = by_rule["decided_twice"]
    assert twice["decision_id"] == answers["b_rejects_p1"]["decision_id"]
    assert twice["earlier_decision_id"] == answers["a_approves_p1"]["decision_id"]
    assert answers["p1"]["ref"] in twice["message"]
    # The same answer on both boxes, and nothing dropped: P1 stays approved by the earlier decision.
    other = "b" if box == "a" else "a"
    assert found["conflicts"] == boxes.get(other, "/api/v1/proposals/conflicts")["conflicts"]
    p1 = boxes.get(box, f"/api/v1/proposals/{answers['p1']['proposal_id']}")
    assert p1["status"] == "approved" and p1["decision_id"] == answers["a_approves_p1"]["decision_id"]
    assert [c["rule"] for c in p1["conflicts"]] == ["decided_twice"]
    sessions = {s["id"]: s for s in boxes.get(box, "/api/v1/schedule")["sessions"]}
    for decision in ("a_approves_p1", "b_approves_p2"):
        assert sessions[answers[decision]["session"]["id"]]["status"] == "scheduled"


def test_a_hosts_edit_at_one_box_shows_on_the_other(boxes: Boxes) -> None:
    session_id = boxes.answers["a_approves_p1"]["session"]["id"]
    with boxes.client("b", "kiosk") as kiosk:
        response = kiosk.patch(
            f"/api/v1/hosted-sessions/{session_id}",
            json={"badge": {"code": boxes.codes[0]}, "title": "Juggling with fire"},
        )
    assert response.status_code == 200, response.text

    def title_at_a() -> str:
        sessions = {s["id"]: s for s in boxes.get("a", "/api/v1/schedule")["sessions"]}
        return str(sessions[session_id]["title"])

    wait_for(lambda: title_at_a() == "Juggling with fire", timeout=30, what="the host's edit at A")
