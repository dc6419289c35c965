"""An acknowledged scan survives ``kill -9`` of the appliance at any moment (issue #3).

A real ``konferenco appliance serve`` process takes a scan storm — eight
door lanes scanning many badges at both gates, in and out — and is killed
with SIGKILL at three random moments, restarting each time on the same data
directory.  Every scan the server answered with 200 is counted.  At the end
each acknowledged scan must be in the ``checkin`` table and in the device
log with the id and result the door was told, a retry of its nonce must
replay that answer, and no nonce may be recorded twice.
"""

from __future__ import annotations

import csv
import itertools
import random
import sqlite3
import threading
import time
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pycrdt import Doc

from sync.documents import DeviceLog
from sync.records import Scan
from tests.helpers import ApplianceProcess, konferenco

LANES = 8
KILLS = 3


@dataclass
class Tally:
    """What the doors were told: every acknowledged scan, and every surprise."""

    acked: dict[str, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)  # nonce
    connection_errors: int = 0
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""  # where the appliance listens now

    def count(self) -> int:
        with self.lock:
            return len(self.acked)


def lane(token: str, badges: list[str], lane_no: int, stop: threading.Event, tally: Tally) -> None:
    """One door lane: scan, and retry the same nonce after a lost connection until answered."""
    rng = random.Random(lane_no)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(headers=headers, timeout=5) as http:
        i = 0
        while not stop.is_set():
            body: dict[str, Any] = {
                "code": rng.choice(badges),
                "nonce": f"lane{lane_no}-{i}",
                "gate": rng.choice(["north", "south"]),
                "direction": rng.choice(["entry", "entry", "exit"]),
                "device_time": int(time.time() * 1000),
            }
            i += 1
            while not stop.is_set():
                try:
                    response = http.post(f"{tally.url}/api/v1/scans", json=body)
                except httpx.TransportError:  # the server was killed mid-request, or is down
                    with tally.lock:
                        tally.connection_errors += 1
                    time.sleep(0.02)
                    continue  # the scanner retries the same scan with the same nonce
                with tally.lock:
                    if response.status_code == 200:
                        tally.acked[body["nonce"]] = (body, response.json())
                    else:
                        tally.unexpected.append(f"{response.status_code} {response.text[:200]}")
                break


def restart(data: Path, port: int) -> ApplianceProcess:
    """Start the appliance again on its port, or on another if something took that one meanwhile."""
    server = ApplianceProcess(data, port)
    logged = server.log.stat().st_size if server.log.exists() else 0
    try:
        return server.start()
    except TimeoutError:
        server.kill()  # not healthy in time: leave no process behind
        raise
    except RuntimeError:
        with server.log.open("rb") as f:
            f.seek(logged)
            if b"address already in use" not in f.read():
                raise  # the appliance could not start on its own data: that is a failure
        return ApplianceProcess(data).start()


def stored_scans(data: Path, device_id: str) -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    """(nonce, scan id, result) of every ``checkin`` row, and the scan records of the device log."""
    with sqlite3.connect(f"file:{data / 'appliance.db'}?mode=ro", uri=True) as conn:
        checkins = conn.execute(
            "SELECT nonce, id, result FROM checkin WHERE device_id = ?", (device_id,)
        ).fetchall()
        log = logged_scans(conn, f"event/demo/device/{device_id}")
    return checkins, log


def logged_scans(conn: sqlite3.Connection, prefix: str) -> dict[str, str]:
    """Scan id -> nonce of every scan in the stored device log (snapshot and updates, every shard)."""
    docs = [
        row[0]
        for row in conn.execute(
            "SELECT doc FROM sync_update WHERE doc LIKE ?1"
            " UNION SELECT doc FROM sync_snapshot WHERE doc LIKE ?1",
            (f"{prefix}%",),
        )
    ]
    scans: dict[str, str] = {}
    for name in docs:
        doc: Doc[Any] = Doc()
        for (state,) in conn.execute("SELECT state FROM sync_snapshot WHERE doc = ?", (name,)):
            doc.apply_update(zlib.decompress(state))
        for (update,) in conn.execute(
            "SELECT update_bytes FROM sync_update WHERE doc = ? ORDER BY seq", (name,)
        ):
            doc.apply_update(update)
        scans.update({r.id: r.nonce for r in DeviceLog(doc).records() if isinstance(r, Scan)})
    return scans


