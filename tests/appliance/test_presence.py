"""Who is inside: the projection's two ways of recomputing presence agree, whatever the order."""

from __future__ import annotations

import random
import sqlite3

import pytest

from appliance.checkin import projection
from appliance.checkin.projection import ApplianceProjection
from sync.documents import Appended, Change
from sync.names import DocName
from sync.records import Annulment, Scan


def scans(rng: random.Random, n: int) -> list[Change]:
    doc = DocName.device("e1", "door-2")
    out: list[Change] = []
    for i in range(n):
        out.append(
            Appended(
                doc,
                "log",
                Scan(
                    id=f"s{i}",
                    at=1_700_000_000_000 + rng.randrange(10_000),  # out of order, with ties
                    nonce=f"n{i}",
                    gate="north",
                    direction=rng.choice(("entry", "exit")),
                    result=rng.choice(("admitted", "admitted", "already_admitted")),
                    attendee_id=f"a{rng.randrange(40)}",
                    list_id=rng.choice(("main", "vip")),
                ),
            )
        )
        if i % 17 == 0 and i:
            out.append(Appended(doc, "log", Annulment(scan_id=f"s{i - 3}", reason="mistake")))
    return out


def presence(chunk: int, changes: list[Change]) -> set[tuple[object, ...]]:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    proj = ApplianceProjection()
    proj.setup(conn)
    for start in range(0, len(changes), chunk):
        proj.project(conn, changes[start : start + chunk])
    return set(conn.execute("SELECT * FROM checkin_presence").fetchall())


@pytest.mark.parametrize("seed", range(5))
def test_scan_by_scan_and_a_whole_catch_up_leave_the_same_people_inside(seed: int) -> None:
    changes = scans(random.Random(seed), 600)
    one_by_one = presence(1, changes)  # a door: one scan per transaction
    assert 1 <= projection.ONE_BY_ONE < 600
    assert presence(600, changes) == one_by_one  # a catch-up: set-wise
    assert presence(projection.ONE_BY_ONE + 1, changes) == one_by_one
    assert one_by_one  # someone is inside, and someone left
    assert {row[3] for row in one_by_one} == {0, 1}


def test_a_projected_scan_reads_back_whole_for_a_retried_nonce() -> None:
    """``checkin`` is the only copy of a scan on the appliance: every field must survive it."""
    from appliance.checkin.history import CheckinHistory

    conn = sqlite3.connect(":memory:", isolation_level=None)
    proj = ApplianceProjection()
    proj.setup(conn)
    scan = Scan(
        id="s1", at=1_700_000_000_123, nonce="n-full", gate="north", direction="exit", result="room_full",
        reason="Room A is full", code="KF1:abc", nfc_uid="04A1B2C3", attendee_id="a7", list_id="vip",
        device_time=1_700_000_000_100, staff="st-9",
    )  # fmt: skip
    bare = Scan(id="s2", at=1, nonce="n-bare", gate="south", result="invalid")
    doc = DocName.device("e1", "door-1")
    proj.project(conn, [Appended(doc, "log", scan), Appended(doc, "log", bare)])
    history = CheckinHistory(conn)
    for original in (scan, bare):
        stored = history.stored_scan("door-1", original.nonce)
        assert stored is not None and stored.record == original and stored.event_id == "e1"
