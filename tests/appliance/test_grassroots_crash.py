"""An acknowledged proposal survives ``kill -9`` of the appliance right after its 201.

A real ``konferenco appliance serve`` takes proposals from two kiosk lanes
(the attendees' real badge codes) and is killed with SIGKILL while they
come in, twice, restarting on the same data directory.  Every proposal the
kiosk was told about (201, with its reference) must be listed after the
restart, with that reference, in the projection and in the device log; a
lane whose request was cut off retries with the same nonce and is answered
the first proposal, never a second one.
"""

from __future__ import annotations

import csv
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import ApplianceProcess, konferenco

LANES = 2
KILLS = 2


def seed(root: Path) -> tuple[Path, list[str], dict[str, str]]:
    data = root / "data"
    konferenco("demo", "seed", "--data", str(data), "--attendees", "30", "--seed", "3")
    konferenco("appliance", "badges", "--data", str(data), "--out", str(root / "badges.csv"))
    with (root / "badges.csv").open(encoding="utf-8", newline="") as f:
        # Day passes are valid on their day only: a lane proposes with badges valid all event long.
        codes = [row["badge_code"] for row in csv.DictReader(f) if row["ticket_type"] != "Day pass"]
    tokens = {
        role: konferenco("appliance", "issue-token", "--data", str(data), "--role", role).stdout.strip()
        for role in ("kiosk", "organizer")
    }
    return data, codes, tokens


def lane(
    url: list[str],
    token: str,
    codes: list[str],
    n: int,
    stop: threading.Event,
    acked: dict[str, Any],
    unexpected: list[str],
) -> None:
    """One kiosk: propose, and after a lost connection retry the same nonce until answered."""
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=5) as http:
        i = 0
        while not stop.is_set():
            key = f"lane{n}-{i}"
            body: dict[str, Any] = {
                "badge": {"code": codes[(i * LANES + n) % len(codes)]},
                "title": f"Lane {n} session {i}",
                "duration_min": 30,
                "nonce": key,
            }
            i += 1
            while not stop.is_set():
                try:
                    response = http.post(f"{url[0]}/api/v1/proposals", json=body)
                except httpx.TransportError:
                    time.sleep(0.02)
                    continue
                if response.status_code in (200, 201):
                    acked[key] = response.json()
                else:
                    unexpected.append(f"{response.status_code} {response.text[:300]}")
                break


def test_every_acknowledged_proposal_survives_kill_9(tmp_path: Path) -> None:
    data, codes, tokens = seed(tmp_path)
    server = ApplianceProcess(data).start()
    url = [server.url]
    try:
        with httpx.Client(headers={"Authorization": f"Bearer {tokens['organizer']}"}, timeout=10) as org:
            response = org.put(
                f"{server.url}/api/v1/schedule/settings",
                json={"grassroots": {"enabled": True, "max_open_per_attendee": 100}},
            )
            assert response.status_code == 200, response.text
        acked: dict[str, Any] = {}
        unexpected: list[str] = []
        stop = threading.Event()
        threads = [
            threading.Thread(target=lane, args=(url, tokens["kiosk"], codes, n, stop, acked, unexpected))
            for n in range(LANES)
        ]
        for t in threads:
            t.start()
        try:
            for _ in range(KILLS):
                seen = len(acked)
                deadline = time.monotonic() + 20
                while len(acked) < seen + 5 and time.monotonic() < deadline:
                    time.sleep(0.01)
                server.kill()  # right after a 201: the lanes are mid-request most of the time
                server = ApplianceProcess(data, server.port).start()
                url[0] = server.url
            time.sleep(0.3)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
        assert unexpected == []
        assert len(acked) >= KILLS * 5
        with httpx.Client(headers={"Authorization": f"Bearer {tokens['organizer']}"}, timeout=30) as org:
            listed = org.get(f"{server.url}/api/v1/proposals", params={"status": "all"})
        assert listed.status_code == 200, listed.text
        found = {p["proposal_id"]: p for p in listed.json()["proposals"]}
        for key, answer in acked.items():
            assert answer["proposal_id"] == key
            assert key in found, f"proposal {key} ({answer['ref']}) was acknowledged and then lost"
            assert found[key]["ref"] == answer["ref"]
            assert found[key]["title"] == answer["title"]
        assert len(found) == len({p["proposal_id"] for p in found.values()})
    finally:
        server.stop()
    with sqlite3.connect(f"file:{data / 'appliance.db'}?mode=ro", uri=True) as conn:
        logged = {
            r[0]
            for r in conn.execute(
                "SELECT json_extract(body, '$.proposal_id') FROM sync_record WHERE kind = 'proposal'"
            )
        }
        projected = {r[0] for r in conn.execute("SELECT proposal_id FROM grassroots_proposal")}
    assert set(acked) <= logged
    assert logged == projected
