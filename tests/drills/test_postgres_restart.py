"""Drill: PostgreSQL dies in the middle of a hub's catch-up with an appliance.

A real hub runs on a PostgreSQL cluster of the drill's own.  An enrolled
appliance scans thousands of badges while it cannot reach the hub (its hub
address points nowhere), every answered scan counted.  Then it is pointed at
the hub and started: while the hub is storing and projecting that backlog,
PostgreSQL is killed with SIGKILL (server and backends) and started again.

Nobody touches the appliance or the hub: the appliance must retry by itself,
the hub must answer again, and in the end every acknowledged scan must be in
the hub's projection (``checkin_scan``) with the id and nonce the door was
told, none twice, and the appliance must hold nothing the hub has not
acknowledged.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from hub.db import migrate
from tests.drills.fs import needs_root
from tests.drills.private_pg import PrivateCluster
from tests.e2e.hub_setup import Organizer, create_event, create_organization, enrol, point_at, sign_in
from tests.helpers import Box, HubProcess, free_port, konferenco, wait_for

OFFLINE_SCANS = 4_000
LANES = 4
DATABASE = "kf_drill"


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    needs_root()
    pg = PrivateCluster()
    try:
        pg.start()
        yield pg
    finally:
        pg.destroy()


@dataclass
class Venue:
    pg: PrivateCluster
    hub: HubProcess
    organizer: Organizer
    box: Box
    codes: list[str]


@pytest.fixture
def venue(cluster: PrivateCluster, tmp_path: Path) -> Iterator[Venue]:
    asyncio.run(cluster.fetchval("postgres", f'CREATE DATABASE "{DATABASE}"'))
    url = cluster.url(DATABASE)
    migrate.upgrade(url)
    create_organization(url)
    hub = HubProcess(url, tmp_path / "secrets")
    box: Box | None = None
    try:
        hub.start()
        organizer = create_event(sign_in(hub.url), attendees=400)
        box = enrol(organizer, tmp_path / "A", "A")
        yield Venue(cluster, hub, organizer, box, [b.code for b in organizer.badges()])
    finally:
        if box is not None:
            box.process.stop()
        hub.stop()


def scan_offline(venue: Venue) -> dict[str, str]:
    """OFFLINE_SCANS scans at the door, LANES at a time; nonce -> scan id of every 200."""
    box, acked, lock = venue.box, {}, threading.Lock()

    def lane(n: int) -> None:
        rng = random.Random(n)
        with httpx.Client(headers={"Authorization": f"Bearer {box.token}"}, timeout=15) as http:
            for i in range(n, OFFLINE_SCANS, LANES):
                body = {
                    "code": rng.choice(venue.codes),
                    "nonce": f"door-{i}",
                    "gate": "main",
                    "direction": rng.choice(["entry", "entry", "exit"]),
                }
                response = http.post(f"{box.process.url}/api/v1/scans", json=body)
                assert response.status_code == 200, response.text
                with lock:
                    acked[body["nonce"]] = response.json()["scan_id"]

    with ThreadPoolExecutor(LANES) as pool:
        list(pool.map(lane, range(LANES)))
    return acked


def projected(pg: PrivateCluster, device_id: str) -> int | None:
    """Scans of the device in the hub's projection; None while PostgreSQL is down."""
    try:
        value = asyncio.run(
            pg.fetchval(DATABASE, "SELECT count(*) FROM checkin_scan WHERE device_id = $1", device_id)
        )
    except Exception:  # refused, reset, timed out, or still recovering: down, for the drill
        return None
    return value if isinstance(value, int) else None