def replay_all(url: str, token: str, acked: dict[str, tuple[dict[str, Any], dict[str, Any]]]) -> list[str]:
    """Retry every acknowledged scan with its nonce; what did not replay the first answer."""

    def retry(item: tuple[str, tuple[dict[str, Any], dict[str, Any]]]) -> str | None:
        nonce, (body, first) = item
        response = http.post("/api/v1/scans", json=body)
        got = response.json()
        if response.status_code != 200 or not got["replayed"]:
            return f"{nonce}: {response.status_code} {got}"
        if [got[k] for k in ("scan_id", "result", "reason")] != [
            first[k] for k in ("scan_id", "result", "reason")
        ]:
            return f"{nonce}: replayed {got}, first answer {first}"
        return None

    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=10) as http, ThreadPoolExecutor(LANES) as pool:
        return [wrong for wrong in pool.map(retry, acked.items()) if wrong]


@pytest.mark.slow
def test_acknowledged_scans_survive_kill_9_under_a_scan_storm(tmp_path: Path) -> None:
    data = tmp_path / "box"
    konferenco("demo", "seed", "--data", str(data), "--attendees", "300")
    konferenco("appliance", "badges", "--data", str(data), "--out", str(tmp_path / "badges.csv"))
    with (tmp_path / "badges.csv").open(newline="", encoding="utf-8") as f:
        badges = [row["badge_code"] for row in csv.DictReader(f)]
    assert len(badges) == 300
    token = konferenco("appliance", "issue-token", "--data", str(data), "--role", "door").stdout.strip()

    rng = random.Random()
    server = ApplianceProcess(data).start()
    try:
        device_id = httpx.get(f"{server.url}/healthz").json()["device_id"]
        stop, tally = threading.Event(), Tally(url=server.url)
        acked_at_kills = []
        with ThreadPoolExecutor(LANES) as pool:
            lanes = [pool.submit(lane, token, badges, n, stop, tally) for n in range(LANES)]
            try:
                for _ in range(KILLS):
                    time.sleep(rng.uniform(0.5, 2.0))
                    acked_at_kills.append(tally.count())
                    server.kill()
                    server = restart(data, server.port)
                    tally.url = server.url
                time.sleep(0.3)  # the lanes get answers for the scans they were retrying
            finally:
                stop.set()
            for done in lanes:
                done.result()  # a lane that crashed fails the test
        assert not tally.unexpected, f"non-200 answers: {tally.unexpected[:5]}"
        # the storm ran before every kill, and the kills cut requests off
        assert acked_at_kills[0] >= 10, acked_at_kills
        assert all(b > a for a, b in itertools.pairwise(acked_at_kills)), acked_at_kills
        assert tally.connection_errors > 0
        acked = dict(tally.acked)

        checkins, log = stored_scans(data, device_id)
        twice = [nonce for nonce, n in Counter(nonce for nonce, _, _ in checkins).items() if n > 1]
        assert not twice, f"nonces recorded twice: {twice[:5]}"
        assert len(set(log.values())) == len(log), "a nonce is twice in the device log"
        by_nonce = {nonce: (scan_id, result) for nonce, scan_id, result in checkins}
        lost = [n for n in acked if n not in by_nonce]
        assert not lost, f"{len(lost)} of {len(acked)} acknowledged scans lost, e.g. {lost[:5]}"
        changed = [n for n, (_, a) in acked.items() if by_nonce[n] != (a["scan_id"], a["result"])]
        assert not changed, f"stored scan differs from the acknowledged answer: {changed[:5]}"
        not_logged = [n for n, (_, a) in acked.items() if log.get(a["scan_id"]) != n]
        assert not not_logged, f"acknowledged scans missing from the device log: {not_logged[:5]}"

        wrong = replay_all(server.url, token, acked)
        assert not wrong, f"{len(wrong)} retries did not replay the first answer, e.g. {wrong[:3]}"
        # the retries were answered from the log, not recorded again
        assert len(stored_scans(data, device_id)[0]) == len(checkins)
    finally:
        server.stop()
