"""The hub goes down during doors-open; when it comes back its dashboard shows every scan (issue #4).

A hub and two enrolled appliances run as separate processes.  Once both
appliances are connected, the hub is stopped.  The doors keep working:
some attendees are admitted at both entrances (neither box can know about
the other, so both admit: an offline duplicate), others at one only, and
one badge shown twice at the same box is refused.  Then the hub comes back
(same database, same secrets, same port: a restart, not a new hub) and,
with no appliance restarted, its dashboard counts every scan, admits each
person once, and lists exactly the offline duplicates — the earliest scan
winning, the later flagged — within about 20 seconds.

The module fixture plays the scenario once and keeps what each side
answered; the tests check those answers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.e2e.hub_setup import (
    Badge,
    Box,
    Organizer,
    create_event,
    create_organization,
    enrol,
    fresh_database,
    sign_in,
)
from tests.helpers import ApplianceProcess, HubProcess, wait_for

pytestmark = pytest.mark.slow

#: How soon after the hub is back its dashboard must be complete (the issue's words: "within ~20 s").
CATCH_UP_S = 20.0
BOTH, ONLY_A, ONLY_B = 3, 4, 3  # attendees admitted at both boxes, at A only, at B only


@dataclass
class Doors:
    organizer: Organizer
    a: Box
    b: Box
    both: list[Badge]
    only_a: list[Badge]
    only_b: list[Badge]
    answers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # while the hub was down
    refusal: dict[str, Any] = field(default_factory=dict)
    caught_up_s: float = 0.0
    dashboard: dict[str, Any] = field(default_factory=dict)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def posted(self) -> int:
        return sum(len(v) for v in self.answers.values()) + 1  # + the refusal


def _complete(organizer: Organizer, scans: int, duplicates: int) -> bool:
    return organizer.dashboard()["scans"] == scans and len(organizer.duplicates()) == duplicates


@pytest.fixture(scope="module")
def doors(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Doors]:
    root = tmp_path_factory.mktemp("hub-offline")
    with fresh_database() as database:
        create_organization(database)
        hub = HubProcess(database, root / "secrets")
        boxes: list[Box] = []
        try:
            hub.start()
            organizer = create_event(sign_in(hub.url), attendees=50)
            with ThreadPoolExecutor(2) as pool:
                boxes = list(pool.map(lambda name: enrol(organizer, root / name, name), ["A", "B"]))
                list(pool.map(ApplianceProcess.start, [box.process for box in boxes]))
            a, b = boxes
            wait_for(
                lambda: all(d["connected"] for d in organizer.devices().values()),
                what="both appliances connected to the hub",
            )
            badges = organizer.badges()
            doors = Doors(
                organizer,
                a,
                b,
                both=badges[:BOTH],
                only_a=badges[BOTH : BOTH + ONLY_A],
                only_b=badges[BOTH + ONLY_A : BOTH + ONLY_A + ONLY_B],
            )

            hub.stop()  # the venue's internet is gone
            doors.answers["a"] = [a.scan(badge.code, "main") for badge in doors.both + doors.only_a]
            doors.answers["b"] = [b.scan(badge.code, "main") for badge in doors.both + doors.only_b]
            doors.refusal = a.scan(doors.only_a[0].code, "main")

            hub = HubProcess(database, root / "secrets", hub.port)  # back: same database, secrets, port
            started = time.monotonic()
            hub.start()
            wait_for(
                lambda: _complete(organizer, doors.posted, BOTH),
                timeout=60,
                interval=0.25,
                what="the hub's dashboard to show every offline scan",
            )
            doors.caught_up_s = time.monotonic() - started
            doors.dashboard = organizer.dashboard()
            doors.duplicates = organizer.duplicates()
            wait_for(
                lambda: all(d["connected"] and not d["unacknowledged"] for d in organizer.devices().values()),
                what="both appliances connected and acknowledged",
            )
            doors.devices = organizer.devices()
            assert all(box.process.proc and box.process.proc.poll() is None for box in boxes)  # no restart
            yield doors
        finally:
            for box in boxes:
                box.process.stop()
            hub.stop()


def test_both_appliances_keep_admitting_while_the_hub_is_down(doors: Doors) -> None:
    for box in ("a", "b"):
        assert [answer["result"] for answer in doors.answers[box]] == ["admitted"] * len(doors.answers[box])
    # B cannot know A admitted the same people a moment earlier: it believes it was first
    assert {doors.answers["b"][i]["first_admitted"]["device_id"] for i in range(BOTH)} == {doors.b.device_id}
    assert doors.refusal["result"] == "already_admitted", doors.refusal


def test_the_hub_back_counts_every_scan_and_each_person_once(doors: Doors) -> None:
    figures = doors.dashboard
    assert figures["scans"] == doors.posted == 2 * BOTH + ONLY_A + ONLY_B + 1, figures
    assert figures["admitted"] == BOTH + ONLY_A + ONLY_B, figures
    assert figures["refused"] == 1, figures
    per_device = {d["device_id"]: d["scans"] for d in figures["devices"]}
    assert per_device == {doors.a.device_id: BOTH + ONLY_A + 1, doors.b.device_id: BOTH + ONLY_B}


def test_the_hub_lists_exactly_the_offline_duplicates_the_earliest_scan_winning(doors: Doors) -> None:
    by_attendee = {d["attendee_id"]: d for d in doors.duplicates}
    assert sorted(by_attendee) == sorted(badge.attendee_id for badge in doors.both)
    for i, badge in enumerate(doors.both):
        found = by_attendee[badge.attendee_id]
        at_a, at_b = doors.answers["a"][i], doors.answers["b"][i]
        assert found["name"] == badge.name
        first, duplicate = found["first"], found["duplicate"]
        assert (first["scan_id"], first["at"], first["device_id"]) == (
            at_a["scan_id"],
            at_a["at"],
            doors.a.device_id,
        )
        assert (duplicate["scan_id"], duplicate["device_id"]) == (at_b["scan_id"], doors.b.device_id)


def test_the_hub_catches_up_within_seconds_without_restarting_the_appliances(doors: Doors) -> None:
    assert doors.caught_up_s < CATCH_UP_S, f"the dashboard was complete only {doors.caught_up_s:.1f} s later"


def test_the_organizer_sees_both_appliances_connected_with_nothing_unacknowledged(doors: Doors) -> None:
    assert {(d["id"], d["connected"], d["unacknowledged"]) for d in doors.devices.values()} == {
        (doors.a.device_id, True, 0),
        (doors.b.device_id, True, 0),
    }