async def catch_up_begins(pg: PrivateCluster, device_id: str) -> tuple[int, int]:
    """Watch the hub's database until the first update of the device's log is stored.

    Returns (updates stored, scans projected) at that moment: the catch-up has begun and,
    with thousands of scans in several shards, is far from done.  One connection, polled
    every few milliseconds, so the moment is not missed.
    """
    conn = await asyncpg.connect(pg.url(DATABASE))
    try:
        async with asyncio.timeout(60):
            while True:
                stored = await conn.fetchval(
                    "SELECT count(*) FROM sync_update WHERE doc LIKE $1", f"event/%/device/{device_id}%"
                )
                if stored:
                    seen = await conn.fetchval(
                        "SELECT count(*) FROM checkin_scan WHERE device_id = $1", device_id
                    )
                    return int(stored), int(seen)
                await asyncio.sleep(0.003)
    finally:
        await conn.close()


def sync_status(box: Box, token: str) -> dict[str, Any] | None:
    try:
        response = httpx.get(
            f"{box.process.url}/api/v1/sync/status", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
    except httpx.HTTPError:
        return None
    return dict(response.json()) if response.status_code == 200 else None


@pytest.mark.slow
def test_postgres_killed_mid_catch_up_loses_no_acknowledged_scan(venue: Venue) -> None:
    box, pg = venue.box, venue.pg
    point_at(box, f"http://127.0.0.1:{free_port()}")  # the venue's uplink is down
    box.process.start()
    acked = scan_offline(venue)
    assert len(acked) == OFFLINE_SCANS
    assert projected(pg, box.device_id) == 0
    box.process.stop()

    point_at(box, venue.hub.url)  # the uplink is back: the backlog flows to the hub
    box.process.start()
    auditor = konferenco(
        "appliance", "peer-token", "--data", str(box.data), "--peer-id", "drill-auditor"
    ).stdout.strip()
    stored, seen = asyncio.run(catch_up_begins(pg, box.device_id))
    assert stored > 0 and seen < OFFLINE_SCANS, "the catch-up finished before the kill: make it bigger"
    logged_before = box.process.log.stat().st_size
    pg.crash()  # SIGKILL, server and backends, with `stored` updates in and `seen` scans projected
    time.sleep(1.0)  # the hub's writes fail meanwhile; the appliance hears it
    pg.start()

    # Nobody touches the appliance or the hub: the backlog must arrive whole by itself.
    wait_for(
        lambda: projected(pg, box.device_id) == OFFLINE_SCANS,
        timeout=90,
        interval=0.25,
        what=f"all {OFFLINE_SCANS} acknowledged scans in the hub's projection",
    )
    rows = asyncio.run(
        pg.fetch(DATABASE, "SELECT nonce, id FROM checkin_scan WHERE device_id = $1", box.device_id)
    )
    at_hub = {row["nonce"]: row["id"] for row in rows}
    assert len(rows) == len(at_hub), "a nonce is projected twice at the hub"
    lost = [n for n, scan_id in acked.items() if at_hub.get(n) != scan_id]
    assert not lost, f"{len(lost)} of {len(acked)} acknowledged scans lost at the hub, e.g. {lost[:5]}"

    # The hub answers again: health, and the organizer's dashboard from the database.
    assert httpx.get(f"{venue.hub.url}/healthz", timeout=10).status_code == 200
    assert venue.organizer.dashboard()
    # The appliance retried by itself: the hub refused the writes it could not store, the
    # appliance said it would retry, and now every document is synced, nothing unacknowledged.
    with box.process.log.open("rb") as f:
        f.seek(logged_before)
        since_crash = f.read().decode(errors="replace")
    retries = [line for line in since_crash.splitlines() if "sync hub:" in line and "retrying in" in line]
    assert retries, f"no retry of the appliance's sync after the crash in its log:\n{since_crash[-2000:]}"

    def settled() -> dict[str, Any] | None:
        status = sync_status(box, auditor)
        if status is None or status["unacknowledged"].get("hub"):
            return None
        documents = [d for u in status["upstreams"] for d in u["documents"].values()]
        return status if documents and all(d["state"] == "synced" for d in documents) else None

    status = wait_for(settled, timeout=60, interval=0.25, what="the appliance acknowledged by the hub")
    assert status is not None and status["upstreams"][0]["peer"] == "hub"
    wait_for(lambda: venue.organizer.devices()[box.device_id]["connected"], what="the device shown connected")
