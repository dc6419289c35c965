"""Faults at the door: a full disk, and many lanes scanning the same badge at once.

The full-disk tests run the app in-process (``AsyncTestClient``) so they can
make SQLite itself report ``SQLITE_FULL``: ``PRAGMA max_page_count`` on the
writer's connection caps the database at its current size, exactly as a
full disk would.  The concurrency tests use the real server on loopback
(``demo_appliance``).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from pycrdt import Doc

from appliance.app import create_app
from appliance.box import Box
from appliance.checkin.service import SCAN_DEADLINE_S
from appliance.config import DataDir, DeviceConfig
from appliance.staff.service import StaffRole
from drivers.base import ScanEvent
from sync.documents import DeviceLog
from sync.names import DocName
from sync.records import Scan
from tests.appliance.conftest import DemoAppliance, nonce
from tests.helpers import konferenco, until

SCANS = "/api/v1/scans"
UNLIMITED_PAGES = 1_073_741_823  # SQLite's default max_page_count


# --- the app in-process, on a demo appliance ---------------------------------------------


@dataclass
class InProcess:
    app: Litestar
    client: AsyncTestClient[Litestar]
    badges: list[str]  # badge codes of full-pass holders, each used by at most one scan series

    @property
    def state(self) -> Box:
        box: Box = self.app.state["box"]
        return box

    async def scan(self, body: dict[str, Any]) -> httpx.Response:
        return await self.client.post(SCANS, json=body)

    async def stats(self) -> dict[str, Any]:
        response = await self.client.get("/api/v1/stats")
        assert response.status_code == 200, response.text
        figures: dict[str, Any] = response.json()
        return figures

    async def set_max_pages(self, pages: int | None) -> int:
        """Cap the database at ``pages`` (None: at its current size); return the cap."""
        writer = self.state.replica.store.writer  # type: ignore[attr-defined]

        def cap(conn: Any) -> int:
            limit = pages if pages is not None else conn.execute("PRAGMA page_count").fetchone()[0]
            return int(conn.execute(f"PRAGMA max_page_count = {limit}").fetchone()[0])

        return int(await writer.run(cap))

    def rows_with_nonce(self, used: str) -> int:
        return int(
            self.state.conn.execute("SELECT count(*) FROM checkin WHERE nonce = ?", (used,)).fetchone()[0]
        )

    async def logged_scans(self) -> list[Scan]:
        """The scans in this device's log document (loaded again if a failed write evicted it)."""
        replica, config = self.state.replica, self.state.config
        name = replica.device_log(config.events[0], config.device_id)
        await replica.open(name)
        return [r for r in DeviceLog(replica.doc(name)).records() if isinstance(r, Scan)]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One demo appliance directory, copied for each test (seeding takes a second)."""
    path = tmp_path_factory.mktemp("seeded") / "data"
    konferenco("demo", "seed", "--data", str(path), "--attendees", "60", "--seed", "7")
    return path


@pytest.fixture
async def in_process(seeded: Path, tmp_path: Path) -> AsyncIterator[InProcess]:
    data = DataDir(shutil.copytree(seeded, tmp_path / "data"))
    bundle = json.loads((data.path / "catalog.json").read_bytes())
    badges = [a["badge_code"] for a in bundle["catalog"]["attendees"] if a["ticket_type_id"] == "full"]
    token = data.staff_tokens().issue("test-door", "Door", StaffRole.DOOR)
    app = create_app(data)
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield InProcess(app, client, badges)


async def fill_disk(env: InProcess, bodies: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    """Cap the database and scan ``bodies`` until SQLite is full.

    Returns how many scans were still stored and the first refused body.
    A real disk fills the same way: the last free pages take a few more scans.
    """
    await env.set_max_pages(None)
    for stored, body in enumerate(bodies):
        response = await env.scan(body)
        if response.status_code != 200:
            assert response.status_code == 507, response.text
            return stored, body
        assert response.json()["result"] == "admitted"
    raise AssertionError(f"{len(bodies)} scans fit in a full database")


async def test_full_disk_is_a_clear_507_and_the_same_nonce_succeeds_later(in_process: InProcess) -> None:
    env = in_process
    before = await env.stats()
    bodies = [{"code": code, "nonce": nonce(), "gate": "north"} for code in env.badges[:30]]
    stored, refused = await fill_disk(env, bodies)

    # The refusal is clear and tells the client what to do.
    response = await env.scan(refused)
    assert response.status_code == 507
    error = response.json()
    assert error["code"] == "disk_full"
    assert "same nonce" in error["message"]

    # The service keeps answering; nothing of the refused scan was written.
    assert (await env.client.get("/healthz")).status_code == 200
    full = await env.stats()
    assert full["scans"] == before["scans"] + stored
    assert full["admitted"] == before["admitted"] + stored
    assert env.rows_with_nonce(refused["nonce"]) == 0
    assert [s.nonce for s in await env.logged_scans()].count(refused["nonce"]) == 0
    assert len(await env.logged_scans()) == full["scans"]  # the log and the projection agree

    # Space is back: the retry is decided afresh, recorded once, and replays from then on.
    await env.set_max_pages(UNLIMITED_PAGES)
    retried = await env.scan(refused)
    assert retried.status_code == 200, retried.text
    assert retried.json()["result"] == "admitted"
    assert retried.json()["replayed"] is False
    assert env.rows_with_nonce(refused["nonce"]) == 1
    assert [s.nonce for s in await env.logged_scans()].count(refused["nonce"]) == 1
    again = await env.scan(refused)
    assert again.json()["replayed"] is True and again.json()["scan_id"] == retried.json()["scan_id"]
    after = await env.stats()
    assert after["scans"] == full["scans"] + 1
    assert after["admitted"] == full["admitted"] + 1

    # The device log is not stuck: the next badge is admitted and stored as usual.
    other = await env.scan({"code": env.badges[40], "nonce": nonce(), "gate": "south"})
    assert other.status_code == 200 and other.json()["result"] == "admitted"
    assert len(await env.logged_scans()) == (await env.stats())["scans"]


async def test_full_disk_under_concurrent_scans(in_process: InProcess) -> None:
    """Several lanes scan while the disk fills: each gets a clear error or an answer, never a 500."""
    env = in_process
    await fill_disk(env, [{"code": code, "nonce": nonce(), "gate": "north"} for code in env.badges[:25]])
    before = await env.stats()
    lanes = [{"code": code, "nonce": nonce(), "gate": "south"} for code in env.badges[25:35]]
    responses = await asyncio.gather(*(env.scan(body) for body in lanes))
    assert {r.status_code for r in responses} <= {200, 503, 507}, [r.text for r in responses]
    assert all(r.json()["code"] in ("disk_full", "unavailable") for r in responses if r.status_code != 200)
    assert (await env.client.get("/healthz")).status_code == 200
    accepted = sum(r.status_code == 200 for r in responses)
    assert accepted < len(lanes)  # the disk was full for them
    assert (await env.stats())["scans"] == before["scans"] + accepted

    await env.set_max_pages(UNLIMITED_PAGES)
    retries = await asyncio.gather(*(env.scan(body) for body in lanes))
    assert [r.status_code for r in retries] == [200] * len(lanes), [r.text for r in retries]
    assert all(r.json()["result"] == "admitted" for r in retries)
    for body in lanes:
        assert env.rows_with_nonce(body["nonce"]) == 1
    assert (await env.stats())["scans"] == before["scans"] + len(lanes)
    assert len(await env.logged_scans()) == (await env.stats())["scans"]


# --- many lanes at once, through the real server -----------------------------------------


async def _scan_all(app: DemoAppliance, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=app.url, headers=app.headers("door"), timeout=20) as client:
        responses = await asyncio.gather(*(client.post(SCANS, json=body) for body in bodies))
    assert [r.status_code for r in responses] == [200] * len(bodies), [r.text for r in responses]
    return [r.json() for r in responses]


def _stats(app: DemoAppliance) -> dict[str, Any]:
    with app.client("door") as client:
        figures: dict[str, Any] = client.get("/api/v1/stats").json()
    return figures


async def test_twenty_lanes_scanning_one_badge_admit_it_once(demo_appliance: DemoAppliance) -> None:
    person = demo_appliance.take(lambda r: r["ticket_type_id"] == "full")
    before = _stats(demo_appliance)
    gates = ["north", "south"]
    bodies = [{"code": person["badge_code"], "nonce": nonce(), "gate": gates[i % 2]} for i in range(20)]
    answers = await _scan_all(demo_appliance, bodies)
    results = [a["result"] for a in answers]
    assert results.count("admitted") == 1, results
    assert results.count("already_admitted") == 19, results
    winner = next(a for a in answers if a["result"] == "admitted")
    assert all(a["first_admitted"]["at"] == winner["at"] for a in answers)
    after = _stats(demo_appliance)
    assert after["admitted"] == before["admitted"] + 1
    assert after["inside"] == before["inside"] + 1
    assert after["scans"] == before["scans"] + 20


async def test_one_scan_retried_by_many_lanes_at_once_is_recorded_once(demo_appliance: DemoAppliance) -> None:
    person = demo_appliance.take(lambda r: r["ticket_type_id"] == "full")
    before = _stats(demo_appliance)
    body = {"code": person["badge_code"], "nonce": nonce(), "gate": "north"}
    answers = await _scan_all(demo_appliance, [body] * 10)
    assert {a["scan_id"] for a in answers} == {answers[0]["scan_id"]}
    assert {a["result"] for a in answers} == {"admitted"}
    assert [a["replayed"] for a in answers].count(False) == 1
    assert _stats(demo_appliance)["scans"] == before["scans"] + 1


async def test_twenty_different_badges_at_once_are_all_admitted(demo_appliance: DemoAppliance) -> None:
    people = [demo_appliance.take(lambda r: r["ticket_type_id"] in ("full", "expo")) for _ in range(20)]
    before = _stats(demo_appliance)
    answers = await _scan_all(
        demo_appliance, [{"code": p["badge_code"], "nonce": nonce(), "gate": "north"} for p in people]
    )
    assert [a["result"] for a in answers] == ["admitted"] * 20
    assert [a["attendee"]["id"] for a in answers] == [p["attendee_id"] for p in people]
    after = _stats(demo_appliance)
    assert after["admitted"] == before["admitted"] + 20
    assert after["scans"] == before["scans"] + 20


async def test_a_scan_that_cannot_be_recorded_within_its_deadline_is_refused_and_not_recorded(
    in_process: InProcess,
) -> None:
    """A stalled writer (a dying SD card) must not turn a scanner's timeout into a silent admission."""
    env = in_process
    before = await env.stats()
    body = {"code": env.badges[-1], "nonce": nonce(), "gate": "north"}

    def stall(conn: Any) -> None:
        time.sleep(SCAN_DEADLINE_S + 0.3)  # the writer is busy past the scan's deadline

    stalled = asyncio.create_task(env.state.writer.run(stall))
    await asyncio.sleep(0.05)  # the stall has begun
    started = time.monotonic()
    response = await env.scan(body)
    waited = time.monotonic() - started
    await stalled

    assert response.status_code == 503, response.text
    error = response.json()
    assert error["code"] == "too_late"
    assert "not recorded" in error["message"] and "same nonce" in error["message"]
    assert waited < SCAN_DEADLINE_S + 1.0  # answered, not left hanging
    # Nothing of it is anywhere: not in the projection, not in the device log.
    assert env.rows_with_nonce(body["nonce"]) == 0
    assert body["nonce"] not in [s.nonce for s in await env.logged_scans()]
    assert (await env.stats())["scans"] == before["scans"]

    # The scanner retries with the same nonce: decided afresh, admitted, recorded once.
    retried = await env.scan(body)
    assert retried.status_code == 200, retried.text
    assert retried.json()["result"] == "admitted" and retried.json()["replayed"] is False
    assert env.rows_with_nonce(body["nonce"]) == 1
    assert len(await env.logged_scans()) == (await env.stats())["scans"] == before["scans"] + 1


