"""The same badge admitted at two appliances that could not see each other (issue #3).

Appliance A (the demo seed) and appliance B (initialised separately, with
A's signed catalog bundle) serve two entrances with no link between them.
One person is admitted at A's north gate and, a moment later, at B's south
gate: both say "admitted", since neither can know.  Once B syncs with A
over the sync protocol (issue #2), both appliances list the same one
duplicate — A's scan, the earliest, wins; B's is flagged; nothing is
dropped — and B refuses that badge, and a badge seen only at A, as already
admitted.

The module fixture plays the scenario once (two real servers, a restart of
B with A as its upstream) and keeps what each side answered; the tests
check those answers.  Scans made by the tests afterwards are refusals,
which change neither the duplicates nor the admissions.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import ApplianceProcess, Box, konferenco, wait_for


@dataclass
class Venue:
    a: Box
    b: Box
    twice: tuple[str, str] = ("", "")  # (attendee id, badge code) scanned at A, then at B
    once: tuple[str, str] = ("", "")  # scanned only at A
    offline: dict[str, dict[str, Any]] = field(default_factory=dict)  # answers while apart
    b_duplicates_offline: dict[str, Any] = field(default_factory=dict)
    duplicates: dict[str, dict[str, Any]] = field(default_factory=dict)  # per box, after the sync
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)


def door_token(data: Path) -> str:
    return konferenco("appliance", "issue-token", "--data", str(data), "--role", "door").stdout.strip()


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venue]:
    root = tmp_path_factory.mktemp("venue")
    a_dir, b_dir = root / "A", root / "B"
    konferenco("demo", "seed", "--data", str(a_dir), "--attendees", "100")
    catalog_key = json.loads((a_dir / "appliance.json").read_text())["catalog_keys"][0]
    konferenco(
        "appliance", "init", "--data", str(b_dir), "--event", "demo",
        "--device-id", "box-b", "--catalog-key", catalog_key,
    )  # fmt: skip
    konferenco("appliance", "import", "--data", str(b_dir), str(a_dir / "catalog.json"))
    konferenco("appliance", "badges", "--data", str(a_dir), "--out", str(root / "badges.csv"))
    with (root / "badges.csv").open(newline="", encoding="utf-8") as f:
        full_passes = [  # valid every day at the main entrance (day passes are not)
            (row["attendee_id"], row["badge_code"])
            for row in csv.DictReader(f)
            if row["ticket_type"] == "Full pass"
        ]

    a_proc, b_proc = ApplianceProcess(a_dir), ApplianceProcess(b_dir)
    try:
        with ThreadPoolExecutor(2) as pool:  # two boxes boot side by side
            list(pool.map(ApplianceProcess.start, (a_proc, b_proc)))
        a_id = httpx.get(f"{a_proc.url}/healthz").json()["device_id"]
        a = Box(a_dir, a_id, door_token(a_dir), a_proc)
        b = Box(b_dir, "box-b", door_token(b_dir), b_proc)
        venue = Venue(a, b, twice=full_passes[0], once=full_passes[1])

        # apart: neither appliance knows about the other's scans
        venue.offline["a"] = a.scan(venue.twice[1], "north")
        time.sleep(0.05)
        venue.offline["b"] = b.scan(venue.twice[1], "south")
        venue.offline["only_a"] = a.scan(venue.once[1], "north")
        venue.b_duplicates_offline = b.get("/api/v1/duplicates")

        # B comes back with A as its upstream
        peer_token = konferenco(
            "appliance", "peer-token", "--data", str(a_dir), "--role", "device",
            "--peer-id", "box-b", "--device-id", "box-b",
        ).stdout.strip()  # fmt: skip
        b_proc.stop()
        b_proc = b.process = ApplianceProcess(
            b_dir, None, "--upstream", a_proc.url, "--upstream-token", peer_token,
            "--upstream-peer", "A",
        )  # fmt: skip
        b_proc.start()

        def synced(box: Box) -> bool:
            return bool(box.get("/api/v1/duplicates")["count"]) and box.get("/api/v1/stats")["scans"] == 3

        for name, box in (("a", a), ("b", b)):
            wait_for(partial(synced, box), timeout=30, what=f"the other appliance's scans at {name}")
            venue.duplicates[name] = box.get("/api/v1/duplicates")
            venue.stats[name] = box.get("/api/v1/stats")
        yield venue
    finally:
        b_proc.stop()
        a_proc.stop()


def test_both_appliances_admit_the_badge_while_they_cannot_see_each_other(venue: Venue) -> None:
    offline = venue.offline
    assert [offline[k]["result"] for k in ("a", "b", "only_a")] == ["admitted"] * 3
    assert offline["a"]["at"] < offline["b"]["at"]
    assert offline["b"]["first_admitted"]["device_id"] == "box-b"  # B believes it was the first
    assert venue.b_duplicates_offline["count"] == 0


@pytest.mark.parametrize("box", ["a", "b"])
def test_after_the_sync_both_list_one_duplicate_the_earliest_scan_winning(venue: Venue, box: str) -> None:
    found = venue.duplicates[box]
    assert found["count"] == 1, found
    dup = found["duplicates"][0]
    assert (dup["attendee_id"], dup["list"]) == (venue.twice[0], "main")
    at_a, at_b = venue.offline["a"], venue.offline["b"]
    assert dup["first"] == {
        "scan_id": at_a["scan_id"],
        "at": at_a["at"],
        "gate": "north",
        "device_id": venue.a.device_id,
    }
    assert {k: dup["duplicate"][k] for k in ("scan_id", "at", "gate", "device_id")} == {
        "scan_id": at_b["scan_id"],
        "at": at_b["at"],
        "gate": "south",
        "device_id": "box-b",
    }


@pytest.mark.parametrize("box", ["a", "b"])
def test_after_the_sync_nothing_is_dropped(venue: Venue, box: str) -> None:
    stats = venue.stats[box]
    # three scans, all admitted, of two people
    assert (stats["scans"], stats["refused"], stats["admitted"]) == (3, 0, 2), stats
    assert stats["per_gate"] == {
        "north": {"admitted": 2, "refused": 0},
        "south": {"admitted": 1, "refused": 0},
    }


def test_after_the_sync_b_refuses_a_badge_admitted_only_at_a(venue: Venue) -> None:
    answer = venue.b.scan(venue.once[1], "south")
    assert answer["result"] == "already_admitted"
    assert "north" in answer["reason"] and venue.a.device_id in answer["reason"], answer["reason"]
    assert answer["first_admitted"] == {
        "at": venue.offline["only_a"]["at"],
        "gate": "north",
        "device_id": venue.a.device_id,
    }


def test_after_the_sync_b_refuses_the_badge_it_admitted_naming_the_first_admission(venue: Venue) -> None:
    answer = venue.b.scan(venue.twice[1], "south")
    assert answer["result"] == "already_admitted"
    assert answer["first_admitted"] == {
        "at": venue.offline["a"]["at"],
        "gate": "north",
        "device_id": venue.a.device_id,
    }


def test_after_the_sync_the_refusal_reads_out_the_winning_gate(venue: Venue) -> None:
    answer = venue.b.scan(venue.twice[1], "south")
    assert answer["result"] == "already_admitted"
    # the volunteer hears where the person really came in: A's north gate, as first_admitted says
    assert "north" in answer["reason"], answer["reason"]
    assert "south" not in answer["reason"], answer["reason"]
