"""The devices section: the printer with its state, and its failure shown when it goes away."""

from __future__ import annotations

from typing import Any

import httpx
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from tests.tui.conftest import FIXED_NOW, Venue, sign_in, staff_app, wait_until

PRINTER = "kiosk-printer"


def row_of(app: Any, device_id: str) -> list[str]:
    """The devices table's row of one device as plain text ([] when it is not listed)."""
    table = app.screen.query_one("#devices", DataTable)
    if device_id not in {key.value for key in table.rows}:
        return []
    return [str(getattr(cell, "plain", cell)) for cell in table.get_row(device_id)]


def state_of(venue: Venue, device_id: str) -> dict[str, Any]:
    """What the appliance's overview says of a device now."""
    overview = venue.desk("GET", "/api/v1/overview").json()
    return next(d for d in overview["devices"] if d["id"] == device_id)


async def open_devices(pilot: Pilot[Any], venue: Venue, role: str = "desk") -> None:
    await sign_in(pilot, venue, role)
    await pilot.press("f5")
    await wait_until(pilot, lambda: pilot.app.current_mode == "devices", "the devices section")


async def test_the_printer_is_listed_and_its_failure_shows_after_a_refresh(venue: Venue) -> None:
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_devices(pilot, venue)
        await wait_until(pilot, lambda: "● connected" in row_of(app, PRINTER), "the printer shown connected")
        row = row_of(app, PRINTER)
        assert row[1] == "printer/network" and row[2] == "—"
        assert state_of(venue, PRINTER)["state"] == "connected"
        assert "none failing" in str(app.screen.query_one("#devices-summary", Static).content)

        venue.printer_off()
        try:
            await wait_until(
                pilot, lambda: state_of(venue, PRINTER)["state"] != "connected", "the appliance to notice", 20
            )
            await pilot.press("r")
            await wait_until(pilot, lambda: "✖ disconnected" in row_of(app, PRINTER), "the failure on screen")
            detail = state_of(venue, PRINTER)["detail"]
            assert row_of(app, PRINTER)[5] == detail and "cannot connect" in detail
            assert "✖ 1 of 1 device not working" in str(
                app.screen.query_one("#devices-summary", Static).content
            )
        finally:
            venue.printer_on()
        await wait_until(
            pilot, lambda: "● connected" in row_of(app, PRINTER), "the refresh every 5 s to show it back", 25
        )


async def test_the_door_sees_the_devices_too(venue: Venue) -> None:
    app = staff_app(venue)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_devices(pilot, venue, "door")
        await wait_until(pilot, lambda: bool(row_of(app, PRINTER)), "the printer listed")
        heard = venue.desk("GET", "/api/v1/devices/discovered").json()
        lan = app.screen.query_one("#discovered", DataTable)
        if heard:  # other appliances on this machine's LAN are heard too
            await wait_until(pilot, lambda: lan.row_count >= 1, "what the LAN announces")
        else:
            none = app.screen.query_one("#discovered-none", Static)
            await wait_until(pilot, lambda: "Nothing announced" in str(none.content), "no LAN device said")


class FixedLan(httpx.AsyncHTTPTransport):
    """The real appliance, except what the LAN announces: a fixed printer and peer, heard a minute ago.

    Other test appliances on this machine are heard on the LAN too (mDNS), so a snapshot
    shows a LAN of its own; the functional tests read the real one.
    """

    def __init__(self, now: list[float]) -> None:
        super().__init__()
        self.now = now

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        heard = int((self.now[0] - 60) * 1000)
        if request.url.path == "/api/v1/devices/discovered":
            printer = {"name": "Badge printer 2", "kind": "printer", "host": "192.0.2.7", "port": 9100}
            return httpx.Response(200, json=[{**printer, "last_seen": heard}], request=request)
        if request.url.path == "/api/v1/peers":
            peer = {"device_id": "dev-south-door", "event": "demo", "url": "http://192.0.2.8:8080"}
            answer = [{**peer, "trusted": True, "detail": "certificate of this event", "last_seen": heard}]
            return httpx.Response(200, json=answer, request=request)
        return await super().handle_async_request(request)


def _snapshot_app(venue: Venue) -> tuple[Any, Any]:
    """An app whose clock reads five minutes after the printer's last change (set once it is shown)."""
    now = [FIXED_NOW]
    app = staff_app(venue, clock=lambda: now[0], label="appliance", transport=FixedLan(now))

    async def run_before(pilot: Pilot[Any]) -> None:
        wait_for_state = lambda: state_of(venue, PRINTER)["state"] == "connected"  # noqa: E731
        await wait_until(pilot, wait_for_state, "the printer to be connected", 20)
        await open_devices(pilot, venue)
        await wait_until(pilot, lambda: "● connected" in row_of(app, PRINTER), "the printer shown")
        now[0] = state_of(venue, PRINTER)["since"] / 1000 + 300
        await pilot.press("r")
        await wait_until(pilot, lambda: "5 min ago" in row_of(app, PRINTER), "the fixed age")

    return app, run_before


def test_snapshot_devices_wide(venue: Venue, snap_compare: Any) -> None:
    app, run_before = _snapshot_app(venue)
    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_snapshot_devices_narrow(venue: Venue, snap_compare: Any) -> None:
    app, run_before = _snapshot_app(venue)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


async def test_a_restarting_appliance_leaves_the_devices_shown_and_they_are_read_again(
    venue: Venue,
) -> None:
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_devices(pilot, venue)
        await wait_until(pilot, lambda: bool(row_of(app, PRINTER)), "the printer listed")
        venue.stop()
        try:
            await wait_until(pilot, lambda: app.link == "down", "the header to say OFFLINE")
            await pilot.press("r")  # a refresh with the box away keeps what is shown
            await pilot.pause(0.5)
            assert row_of(app, PRINTER) and app.current_mode == "devices"
        finally:
            venue.start()
        await wait_until(pilot, lambda: app.link == "up", "the link back", 20)
        await wait_until(pilot, lambda: "● connected" in row_of(app, PRINTER), "the printer read again", 25)
