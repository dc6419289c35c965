"""Several hub workers are one hub: an update one worker receives reaches peers of the others.

Two ``konferenco hub serve`` processes on two ports share one database and
one secrets directory — what ``--workers 2`` does, but with each worker's
address known, so the test can connect appliance A to the first and
appliance B to the second.  A scan at A travels A → hub 1 → PostgreSQL
(stored, then ``NOTIFY``) → hub 2 → B, and B refuses the badge as already
admitted at A.  A last test runs the real ``--workers 2`` and checks both
workers answer and the hub stops cleanly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.hub_setup import Box, Organizer, TwoHubs, two_hubs
from tests.helpers import HubProcess, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def hubs(hub_db: str, tmp_path: Path) -> Iterator[TwoHubs]:
    with two_hubs(hub_db, tmp_path) as setup:
        yield setup


def scans_at(box: Box) -> int:
    return int(box.get("/api/v1/stats")["scans"])


def join_through_hub_2(hubs: TwoHubs) -> dict[str, object]:
    """A admits someone; B starts, synced with hub 2, and sees it: hub 2 now serves A's log from memory."""
    a, b = hubs.a, hubs.b
    a.process.start()
    admitted = a.scan(hubs.badges[0].code, "main")
    assert admitted["result"] == "admitted"
    wait_for(lambda: hubs.organizer.dashboard()["scans"] == 1, what="A's scan stored by hub 1")
    b.process.start()
    wait_for(lambda: scans_at(b) == 1, what="A's first scan at B, loaded by hub 2 from the database")
    return admitted


def test_a_scan_received_by_one_worker_reaches_an_appliance_synced_with_the_other(hubs: TwoHubs) -> None:
    join_through_hub_2(hubs)
    a, b = hubs.a, hubs.b
    admitted = a.scan(hubs.badges[1].code, "main")  # only the fan-out can bring this one to hub 2
    assert admitted["result"] == "admitted"
    wait_for(lambda: scans_at(b) == 2, timeout=10, what="A's second scan at B, through hub 2")
    again = b.scan(hubs.badges[1].code, "main")
    assert again["result"] == "already_admitted", again
    assert again["first_admitted"] == {"at": admitted["at"], "gate": "main", "device_id": a.device_id}


def test_the_device_list_shows_a_device_connected_whichever_worker_answers(hubs: TwoHubs) -> None:
    b, organizer = hubs.b, hubs.organizer
    b.process.start()
    through_hub_2 = Organizer(hubs.hubs[1].url, organizer.token, organizer.event_id)
    wait_for(lambda: through_hub_2.devices()[b.device_id]["connected"], what="B connected to hub 2")
    assert organizer.devices()[b.device_id]["connected"], "hub 1 lists B, synced with hub 2, as disconnected"


def test_serve_with_two_workers_answers_from_both_and_stops_cleanly(hub_db: str, tmp_path: Path) -> None:
    hub = HubProcess(hub_db, tmp_path / "secrets", workers=2)
    hub.start()
    try:
        workers: set[str] = set()

        def both_answered() -> bool:
            response = httpx.get(f"{hub.url}/healthz", timeout=5)  # a new connection every time
            assert response.status_code == 200, response.text
            workers.add(response.json()["worker"])
            return len(workers) == 2

        wait_for(both_answered, timeout=20, interval=0.05, what="both workers answering /healthz")
    finally:
        hub.stop()
    assert hub.proc is not None and hub.proc.returncode == 0, hub.log.read_text()
    log = hub.log.read_text()
    assert "Traceback" not in log and "shutdown failed" not in log, log