async def test_a_scanner_whose_scan_was_refused_too_late_sends_it_again_and_it_counts_once(
    in_process: InProcess,
) -> None:
    """The appliance's own scanners retry a ``too_late`` refusal with the same nonce."""
    env = in_process
    before = await env.stats()
    sink = env.state.door.device_sink(DeviceConfig(id="scanner-north", domain="scanner", gate="north"))

    def stall(conn: Any) -> None:
        time.sleep(SCAN_DEADLINE_S + 0.3)

    stalled = asyncio.create_task(env.state.writer.run(stall))
    await asyncio.sleep(0.05)
    await sink(ScanEvent(source="evdev:test", at=1, code=env.badges[-2]))  # refused once, then retried
    await stalled

    after = await env.stats()
    assert after["scans"] == before["scans"] + 1 and after["admitted"] == before["admitted"] + 1
    nonces = [s.nonce for s in await env.logged_scans() if s.staff == "scanner-north"]
    assert len(nonces) == 1 and env.rows_with_nonce(nonces[0]) == 1


async def test_health_and_metrics_show_a_catch_up(in_process: InProcess) -> None:
    """An operator sees a box catching up (and its memory) instead of guessing why it is busy."""
    env = in_process
    health = (await env.client.get("/healthz")).json()
    sync = health["sync"]
    assert sync["catching_up"] == 0 and sync["documents_catching_up"] == 0
    assert sync["writer_backlog"] == {"foreground": 0, "background": 0}
    assert sync["documents_loaded"] >= 1
    metrics = (await env.client.get("/metrics")).text
    for name in (
        "konferenco_sync_catching_up_changes",
        "konferenco_sqlite_backlog",
        "konferenco_sync_documents_unloaded",
    ):
        assert name in metrics

    # A peer's update waiting behind the background lane shows in the writer's backlog...
    replica, writer = env.state.replica, env.state.writer
    proceed = threading.Event()
    blocked = asyncio.create_task(writer.run(lambda conn: proceed.wait(5), background=True))
    doc: Doc[Any] = Doc()
    for i in range(3):
        DeviceLog(doc).append_scan(nonce=f"p{i}", gate="north", result="admitted")
    receiving = asyncio.create_task(
        replica.receive(DocName.device("demo", "other-door"), doc.get_update(), "p")
    )
    try:
        await until(lambda: writer.backlog()[1] >= 1, what="the update queued behind the background job")
        assert (await env.client.get("/healthz")).json()["sync"]["writer_backlog"]["background"] >= 1
        assert 'konferenco_sqlite_backlog{lane="background"} 1.0' in (await env.client.get("/metrics")).text
    finally:
        proceed.set()
        await blocked
        await receiving
    # ...and once projected, nothing is left to catch up and the scans are there.
    assert (await env.client.get("/healthz")).json()["sync"]["catching_up"] == 0
    assert all(env.rows_with_nonce(f"p{i}") == 1 for i in range(3))
