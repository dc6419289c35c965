"""Drill: two boxes behind a real lossy, slow, flapping uplink (network namespaces, nftables, HTB).

The partition drill (``test_partitions.py``) cuts links with a proxy, which
controls exactly when a link is up.  This one puts each box in a network
namespace of its own, joined to the host by a veth pair, and lets the kernel
drop and queue the packets between box and hub (tests/drills/netns.py): TCP
retransmits, WebSocket pings time out, connections stall half-open, as on a
venue's overloaded Wi-Fi.  Over a simulated day each uplink is cut (100 %
loss) or lossy (5-20 % loss on a 128-1024 kbit/s line), and the boxes scan
people from one roster, so offline duplicates happen.  At the end the
uplinks are left lossy (not clean): every acknowledged scan must reach the
hub and the other box, and every replica must flag the same duplicates.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.drills.netns import Namespace, available
from tests.drills.tally import (
    DAY,
    HOUR_MS,
    Scanned,
    expected_duplicates,
    flagged,
    hub_scan_ids,
    scan,
    scan_ids_on_box,
)
from tests.e2e.hub_setup import Organizer, create_event, create_organization, enrol, point_at, sign_in
from tests.helpers import ApplianceProcess, Box, HubProcess, scratch_database, wait_for

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

ROUNDS = 8
SCANS_PER_ROUND = 50  # per box
ROSTER = 120


class NamespacedAppliance(ApplianceProcess):
    """``appliance serve`` inside a namespace, answering on its veth address."""

    def __init__(self, data: Path, ns: Namespace) -> None:
        super().__init__(data, None, "--host", ns.ns_ip)
        self.ns = ns

    @property
    def url(self) -> str:
        return f"http://{self.ns.ns_ip}:{self.port}"

    def launcher(self) -> list[str]:
        return self.ns.exec_prefix


@dataclass
class Uplinks:
    database_url: str
    hub: HubProcess
    organizer: Organizer
    boxes: list[Box]
    spaces: list[Namespace]
    codes: dict[str, str]
    acked: dict[str, Scanned] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def uplinks(tmp_path: Path) -> Iterator[Uplinks]:
    with scratch_database("kf_netem") as url:
        create_organization(url)
        hub = HubProcess(url, tmp_path / "secrets", None, "--host", "0.0.0.0")  # reachable over the veths
        spaces: list[Namespace] = []
        boxes: list[Box] = []
        try:
            hub.start()
            organizer = create_event(sign_in(hub.url), attendees=ROSTER)
            for n in range(2):
                ns = Namespace.create(hub.port)
                spaces.append(ns)
                box = enrol(organizer, tmp_path / f"box{n}", f"box{n}")
                point_at(box, f"http://{ns.host_ip}:{hub.port}")
                box.process = NamespacedAppliance(box.data, ns)
                boxes.append(box)
            codes = {b.code: b.attendee_id for b in organizer.badges()}
            yield Uplinks(url, hub, organizer, boxes, spaces, codes)
        finally:
            for box in boxes:
                box.process.stop()
            for ns in spaces:
                ns.close()
            hub.stop()


def _at_hub(up: Uplinks) -> set[str]:
    return hub_scan_ids(up.database_url, up.organizer.event_id)


@pytest.mark.slow
def test_a_lossy_flapping_uplink_loses_nothing_and_flags_every_duplicate(uplinks: Uplinks) -> None:
    up, rng = uplinks, random.Random(1818)
    for ns in up.spaces:
        ns.shape(rate_kbit=512, loss_pct=8)
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda box: box.process.start(), up.boxes))
    codes = sorted(up.codes)
    happened = {"cut": 0, "lossy": 0}
    for hour in range(ROUNDS):
        for n, ns in enumerate(up.spaces):
            if hour % 2 == n or rng.random() < 0.3:
                ns.cut()
                happened["cut"] += 1
            else:
                ns.shape(rate_kbit=rng.choice([128, 256, 512, 1024]), loss_pct=rng.uniform(5, 20))
                happened["lossy"] += 1

        def lane(n: int, hour: int = hour) -> None:
            box = up.boxes[n]
            with httpx.Client(headers={"Authorization": f"Bearer {box.token}"}, timeout=15) as http:
                for i in range(SCANS_PER_ROUND):
                    device_time = DAY + hour * HOUR_MS + i * HOUR_MS // SCANS_PER_ROUND
                    scan(up, box, http, rng.choice(codes), f"{box.device_id}-{hour}-{i}", device_time)

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lane, range(2)))
        # A cut uplink is a real partition: the hub has nothing of that box's round.
        cut = {up.boxes[n].device_id for n, ns in enumerate(up.spaces) if ns.loss_pct >= 100}
        this_round = {
            i for i, s in up.acked.items() if s.box in cut and s.nonce.startswith(f"{s.box}-{hour}-")
        }
        assert not this_round & _at_hub(up), f"round {hour}: scans crossed a cut uplink"
    assert happened["cut"] >= ROUNDS and happened["lossy"] > 0, happened

    for ns in up.spaces:  # evening: the uplinks are back, but still lossy and slow
        ns.shape(rate_kbit=256, loss_pct=10)
    everything = set(up.acked)
    assert len(everything) == 2 * ROUNDS * SCANS_PER_ROUND

    def converged() -> bool:
        return _at_hub(up) == everything and all(scan_ids_on_box(b) == everything for b in up.boxes)

    try:
        wait_for(converged, timeout=180, interval=1, what="both boxes and the hub holding every scan")
    except TimeoutError:
        missing = {"hub": len(everything - _at_hub(up))} | {
            b.device_id: len(everything - scan_ids_on_box(b)) for b in up.boxes
        }
        raise AssertionError(f"acknowledged scans missing over the lossy uplinks: {missing}") from None

    dropped = [ns.packets_dropped() for ns in up.spaces]  # (while lossy, while cut) per uplink
    assert all(lossy > 0 and cut > 0 for lossy, cut in dropped), f"nothing was lost: {dropped}"
    expected = expected_duplicates(up.acked)
    assert expected, "no offline duplicate happened: the drill proves nothing"
    assert flagged(up.organizer.duplicates()) == expected
    for box in up.boxes:
        assert flagged(box.get("/api/v1/duplicates")["duplicates"]) == expected, box.device_id
