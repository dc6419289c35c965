"""Snapshots of the stats section at 120x40 and 80x24, after the same scans in this module.

The scans are made once for the module with fixed nonces (a second call is a replay that
counts nothing), so both snapshots show the same figures whichever runs first.  The
sparkline's minutes are the appliance's real ones: the scans start early in a minute, so
they and both snapshots (a few seconds each) fall in the same minute, the sparkline's last.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.tui.conftest import FIXED_NOW, Venue, sign_in, staff_app, wait_until
from tests.tui.test_stats import figure


@pytest.fixture(scope="module")
def scanned(venue: Venue) -> dict[str, Any]:
    """Three admissions at two gates, one second scan and one foreign badge: the module's scans."""
    into_minute = time.time() % 60
    if into_minute > 30:  # too close to the next minute for the scans and both pictures
        time.sleep(60 - into_minute + 0.5)
    full = [row for row in venue.badges if row["ticket_type"] == "Full pass"]
    speaker = next(row for row in venue.badges if row["ticket_type"] == "Speaker")
    scans = [
        (full[0]["badge_code"], "north"),
        (full[1]["badge_code"], "north"),
        (speaker["badge_code"], "south"),
        (full[0]["badge_code"], "south"),
        (venue.foreign_badge, "south"),
    ]
    for n, (code, gate) in enumerate(scans):
        body = {"code": code, "gate": gate, "nonce": f"stats-snapshot-{n}"}
        assert venue.desk("POST", "/api/v1/scans", json=body).status_code == 200
    return venue.stats()


def shot(venue: Venue, stats: dict[str, Any]) -> tuple[Any, Any]:
    app = staff_app(venue, clock=lambda: FIXED_NOW, label="appliance")

    async def run_before(pilot: Pilot[Any]) -> None:
        await sign_in(pilot, venue, "door")
        await pilot.press("f7")
        await wait_until(pilot, lambda: app.current_mode == "stats", "the stats")
        await wait_until(pilot, lambda: figure(app, "scans") == stats["scans"], "the figures")
        await pilot.pause(0.3)

    return app, run_before


def test_snapshot_stats_wide(venue: Venue, scanned: dict[str, Any], snap_compare: Any) -> None:
    app, run_before = shot(venue, scanned)
    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_snapshot_stats_narrow(venue: Venue, scanned: dict[str, Any], snap_compare: Any) -> None:
    app, run_before = shot(venue, scanned)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
