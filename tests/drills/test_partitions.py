"""Drill: a day of flaky uplinks between three appliances and the hub.

Three enrolled appliances reach the hub each through a :class:`Link` the
drill controls.  Over a simulated day (twelve "hours", the scans' device
time running from 07:00 to 19:00 instead of waiting for it), every box scans
badges from one shared roster, so the same person is often admitted at two
boxes that could not see each other: offline duplicates.  Every "hour" each
link is cut, made slow and lossy (chunks held, connections reset
mid-stream), or left alone, at random.

Then the links are restored and nobody touches anything.  Every scan a door
was answered 200 for must be on every box and at the hub (0 lost), every
replica must hold the same set of scans, and every replica must flag the
same duplicates: exactly the admissions after the earliest of each person.
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

from tests.drills.proxy import Links
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
from tests.helpers import Box, HubProcess, scratch_database, wait_for

BOXES = 3
HOURS = 12
SCANS_PER_HOUR = 110  # per box: 1,320 scans each over the day
ROSTER = 300


@dataclass
class Venue:
    database_url: str
    hub: HubProcess
    organizer: Organizer
    boxes: list[Box]
    links: Links
    codes: dict[str, str]  # badge code -> attendee id
    acked: dict[str, Scanned] = field(default_factory=dict)  # scan id -> scan
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[Venue]:
    with scratch_database("kf_drill") as url:
        create_organization(url)
        hub = HubProcess(url, tmp_path / "secrets")
        boxes: list[Box] = []
        links: Links | None = None
        try:
            hub.start()
            organizer = create_event(sign_in(hub.url), attendees=ROSTER)
            with ThreadPoolExecutor(BOXES) as pool:
                boxes = list(
                    pool.map(lambda n: enrol(organizer, tmp_path / f"box{n}", f"box{n}"), range(BOXES))
                )
            links = Links([hub.port] * BOXES)
            for box, link in zip(boxes, links.links, strict=True):
                point_at(box, link.url)
            codes = {b.code: b.attendee_id for b in organizer.badges()}
            yield Venue(url, hub, organizer, boxes, links, codes)
        finally:
            for box in boxes:
                box.process.stop()
            if links is not None:
                links.close()
            hub.stop()


def start_all(boxes: list[Box]) -> None:
    with ThreadPoolExecutor(len(boxes)) as pool:
        list(pool.map(lambda box: box.process.start(), boxes))


def stop_all(boxes: list[Box]) -> None:
    with ThreadPoolExecutor(len(boxes)) as pool:
        list(pool.map(lambda box: box.process.stop(), boxes))


def scan_ids_at_hub(venue: Venue) -> set[str]:
    return hub_scan_ids(venue.database_url, venue.organizer.event_id)


def the_day(venue: Venue, rng: random.Random) -> dict[str, int]:
    """Twelve hours of scanning with the links cut, degraded or fine at random; what happened."""
    codes = sorted(venue.codes)
    happened = {"cut": 0, "degraded": 0, "fine": 0}
    for hour in range(HOURS):
        for n, link in enumerate(venue.links.links):
            # Each link is cut at least every third hour; otherwise pot luck.
            kind = "cut" if hour % BOXES == n else rng.choice(["cut", "degraded", "fine"])
            happened[kind] += 1
            if kind == "cut":
                link.cut()
            elif kind == "degraded":
                link.degrade(delay=rng.uniform(0.02, 0.2), drop=rng.uniform(0.01, 0.05))
            else:
                link.restore()

        def lane(n: int, hour: int = hour) -> None:
            box = venue.boxes[n]
            with httpx.Client(headers={"Authorization": f"Bearer {box.token}"}, timeout=15) as http:
                for i in range(SCANS_PER_HOUR):
                    device_time = DAY + hour * HOUR_MS + i * HOUR_MS // SCANS_PER_HOUR
                    scan(venue, box, http, rng.choice(codes), f"{box.device_id}-{hour}-{i}", device_time)

        with ThreadPoolExecutor(BOXES) as pool:
            list(pool.map(lane, range(BOXES)))
        # A cut link is a real partition: the hub has nothing of that box's hour.
        cut = {venue.boxes[n].device_id for n, link in enumerate(venue.links.links) if not link.state.up}
        this_hour = {
            i for i, s in venue.acked.items() if s.box in cut and s.nonce.startswith(f"{s.box}-{hour}-")
        }
        leaked = this_hour & scan_ids_at_hub(venue)
        assert this_hour and not leaked, f"hour {hour}: {len(leaked)} scans crossed a cut link"
    return happened


@pytest.mark.slow
def test_a_day_of_partitions_converges_with_nothing_lost_and_every_duplicate_flagged(venue: Venue) -> None:
    rng = random.Random(18)
    boxes = venue.boxes
    # Morning: every box connects once and makes its log known to the hub, then starts again,
    # so each lists the other boxes' logs from the first minute rather than on a later refresh.
    start_all(boxes)
    codes = sorted(venue.codes)
    with httpx.Client(timeout=15) as http:
        for n, box in enumerate(boxes):
            http.headers["Authorization"] = f"Bearer {box.token}"
            scan(venue, box, http, codes[n], f"{box.device_id}-morning", DAY)
    wait_for(
        lambda: len(scan_ids_at_hub(venue)) == BOXES, timeout=60, what="each box's first scan at the hub"
    )
    stop_all(boxes)
    start_all(boxes)

    happened = the_day(venue, rng)
    assert happened["cut"] >= HOURS and happened["degraded"] > 0, happened
    assert all(link.resets > 0 for link in venue.links.links), "every link must have broken connections"

    for link in venue.links.links:  # evening: the uplinks are back, nobody touches anything
        link.restore()
    acked = dict(venue.acked)
    assert len(acked) == BOXES * (HOURS * SCANS_PER_HOUR + 1)
    everything = set(acked)

    def converged() -> bool:
        return scan_ids_at_hub(venue) == everything and all(scan_ids_on_box(b) == everything for b in boxes)

    try:
        wait_for(converged, timeout=120, interval=0.5, what="every box and the hub holding every scan")
    except TimeoutError:
        hub_ids, on_boxes = scan_ids_at_hub(venue), [scan_ids_on_box(b) for b in boxes]
        missing = {
            "hub": len(everything - hub_ids),
            **{b.device_id: len(everything - s) for b, s in zip(boxes, on_boxes, strict=True)},
        }
        raise AssertionError(f"acknowledged scans missing after the links came back: {missing}") from None

    # Every replica flags the same duplicates: exactly the admissions after each person's first.
    expected = expected_duplicates(acked)
    assert len(expected) > 0, "the partitions produced no offline duplicate: the drill proves nothing"
    at_hub = flagged(venue.organizer.duplicates())
    assert at_hub == expected, (
        f"hub: {len(at_hub - expected)} flagged wrongly, {len(expected - at_hub)} missed"
    )
    for box in boxes:
        on_box = flagged(box.get("/api/v1/duplicates")["duplicates"])
        assert on_box == expected, (
            f"{box.device_id}: {len(on_box - expected)} flagged wrongly, {len(expected - on_box)} missed"
        )
