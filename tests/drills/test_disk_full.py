"""Drill: the appliance's disk fills up while the doors keep scanning.

A real ``konferenco appliance serve`` keeps its data directory on a small
tmpfs of its own.  Four door lanes scan while another process's file eats the
remaining space.  Once the file system is full, SQLite answers ``SQLITE_FULL``
and the door must hear a clear refusal in our error shape (507
``disk_full``: nothing recorded, send the same scan again), never a 500 or a
hang.  Every scan answered 200 before or during the filling must still be
there when space returns, and after a restart; the scans refused for the full
disk go through when the lanes retry them with their nonces, and new scans
are admitted again without a restart.
"""

from __future__ import annotations

import csv
import errno
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.drills.fs import free_bytes, small_filesystem
from tests.helpers import ApplianceProcess, konferenco, wait_for

LANES = 4
CHUNK = 64 * 1024


@dataclass
class Doors:
    """What the lanes were told, by nonce."""

    acked: dict[str, str] = field(default_factory=dict)  # nonce -> scan id
    refused: dict[str, dict[str, Any]] = field(default_factory=dict)  # nonce -> request body
    refusals: list[dict[str, Any]] = field(default_factory=list)  # the 507 bodies
    other: list[str] = field(default_factory=list)  # anything but 200 and 507
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Rig:
    data: Path
    token: str
    badges: list[str]
    server: ApplianceProcess


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with small_filesystem(tmp_path / "disk", "16m") as disk:
        data = disk / "box"
        konferenco("demo", "seed", "--data", str(data), "--attendees", "200")
        konferenco("appliance", "badges", "--data", str(data), "--out", str(tmp_path / "badges.csv"))
        with (tmp_path / "badges.csv").open(newline="", encoding="utf-8") as f:
            badges = [row["badge_code"] for row in csv.DictReader(f)]
        token = konferenco("appliance", "issue-token", "--data", str(data), "--role", "door").stdout.strip()
        server = ApplianceProcess(data)
        server.log = tmp_path / "appliance.log"  # not on the full disk: the drill reads it
        try:
            yield Rig(data, token, badges, server.start())
        finally:
            server.stop()  # before the unmount: it holds the database open


def lane(rig: Rig, n: int, stop: threading.Event, doors: Doors) -> None:
    """One door lane, a fresh nonce per scan, as fast as the box answers."""
    with httpx.Client(headers={"Authorization": f"Bearer {rig.token}"}, timeout=15) as http:
        i = 0
        while not stop.is_set():
            body = {"code": rig.badges[(n * 37 + i) % len(rig.badges)], "nonce": f"l{n}-{i}", "gate": "north"}
            i += 1
            response = http.post(f"{rig.server.url}/api/v1/scans", json=body)
            with doors.lock:
                if response.status_code == 200:
                    doors.acked[body["nonce"]] = response.json()["scan_id"]
                elif response.status_code == 507:
                    doors.refused[body["nonce"]] = body
                    doors.refusals.append(response.json())
                else:
                    doors.other.append(f"{response.status_code} {response.text[:300]}")


def fill(path: Path) -> int:
    """Write CHUNKs to PATH until the file system says it is full; the bytes written."""
    written = 0
    with path.open("wb", buffering=0) as f:
        while True:
            try:
                written += f.write(b"\xa5" * CHUNK)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
            time.sleep(0.002)  # the doors keep scanning while the disk fills
    # A last few bytes, so not even a page is left for SQLite.
    with path.open("ab", buffering=0) as f:
        for size in (4096, 512, 1):
            try:
                while True:
                    written += f.write(b"\xa5" * size)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    return written


def stored(data: Path) -> dict[str, str]:
    """nonce -> scan id of every check-in in the database (read-only, as an auditor would)."""
    with sqlite3.connect(f"file:{data / 'appliance.db'}?mode=ro", uri=True, timeout=10) as conn:
        return dict(conn.execute("SELECT nonce, id FROM checkin").fetchall())


def scan(rig: Rig, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{rig.server.url}/api/v1/scans",
        json=body,
        headers={"Authorization": f"Bearer {rig.token}"},
        timeout=15,
    )


@pytest.mark.slow
def test_a_full_disk_refuses_scans_clearly_loses_nothing_and_recovers(rig: Rig) -> None:
    doors, stop = Doors(), threading.Event()
    filler = rig.data.parent / "filler"
    with ThreadPoolExecutor(LANES) as pool:
        lanes = [pool.submit(lane, rig, n, stop, doors) for n in range(LANES)]
        try:
            wait_for(lambda: len(doors.acked) >= 20, timeout=30, what="scans admitted before the disk fills")
            fill(filler)
            assert free_bytes(filler.parent) < CHUNK
            # The disk stays full while the doors keep scanning: they must hear refusals.
            wait_for(lambda: len(doors.refused) >= 20, timeout=30, what="scans refused on the full disk")
        finally:
            stop.set()
        for done in lanes:
            done.result()

    assert not doors.other, f"answers other than 200 and 507 on a full disk: {doors.other[:3]}"
    for body in doors.refusals:  # our error shape, in words a volunteer and a script understand
        assert body["code"] == "disk_full", body
        assert "full" in body["message"] and "nothing was written" in body["message"], body
        assert "same request again" in body["message"], body
    acked_while_full = dict(doors.acked)
    assert len(acked_while_full) >= 20

    # Still full, the server answers health checks: it did not hang or die.
    assert httpx.get(f"{rig.server.url}/healthz", timeout=10).status_code == 200
    assert rig.server.proc is not None and rig.server.proc.poll() is None

    # Space returns, no restart: new scans are admitted, the refused ones go through on retry.
    filler.unlink()
    fresh = scan(rig, {"code": rig.badges[0], "nonce": "after-space-returned", "gate": "south"})
    assert fresh.status_code == 200, fresh.text
    retried: dict[str, str] = {}
    for nonce, body in doors.refused.items():
        response = scan(rig, body)
        assert response.status_code == 200, f"{nonce}: {response.status_code} {response.text}"
        assert not response.json()["replayed"], "a refused scan was not recorded the first time"
        retried[nonce] = response.json()["scan_id"]

    expected = {**acked_while_full, **retried, "after-space-returned": fresh.json()["scan_id"]}
    rows = stored(rig.data)
    lost = {n for n, scan_id in expected.items() if rows.get(n) != scan_id}
    assert not lost, f"{len(lost)} of {len(expected)} acknowledged scans lost, e.g. {sorted(lost)[:5]}"
    assert len(rows) == len(expected), "scans refused for the full disk were recorded anyway"

    # After a restart, still everything, and a retry of an acknowledged scan replays its answer.
    rig.server.stop()
    rig.server.start()
    rows = stored(rig.data)
    assert {n: rows.get(n) for n in expected} == expected
    nonce, body = next(iter(doors.refused.items()))
    again = scan(rig, body)
    assert again.status_code == 200 and again.json()["replayed"], again.text
    assert again.json()["scan_id"] == expected[nonce]
