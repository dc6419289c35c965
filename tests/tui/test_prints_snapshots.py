"""Snapshots of the print queue at 120x40 and 80x24: one printed badge, the printer ready.

The job is made once for the module and both snapshots show it; the app's clock is set
two minutes after the job was made, so its age reads the same on every run.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from tests.helpers import wait_for
from tests.tui.conftest import Venue, staff_app, wait_until
from tests.tui.test_prints import new_job, open_queue, row, said


@pytest.fixture(scope="module")
def printed(venue: Venue) -> dict[str, Any]:
    """One badge of the seeded roster's first Full pass, printed."""
    person = next(row for row in venue.badges if row["ticket_type"] == "Full pass")
    made = new_job(venue, person["attendee_id"])
    done = lambda: venue.jobs_of(person["attendee_id"])[0]["status"] == "done"  # noqa: E731
    wait_for(done, timeout=15, what="the print")
    return dict(venue.jobs_of(person["attendee_id"])[0]) | {"id": made["id"]}


def shot(venue: Venue, job: dict[str, Any]) -> tuple[Any, Any]:
    app = staff_app(venue, clock=lambda: job["created_at"] / 1000 + 120, label="appliance")

    async def run_before(pilot: Pilot[Any]) -> None:
        await open_queue(pilot, venue)
        await wait_until(pilot, lambda: "✔ ready" in said(app, "#prints-printers"), "the printer's reading")
        await wait_until(pilot, lambda: "2 min ago" in row(app, job["id"]), "the job")
        await wait_until(pilot, lambda: "(" in row(app, job["id"])[0], "the attendee's name")
        await pilot.pause(0.3)

    return app, run_before


def test_snapshot_prints_wide(venue: Venue, printed: dict[str, Any], snap_compare: Any) -> None:
    app, run_before = shot(venue, printed)
    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_snapshot_prints_narrow(venue: Venue, printed: dict[str, Any], snap_compare: Any) -> None:
    app, run_before = shot(venue, printed)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
