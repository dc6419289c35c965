"""The door never waits for sync: a 50,000-scan device log catching up must not stall the scans.

A real appliance (``konferenco appliance serve``, a demo event of 20,000
attendees) scans badges over HTTP at a steady 50 a second, open loop, for
the whole catch-up; meanwhile a device peer pushes its offline log of 50,000
scans over ``/sync`` (one Step 2, as a device coming back online sends it).
Every door scan must be answered within the door's own deadline (1 s: a
scan is recorded within it or refused ``too_late``, docs/checkin.md) of when
it was due, none may fail or be refused for lateness, and afterwards the
appliance's figures count all 50,000 pushed scans.

The tighter figures (p99 ≤ 50 ms, no gap over 200 ms) are the issue's
performance targets: ``make bench`` measures them (``bench/door_catchup.py``)
with their floors, because a timed test on a shared machine fails on a busy
neighbour, not on a slower door (this one did, at 201 ms, with the code of
the stop that set it).

The machinery (seeding, building the log, the load generator, the push) is
in ``tests/catchup.py``, shared with ``bench/door_catchup.py``.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.catchup import (
    RECORDS,
    DoorConfig,
    DoorLoad,
    build_log,
    catch_up,
    device_token,
    seed,
    summarise,
    write_codes,
)
from tests.helpers import ApplianceProcess

pytestmark = pytest.mark.slow

RATE = 50.0  # door scans a second
DOOR_ALONE_S = 1.0  # before the push starts
AFTER_S = 0.5  # after every pushed scan is projected
DEADLINE_MS = 1000.0  # the door's scan deadline (sync/store.py check_deadline)
CATCH_UP_LIMIT_S = 60.0
PEER = "door-offline"


def test_a_door_under_load_answers_every_scan_in_time_while_a_50k_log_catches_up(tmp_path: Path) -> None:
    seeded = seed(tmp_path / "data")
    token = device_token(seeded.data, PEER)
    codes = write_codes(tmp_path / "codes.txt", seeded.door_codes)
    with ThreadPoolExecutor(max_workers=1) as pool:
        building = pool.submit(build_log, seeded.event, PEER, seeded.badges, RECORDS)
        appliance = ApplianceProcess(seeded.data).start()
        log = building.result()
    door: DoorLoad | None = None
    try:
        with httpx.Client(
            base_url=appliance.url, headers={"Authorization": f"Bearer {seeded.door_token}"}, timeout=30
        ) as client:
            before = int(client.get("/api/v1/stats").json()["scans"])
            door = DoorLoad(
                DoorConfig(appliance.port, seeded.door_token, str(codes), RATE, connections=8),
                tmp_path / "door.log",
            ).start()
            time.sleep(DOOR_ALONE_S)
            caught = asyncio.run(
                catch_up(
                    appliance.url,
                    seeded.data / "appliance.db",
                    [log],
                    {PEER: token},
                    limit_s=CATCH_UP_LIMIT_S,
                )
            )
            time.sleep(AFTER_S)
            scans, door = door.stop(), None
            during = summarise(scans, caught.started, caught.projected)
            overall = summarise(scans, scans[0].scheduled, scans[-1].scheduled + 1e-6)
            story = (
                f"{RECORDS:,} pushed scans projected {caught.seconds:.1f} s after the push started "
                f"(acknowledged after {caught.acked_seconds:.1f} s); door scans due during the catch-up: "
                f"{during.scans}, p50 {during.p50_ms:.1f} ms, p99 {during.p99_ms:.1f} ms, "
                f"max {during.max_ms:.0f} ms, longest gap without an answer {during.longest_gap_ms:.0f} ms, "
                f"{during.errors} errors, {during.timeouts} timeouts; all failures: {overall.failure_kinds}"
            )
            assert during.scans >= RATE * caught.seconds * 0.9, story
            assert overall.failures == 0, story
            assert overall.max_ms <= DEADLINE_MS, story

            ok = sum(s.outcome == "ok" for s in scans)
            stats = client.get("/api/v1/stats").json()
            assert stats["scans"] == before + ok + RECORDS, (stats["scans"], before, ok)
    finally:
        if door is not None:
            door.kill()
        appliance.stop()
