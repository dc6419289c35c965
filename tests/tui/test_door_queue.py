"""The door's unconfirmed scans outlive the TUI: closed while the box is away, sent when it starts again.

Its own module (and appliance): the test stops the appliance.
"""

from __future__ import annotations

import json
import stat

from tests.tui.conftest import Venue, staff_app, wait_until
from tests.tui.test_door import door, open_door, said, wedge


async def test_scans_waiting_when_the_tui_closes_are_sent_once_by_the_next_one(venue: Venue) -> None:
    person = venue.take()
    state = venue.root / "door-state"
    before = venue.admitted()
    app = staff_app(venue, state_dir=state)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_door(pilot, venue, gate="north")
        venue.stop()
        try:
            await wedge(pilot, person["badge_code"])
            await wait_until(pilot, lambda: "SAVED" in said(app, "#door-word"), "the saved answer")
        except BaseException:
            venue.start()
            raise
    try:  # the TUI is gone (closed like a terminal window); the scan waits on disk, for its owner only
        (queue,) = state.glob("door-queue-*.json")
        assert stat.S_IMODE(queue.stat().st_mode) == 0o600
        (kept,) = json.loads(queue.read_text())["scans"]
        assert kept["code"] == person["badge_code"] and kept["gate"] == "north"
    finally:
        venue.start()
    again = staff_app(venue, state_dir=state)
    async with again.run_test(size=(120, 40)) as pilot:
        await open_door(pilot, venue, gate="south")
        await wait_until(pilot, lambda: not door(again).pending, "the kept scan to be sent", within=20)
        assert person["name"] in said(again, "#door-who")
        assert venue.admitted() == before + 1
        counted = venue.desk("GET", "/api/v1/door/counts", params={"gate": "north"}).json()
        assert counted["admitted"] >= 1  # at the gate it was made at, not the new session's
    assert not list(state.glob("door-queue-*.json"))  # nothing left to send
