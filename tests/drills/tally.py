"""What the drills count: every scan a door was answered for, and where it must end up.

The partition drill (proxy) and the lossy-uplink drill (network namespaces)
both scan through real boxes, keep what each door was told, and then require
every replica to hold exactly those scans and to flag exactly the duplicates
the "earliest admission wins" rule implies.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
import httpx

from tests.helpers import Box

#: The simulated day starts at 07:00; scans carry device times across it instead of waiting.
DAY = int(dt.datetime(2026, 6, 3, 7, tzinfo=dt.UTC).timestamp() * 1000)
HOUR_MS = 3_600_000


@dataclass
class Scanned:
    """One acknowledged scan: where, which nonce, and what the door was told."""

    box: str
    nonce: str
    scan_id: str
    result: str
    attendee: str
    at: int


class Tally(Protocol):
    """Where a drill keeps what the doors were told: the scans every replica must end up holding."""

    codes: dict[str, str]  # badge code -> attendee id
    acked: dict[str, Scanned]  # scan id -> scan
    lock: threading.Lock


def scan(venue: Tally, box: Box, http: httpx.Client, code: str, nonce: str, device_time: int) -> None:
    """One scan at a box's door, kept in the tally once the door has answered it (200)."""
    body = {"code": code, "nonce": nonce, "gate": "main", "device_time": device_time}
    response = http.post(f"{box.process.url}/api/v1/scans", json=body)
    assert response.status_code == 200, response.text  # the door never depends on the uplink
    answer = response.json()
    with venue.lock:
        venue.acked[answer["scan_id"]] = Scanned(
            box.device_id, nonce, answer["scan_id"], answer["result"], venue.codes[code], answer["at"]
        )


def scan_ids_on_box(box: Box) -> set[str]:
    with sqlite3.connect(f"file:{box.data / 'appliance.db'}?mode=ro", uri=True, timeout=10) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM checkin")}


def hub_scan_ids(database_url: str, event_id: str) -> set[str]:
    """The ids of the scans the hub projected for an event, read from its PostgreSQL."""

    async def query() -> set[str]:
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch("SELECT id FROM checkin_scan WHERE event_id = $1", event_id)
        finally:
            await conn.close()
        return {row["id"] for row in rows}

    return asyncio.run(query())


def flagged(duplicates: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(d["first"]["scan_id"], d["duplicate"]["scan_id"]) for d in duplicates}


def expected_duplicates(acked: dict[str, Scanned]) -> set[tuple[str, str]]:
    """Per person, the earliest admission wins and every later one is flagged (entries only)."""
    admitted: dict[str, list[Scanned]] = defaultdict(list)
    for s in acked.values():
        if s.result == "admitted":
            admitted[s.attendee].append(s)
    pairs: set[tuple[str, str]] = set()
    for scans in admitted.values():
        first, *later = sorted(scans, key=lambda s: (s.at, s.box, s.scan_id))
        pairs.update((first.scan_id, s.scan_id) for s in later)
    return pairs
