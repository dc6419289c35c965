"""``kill -9`` in the middle of a chunked catch-up: after a restart everything converges, once.

A peer's catch-up is projected in small background transactions (the door
goes first), so a crash can land with part of an update projected.  The
update's row stays flagged unprojected until its last chunk, and the next
start projects it again, whole; every step is idempotent per record id.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from pycrdt import Doc

from appliance.checkin.projection import ApplianceProjection
from sync.documents import DeviceLog, checked
from sync.names import DocName
from sync.records import DeviceRecord, Scan
from sync.replica import Replica
from sync.shards import SHARD_RECORDS
from sync.sqlite_store import SQLiteUpdateStore
from tests.helpers import ROOT

SHARDS = 12
ATTENDEES = 3_000


def shards(folder: Path) -> dict[str, bytes]:
    """A device's offline log of 12 full shards: entries and exits of 3,000 attendees."""
    rng = random.Random(7)
    out = {}
    for n in range(SHARDS):
        doc: Doc[object] = Doc()
        log = DeviceLog(doc)
        for first in range(0, SHARD_RECORDS, 500):
            values = [
                checked(
                    Scan(
                        id=f"s{n}-{i}",
                        at=1_700_000_000_000 + n * SHARD_RECORDS + i,
                        nonce=f"n{n}-{i}",
                        gate="north",
                        direction=rng.choice(("entry", "entry", "exit")),
                        result="admitted",
                        attendee_id=f"a{rng.randrange(ATTENDEES)}",
                        list_id="main",
                    ),
                    DeviceRecord,
                )
                for i in range(first, first + 500)
            ]
            with doc.transaction():
                log.extend_checked(values)
        name = str(DocName.device("e1", "door-2", n))
        out[name] = doc.get_update()
        (folder / f"{name.replace('/', '+')}.update").write_bytes(out[name])
    return out


def count(db: Path, sql: str) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        try:
            return int(conn.execute(sql).fetchone()[0])
        except sqlite3.OperationalError:  # not created yet
            return 0


def kill_mid_catch_up(db: Path, folder: Path, total: int) -> int:
    """Run the child and SIGKILL it once part, but not all, of the catch-up is projected."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.appliance.catchup_crash_child", str(db), str(folder)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            projected = count(db, "SELECT count(*) FROM checkin")
            if total * 0.2 <= projected <= total * 0.8:
                child.send_signal(signal.SIGKILL)
                return projected
            assert projected < total, "the catch-up finished before the kill: make it bigger"
            time.sleep(0.01)
        raise AssertionError("the catch-up did not progress")
    finally:
        child.kill()
        child.wait(timeout=10)


def expected_presence(db: Path) -> set[tuple[str, int]]:
    """Who is inside, recomputed from scratch from the projected scans (the last one decides)."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT attendee_id, direction FROM checkin WHERE result = 'admitted' ORDER BY at, doc, id"
        ).fetchall()
    last: dict[str, str] = {}
    for attendee, direction in rows:
        last[attendee] = direction
    return {(a, int(d == "entry")) for a, d in last.items()}


async def test_a_crash_mid_catch_up_loses_nothing_and_counts_nothing_twice(tmp_path: Path) -> None:
    folder = tmp_path / "pushed"
    folder.mkdir()
    updates = shards(folder)
    total = SHARDS * SHARD_RECORDS
    db = tmp_path / "appliance.db"

    projected_at_kill = kill_mid_catch_up(db, folder, total)
    assert 0 < projected_at_kill < total
    stored = count(db, "SELECT count(*) FROM sync_update")
    unprojected = count(db, "SELECT count(*) FROM sync_update WHERE projected = 0")
    assert unprojected > 0, "the kill should land with stored updates still being projected"

    # Restart: what was stored is projected again, whole, and only once.
    replica = Replica(SQLiteUpdateStore(db, projector=ApplianceProjection()))
    await replica.start()
    assert count(db, "SELECT count(*) FROM sync_update WHERE projected = 0") == 0
    assert count(db, "SELECT count(*) FROM checkin") == stored * SHARD_RECORDS
    # The peer reconnects and sends everything again: duplicates change nothing.
    for name, update in updates.items():
        await replica.receive(name, update, "peer")
    await replica.close()

    assert count(db, "SELECT count(*) FROM checkin") == total
    assert count(db, "SELECT count(DISTINCT nonce) FROM checkin") == total
    with sqlite3.connect(db) as conn:
        presence = set(conn.execute("SELECT attendee_id, inside FROM checkin_presence").fetchall())
    assert presence == expected_presence(db)
