"""The database restarting mid-sync loses nothing acknowledged.

What a database failover or restart looks like to the hub is every one of
its sessions ending at once; the PostgreSQL server is shared with other
tests, so only the test database's sessions are terminated
(``pg_terminate_backend``), never the server.

* An enrolled appliance scans back to back while the hub's sessions are
  cut several times: afterwards every scan the appliance answered is in the
  hub's ``checkin_scan``, once (by id and by nonce), and the hub answers.
* A write cut while it is in flight (held on a table lock, so the cut hits
  it every time) is refused to the appliance, which sends it again; so is
  a write on a connection cut while the hub was not looking (the hub
  process stopped with SIGSTOP during the cut).
* With two workers, a cut must not end the fan-out between them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.hub_setup import Box, OneHub, TwoHubs, one_hub, two_hubs
from tests.helpers import PG_SERVER as SERVER_URL
from tests.helpers import wait_for

pytestmark = pytest.mark.slow

CUTS = 8  # times the hub's database sessions are cut while the appliance scans
CUT_EVERY_S = 0.4

_CUT = (
    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
    " WHERE datname = $1 AND pid <> pg_backend_pid()"
)


@pytest.fixture
def hub(hub_db: str, tmp_path: Path) -> Iterator[OneHub]:
    with one_hub(hub_db, tmp_path) as setup:
        yield setup


async def _cut(conn: asyncpg.Connection, database_url: str) -> int:
    """End every session of the hub's database but ``conn``'s; returns how many."""
    return int(await conn.fetchval(_CUT, database_url.rsplit("/", 1)[1]))


def cut_sessions(database_url: str) -> int:
    async def run() -> int:
        conn = await asyncpg.connect(SERVER_URL)
        try:
            return await _cut(conn, database_url)
        finally:
            await conn.close()

    return asyncio.run(run())


def stored_scans(database_url: str) -> list[tuple[str, str]]:
    """(id, nonce) of every scan in the hub's projection, read as the table's owner."""

    async def run() -> list[tuple[str, str]]:
        conn = await asyncpg.connect(database_url)
        try:
            return [(r["id"], r["nonce"]) for r in await conn.fetch("SELECT id, nonce FROM checkin_scan")]
        finally:
            await conn.close()

    return asyncio.run(run())


def assert_stored_once(database_url: str, answered: list[str]) -> None:
    """Wait for every answered scan at the hub, then check nothing is missing, extra or doubled."""
    wait_for(
        lambda: {i for i, _ in stored_scans(database_url)} >= set(answered),
        timeout=30,
        interval=0.25,
        what="every scan the appliance answered to reach the hub's checkin_scan",
    )
    stored = stored_scans(database_url)
    assert sorted(i for i, _ in stored) == sorted(answered)
    assert len({nonce for _, nonce in stored}) == len(stored), "a scan was stored twice under two ids"


class Scanner(threading.Thread):
    """Door staff scanning badges back to back until told to stop; keeps every answer."""

    def __init__(self, box: Box, codes: list[str]) -> None:
        super().__init__(daemon=True)
        self.box, self.codes = box, codes
        self.answers: list[dict[str, Any]] = []
        self.error: BaseException | None = None
        self.halt = threading.Event()

    def run(self) -> None:
        try:
            while not self.halt.is_set():
                self.answers.append(self.box.scan(self.codes[len(self.answers) % len(self.codes)], "main"))
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc


def test_cutting_the_database_sessions_while_scans_stream_in_loses_and_doubles_none(
    hub: OneHub, hub_db: str
) -> None:
    scanner = Scanner(hub.box, [badge.code for badge in hub.organizer.badges()])
    scanner.start()
    cut = []
    try:
        for _ in range(CUTS):
            time.sleep(CUT_EVERY_S)
            cut.append(cut_sessions(hub_db))
        time.sleep(CUT_EVERY_S)
    finally:
        scanner.halt.set()
        scanner.join(timeout=15)
    assert scanner.error is None, scanner.error  # the door never depends on the hub's database
    assert all(cut), f"every cut should have ended at least one of the hub's sessions: {cut}"
    answered = [a["scan_id"] for a in scanner.answers]
    assert len(answered) > 2 * CUTS, "the appliance should have kept scanning through the cuts"

    assert_stored_once(hub_db, answered)
    assert httpx.get(f"{hub.hub.url}/healthz", timeout=10).status_code == 200
    assert hub.organizer.dashboard()["scans"] == len(answered)


async def _waiting_on_lock(conn: asyncpg.Connection) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO sync_update%'"
        )
    )


async def test_a_write_cut_in_flight_is_sent_again_and_stored_once(hub: OneHub, hub_db: str) -> None:
    codes = [badge.code for badge in hub.organizer.badges()]
    first = await asyncio.to_thread(hub.box.scan, codes[0], "main")
    await asyncio.to_thread(assert_stored_once, hub_db, [first["scan_id"]])

    holder = await asyncpg.connect(hub_db)
    try:
        async with holder.transaction():
            # The hub's next append waits on this lock: the cut then lands in the middle of it.
            await holder.execute("LOCK TABLE sync_update IN EXCLUSIVE MODE")
            second = await asyncio.to_thread(hub.box.scan, codes[1], "main")
            for _ in range(200):
                if await _waiting_on_lock(holder):
                    break
                await asyncio.sleep(0.05)
            else:
                pytest.fail("the hub never tried to store the second scan")
            assert await _cut(holder, hub_db) > 0
            # leaving the block rolls back and frees the lock
    finally:
        await holder.close()

    await asyncio.to_thread(assert_stored_once, hub_db, [first["scan_id"], second["scan_id"]])
    log = hub.hub.log.read_text()
    assert "storage_failed" in log, "the cut write should have been refused to the appliance"
    assert "Traceback" not in log, log


def test_a_cut_while_the_hub_is_stopped_loses_nothing(hub: OneHub, hub_db: str) -> None:
    """The hub wakes to dead connections and a scan waiting in its socket.

    Whether it notices the cut before its next write (the pool reconnects) or
    during it (the write is refused as ``storage_failed`` and the appliance
    sends it again) depends on which socket the event loop reads first; the
    write-during-the-cut case is pinned down by the test above.  Either way
    the scan is stored once and nothing crashes.
    """
    codes = [badge.code for badge in hub.organizer.badges()]
    answered = [hub.box.scan(codes[0], "main")["scan_id"]]
    assert_stored_once(hub_db, answered)
    assert hub.hub.proc is not None
    pid = hub.hub.proc.pid  # one worker: the server runs in this process
    os.kill(pid, signal.SIGSTOP)  # busy elsewhere: it sees the cut only when it next uses a connection
    try:
        assert cut_sessions(hub_db) > 0
        answered.append(hub.box.scan(codes[1], "main")["scan_id"])
        time.sleep(0.3)  # the appliance has sent the scan: it waits in the hub's socket
    finally:
        os.kill(pid, signal.SIGCONT)

    assert_stored_once(hub_db, answered)  # nothing is lost: the appliance sends it again if refused
    log = hub.hub.log.read_text()
    assert "Traceback" not in log, log


def healthy(url: str) -> bool:
    return httpx.get(f"{url}/healthz", timeout=5).status_code == 200


@pytest.fixture
def workers(hub_db: str, tmp_path: Path) -> Iterator[TwoHubs]:
    with two_hubs(hub_db, tmp_path) as setup:
        yield setup


def test_after_a_cut_a_scan_received_by_one_worker_still_reaches_the_other(
    workers: TwoHubs, hub_db: str
) -> None:
    a, b = workers.a, workers.b
    a.process.start()
    assert a.scan(workers.badges[0].code, "main")["result"] == "admitted"
    wait_for(lambda: workers.organizer.dashboard()["scans"] == 1, what="A's scan stored by hub 1")
    b.process.start()
    wait_for(lambda: b.get("/api/v1/stats")["scans"] == 1, what="A's first scan at B")

    assert cut_sessions(hub_db) > 0
    for worker in workers.hubs:
        wait_for(partial(healthy, worker.url), what="both workers answering after the cut")
    assert a.scan(workers.badges[1].code, "main")["result"] == "admitted"
    wait_for(
        lambda: b.get("/api/v1/stats")["scans"] == 2, timeout=15, what="A's second scan at B after the cut"
    )
