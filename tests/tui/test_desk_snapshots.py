"""The desk's screens as a person sees them, at 120x40 and at 80x24 (compared with committed SVGs).

Only seeded, never-changing data is shown (a search of the demo roster, a record
nothing has touched in this module) and the clock is fixed, so the pictures are
the same on every run and on another day.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from kiosk_ui.tui.desk import DeskScreen
from kiosk_ui.tui.desk_forms import WalkInForm
from tests.tui.conftest import FIXED_NOW, Venue, staff_app, wait_until
from tests.tui.test_desk import at_the_desk

SIZES = {"wide": (120, 40), "narrow": (80, 24)}


async def _record_open(pilot: Pilot[Any], venue: Venue) -> None:
    """Search "lefe" (three Lefèvres of the seeded roster) and open Ana's record."""
    app = pilot.app
    await at_the_desk(pilot, venue)
    screen = app.screen
    assert isinstance(screen, DeskScreen)
    screen.query_one("#desk-search", Input).value = "lefe"
    await wait_until(pilot, lambda: screen.answered == "lefe", "the results")
    table = screen.query_one("#desk-results", DataTable)
    names = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
    table.focus()
    table.move_cursor(row=names.index("Ana Lefèvre"))
    head = screen.query_one("#d-head", Static)
    await wait_until(pilot, lambda: "ana.lefevre50" in str(head.content), "Ana's record")
    await pilot.pause(0.2)


async def _walk_in_refused(pilot: Pilot[Any], venue: Venue) -> None:
    """The walk-in form sent without a name and with a broken e-mail: told beside each field."""
    app = pilot.app
    await at_the_desk(pilot, venue)
    await pilot.press("ctrl+n")
    await wait_until(pilot, lambda: isinstance(app.screen, WalkInForm), "the walk-in form")
    app.screen.query_one("#wi-company", Input).value = "Brötchen & Bytes GmbH"
    app.screen.query_one("#wi-email", Input).value = "ana@"
    await pilot.click("#confirm")
    error = app.screen.query_one("#wi-email-error", Static)
    await wait_until(pilot, lambda: "e-mail" in str(error.content), "the inline error")
    await pilot.pause(0.2)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_desk_with_a_record_open(venue: Venue, snap_compare: Any, size: str) -> None:
    app = staff_app(venue, clock=lambda: FIXED_NOW, label="appliance")

    async def run_before(pilot: Pilot[Any]) -> None:
        await _record_open(pilot, venue)

    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_walk_in_form_with_inline_errors(venue: Venue, snap_compare: Any, size: str) -> None:
    app = staff_app(venue, clock=lambda: FIXED_NOW, label="appliance")

    async def run_before(pilot: Pilot[Any]) -> None:
        await _walk_in_refused(pilot, venue)

    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)
