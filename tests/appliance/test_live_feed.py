"""The live feed (``GET /api/v1/live``) on a real appliance, and the page loader that mounts the kiosk.

A kiosk page follows its badge from ``queued`` to ``done`` over Server-Sent
Events with nothing but its cookie; without credentials the feed answers
401, and the cookie opens no other route.  In-process: a subscriber that
never reads loses its oldest events and never holds up the publisher; a
broken page entry point is skipped and the good ones still load.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from typing import Any

import httpx
import pytest
from litestar import get

from appliance.live import QUEUE_SIZE, LiveFeed
from appliance.pages import GROUP, load_pages
from konferenco.types import new_id
from tests.appliance.kiosk_support import KioskCorner, kiosk_corner


@pytest.fixture(scope="module")
def corner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KioskCorner]:
    with kiosk_corner(tmp_path_factory.mktemp("live"), attendees=10) as made:
        yield made


def _events(lines: Iterator[str], until: Any, deadline_s: float = 20) -> list[tuple[str, Any]]:
    """SSE ``(event, data)`` pairs read until ``until(pair)`` is true."""
    got: list[tuple[str, Any]] = []
    event = ""
    deadline = time.monotonic() + deadline_s
    for line in lines:
        assert time.monotonic() < deadline, got
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event:
            got.append((event, json.loads(line[6:])))
            event = ""
            if until(got[-1]):
                return got
    raise AssertionError(f"stream ended: {got}")


def test_a_kiosk_with_its_cookie_sees_its_badge_go_from_queued_to_done(corner: KioskCorner) -> None:
    printer = corner.printer()
    try:
        row = corner.take()
        grant = corner.identify(row)["grant"]
        cookie = {"Cookie": f"konferenco_kiosk={corner.kiosk_token}"}
        with httpx.stream(
            "GET", f"{corner.url}/api/v1/live", params={"topics": "print,scan"}, headers=cookie, timeout=20
        ) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            answer = corner.kiosk(
                "POST", "/api/v1/kiosk/checkins", json={"grant": grant, "nonce": f"t-{new_id()}"}
            )
            assert answer.status_code == 200, answer.text
            job_id = answer.json()["job"]["id"]
            got = _events(stream.iter_lines(), lambda e: e[0] == "print" and e[1]["status"] == "done")
        scans = [data for kind, data in got if kind == "scan"]
        assert scans and scans[0]["attendee_id"] == row["attendee_id"] and scans[0]["gate"] == "kiosk"
        assert set(scans[0]) >= {"scan_id", "result", "gate", "attendee_id", "at"}
        statuses = [data["status"] for kind, data in got if kind == "print" and data["id"] == job_id]
        assert statuses == ["queued", "printing", "done"]
    finally:
        printer.stop()


def test_the_feed_needs_credentials_and_the_cookie_opens_no_other_route(corner: KioskCorner) -> None:
    assert httpx.get(f"{corner.url}/api/v1/live", timeout=5).status_code == 401
    forged = {"Cookie": "konferenco_kiosk=ks1.forged.token"}
    assert httpx.get(f"{corner.url}/api/v1/live", headers=forged, timeout=5).status_code == 401
    cookie = {"Cookie": f"konferenco_kiosk={corner.kiosk_token}"}
    assert httpx.get(f"{corner.url}/api/v1/print-jobs", headers=cookie, timeout=5).status_code == 401
    assert httpx.get(f"{corner.url}/api/v1/kiosk/status", headers=cookie, timeout=5).status_code == 401
    typo = httpx.get(f"{corner.url}/api/v1/live", params={"topics": "prnt"}, headers=cookie, timeout=5)
    assert typo.status_code == 422 and typo.json()["details"]["field"] == "topics"


async def test_a_subscriber_that_never_reads_loses_its_oldest_events_not_the_publisher_time() -> None:
    feed = LiveFeed()
    with feed.subscribe({"print"}) as slow, feed.subscribe({"scan"}) as other:
        started = time.perf_counter()
        for n in range(QUEUE_SIZE + 44):
            feed.publish("print", {"n": n})
        assert time.perf_counter() - started < 0.5  # publishing never waited for the reader
        assert slow.dropped == 44
        first = await slow.get(0.1)
        assert first is not None and json.loads(first[1]) == {"n": 44}  # the oldest went first
        assert await other.get(0.01) is None  # topics it did not ask for never reach it
    assert feed.subscribers == 0


@get("/kiosk-test-page", sync_to_thread=False)
def _page() -> str:
    return "hello"


def good_pages() -> list[Any]:
    return [_page]


def not_pages() -> list[Any]:
    return ["not a route handler"]


def test_a_broken_page_entry_point_is_skipped_and_the_good_ones_load(
    caplog: pytest.LogCaptureFixture,
) -> None:
    entries = [
        EntryPoint(name="missing", value="kiosk_ui.no_such_module:routes", group=GROUP),
        EntryPoint(name="wrong", value="tests.appliance.test_live_feed:not_pages", group=GROUP),
        EntryPoint(name="good", value="tests.appliance.test_live_feed:good_pages", group=GROUP),
    ]
    with caplog.at_level(logging.ERROR, logger="appliance.pages"):
        loaded = load_pages(entries)
    assert loaded == [_page]
    skipped = {r.getMessage().split("'")[1] for r in caplog.records}
    assert skipped == {"missing", "wrong"}
