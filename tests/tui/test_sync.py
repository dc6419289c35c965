"""The sync section: a standalone box says "not configured" and what no hub holds yet, in words."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from tests.tui.conftest import FIXED_NOW, Venue, sign_in, staff_app, wait_until
from tests.tui.test_devices import FixedLan


def said(app: Any, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).content)


def overview(venue: Venue) -> dict[str, Any]:
    return dict(venue.desk("GET", "/api/v1/overview").json())


async def open_sync(pilot: Pilot[Any], venue: Venue, role: str = "desk") -> None:
    await sign_in(pilot, venue, role)
    await pilot.press("f6")
    await wait_until(pilot, lambda: pilot.app.current_mode == "sync", "the sync section")


def documents(app: Any) -> dict[str, str]:
    """The unacknowledged table: changes per document, as shown."""
    table = app.screen.query_one("#unacked", DataTable)
    return {str(row[0]): str(row[1]) for row in (table.get_row_at(i) for i in range(table.row_count))}


# --- snapshots ------------------------------------------------------------------------------------


class FixedSync(FixedLan):
    """The real overview with fixed sync figures: how many changes a fresh box logs depends on timing.

    The document of the box's own log keeps its real name (the device id), which the screen
    must say as "this appliance" for the snapshot to hold.
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if request.url.path != "/api/v1/overview":
            return response
        body = json.loads(await response.aread())
        at = int(self.now[0] * 1000)
        own = f"event/demo/device/{body['device_id']}"
        body["at"] = at
        body["hub"].update(
            unacknowledged=5,
            oldest_unacknowledged_age_s=150.0,
            by_document=[
                {"document": "event/demo/control", "count": 3, "oldest_age_s": 150.0},
                {"document": own, "count": 2, "oldest_age_s": 90.0},
            ],
        )
        body["catalog"] = [
            {"event": "demo", "revision": 1, "imported_at": at - 3 * 3_600_000, "attendees": 60}
        ]
        return httpx.Response(200, json=body, request=request)


def _snapshot_app(venue: Venue) -> tuple[Any, Any]:
    """Fixed sync figures and LAN (see :class:`FixedSync`) read by a fixed clock."""
    app = staff_app(venue, clock=lambda: FIXED_NOW, label="appliance", transport=FixedSync([FIXED_NOW]))

    async def run_before(pilot: Pilot[Any]) -> None:
        await open_sync(pilot, venue)
        await wait_until(pilot, lambda: "2 min ago" in said(app, "#unacked-summary"), "the figures")

    return app, run_before


def test_snapshot_sync_wide(venue: Venue, snap_compare: Any) -> None:
    app, run_before = _snapshot_app(venue)
    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_snapshot_sync_narrow(venue: Venue, snap_compare: Any) -> None:
    app, run_before = _snapshot_app(venue)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


# --- behaviour -----------------------------------------------------------------------------------


async def test_the_hub_is_not_configured_and_the_unacknowledged_count_is_the_appliances(venue: Venue) -> None:
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_sync(pilot, venue, "door")
        await wait_until(pilot, lambda: "not configured" in said(app, "#hub"), "the hub's state")
        assert "works alone" in said(app, "#hub")
        venue.desk(
            "POST",
            "/api/v1/scans",
            json={"code": venue.take()["badge_code"], "gate": "south", "nonce": uuid.uuid4().hex},
        )
        seen = overview(venue)
        hub, own = seen["hub"], f"/device/{seen['device_id']}"
        assert hub["state"] == "not_configured" and hub["unacknowledged"] > 0
        await pilot.press("r")
        expected = {
            d["document"].replace(own, ": this appliance's log"): str(d["count"]) for d in hub["by_document"]
        }
        assert "event/demo: this appliance's log" in expected
        await wait_until(pilot, lambda: documents(app) == expected, "the counts per document")
        assert f"{hub['unacknowledged']} changes not acknowledged" in said(app, "#unacked-summary")
        catalog = overview(venue)["catalog"][0]
        assert f"revision {catalog['revision']}, {catalog['attendees']} attendees" in said(app, "#catalog")
        assert "syncs with no other box" in said(app, "#upstreams-none")


async def test_a_scan_grows_the_count_on_the_next_refresh(venue: Venue) -> None:
    app = staff_app(venue)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_sync(pilot, venue)
        await wait_until(pilot, lambda: "not acknowledged" in said(app, "#unacked-summary"), "the count")
        before = overview(venue)["hub"]["unacknowledged"]
        response = venue.desk(
            "POST",
            "/api/v1/scans",
            json={"code": venue.take()["badge_code"], "gate": "south", "nonce": uuid.uuid4().hex},
        )
        assert response.status_code == 200, response.text
        after = overview(venue)["hub"]["unacknowledged"]
        assert after > before
        await wait_until(
            pilot,
            lambda: f"{after} changes" in said(app, "#unacked-summary"),
            "the 5 s refresh to show it",
            15,
        )


class HubAway(FixedLan):
    """The real overview, as an enrolled box whose hub stopped answering would report it."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if request.url.path != "/api/v1/overview":
            return response
        body = json.loads(await response.aread())
        body["hub"].update(
            state="not_connected",
            url="https://hub.example.org",
            documents_synced=1,
            documents=3,
            last_error="connection refused",
            last_acknowledged_at=int((self.now[0] - 600) * 1000),
        )
        body["upstreams"] = [
            {
                "url": "http://192.0.2.9:8080",
                "peer": "north-door",
                "state": "refused",
                "last_error": "certificate of another event",
                "unacknowledged": 4,
            }
        ]
        return httpx.Response(200, json=body, request=request)


async def test_a_hub_that_does_not_answer_and_a_refused_upstream_are_said_in_words(venue: Venue) -> None:
    app = staff_app(venue, clock=lambda: FIXED_NOW, transport=HubAway([FIXED_NOW]))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_sync(pilot, venue)
        await wait_until(pilot, lambda: "not connected" in said(app, "#hub"), "the hub's state")
        hub = said(app, "#hub")
        assert "✖ not connected" in hub and "the hub does not answer" in hub
        assert "1 of 3 documents in sync" in hub and "Last acknowledged: 10 min ago" in hub
        assert "✖ Last error: connection refused" in hub
        upstreams = app.screen.query_one("#upstreams", DataTable)
        row = [str(getattr(c, "plain", c)) for c in upstreams.get_row_at(0)]
        assert row == ["north-door (http://192.0.2.9:8080)", "✖ refused", "4", "certificate of another event"]
        peers = app.screen.query_one("#peers", DataTable)
        assert "✔ proved it belongs" in str(getattr(peers.get_row_at(0)[3], "plain", ""))
