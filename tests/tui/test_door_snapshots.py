"""Snapshots of the door section at 120x40 and 80x24, each after scans at its own gate and list.

Deterministic: the seeded roster's names, gates no other test of this module uses,
and times from the app's fixed clock (the time a scan was made here).
"""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from tests.tui.conftest import FIXED_NOW, Venue, staff_app, wait_until
from tests.tui.test_door import open_door, said, wedge


def full_pass(venue: Venue, index: int) -> dict[str, str]:
    """The INDEX-th Full pass of the seeded roster (the same person on every run)."""
    return [row for row in venue.badges if row["ticket_type"] == "Full pass"][index]


def shot(venue: Venue, gate: str, person: dict[str, str], *, refused: bool) -> tuple[Any, Any]:
    app = staff_app(venue, clock=lambda: FIXED_NOW, label="appliance")

    async def run_before(pilot: Pilot[Any]) -> None:
        await open_door(pilot, venue, gate=gate)
        app.screen.query_one("#door-code", Input).cursor_blink = False
        await wedge(pilot, person["badge_code"])
        await wait_until(pilot, lambda: said(app, "#door-word") == "✔ ADMITTED", "the admission")
        if refused:
            await wedge(pilot, venue.foreign_badge)
            await wait_until(pilot, lambda: said(app, "#door-word") == "✖ REFUSED", "the refusal")
        await wait_until(pilot, lambda: "Admitted here   1" in said(app, "#door-counts"), "the figures")
        if refused:
            await wait_until(pilot, lambda: "Refused         1" in said(app, "#door-counts"), "the refusals")
        await pilot.pause(0.3)

    return app, run_before


def test_snapshot_door_wide(venue: Venue, snap_compare: Any) -> None:
    app, run_before = shot(venue, "north", full_pass(venue, 0), refused=True)
    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_snapshot_door_narrow(venue: Venue, snap_compare: Any) -> None:
    app, run_before = shot(venue, "dinner", full_pass(venue, 1), refused=False)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
