"""The proposals section: organizers approve into a suggested slot or reject with a reason; the day's grid.

The snapshot tests come first in the module: they show the proposal they make,
before the other tests approve sessions into the schedule.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import httpx
import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from kiosk_ui.tui.proposals import ProposalsScreen
from tests.helpers import konferenco
from tests.tui.conftest import Venue, sign_in, staff_app, wait_until

HOUR_MS = 3_600_000


def propose(venue: Venue, title: str, **body: Any) -> dict[str, Any]:
    """An attendee no other test used proposes a session at the desk (their badge scanned)."""
    person = venue.take()
    body = {"badge": {"code": person["badge_code"]}, "title": title, "duration_min": 30, **body}
    answer = venue.desk("POST", "/api/v1/proposals", json=body)
    assert answer.status_code in (200, 201), answer.text
    return dict(answer.json())


def proposal(venue: Venue, proposal_id: str) -> dict[str, Any]:
    answer = venue.desk("GET", f"/api/v1/proposals/{proposal_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def frame(venue: Venue) -> dict[str, Any]:
    return dict(venue.desk("GET", "/api/v1/schedule").json()["frame"])


def said(app: Any, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).content)


def listed(app: Any) -> set[str]:
    if not isinstance(app.screen, ProposalsScreen):
        return set()
    return {str(key.value) for key in app.screen.query_one("#proposals", DataTable).rows}


async def open_proposals(pilot: Pilot[Any], venue: Venue) -> None:
    await sign_in(pilot, venue, "organizer")
    await pilot.press("f8")
    await wait_until(pilot, lambda: pilot.app.current_mode == "proposals", "the proposals section")


async def select(pilot: Pilot[Any], proposal_id: str) -> None:
    """Wait for the proposal in the list, then put the cursor on it as the arrow keys would."""
    app = pilot.app
    await wait_until(pilot, lambda: proposal_id in listed(app), "the proposal in the list")
    table = app.screen.query_one("#proposals", DataTable)
    table.focus()
    table.move_cursor(row=table.get_row_index(proposal_id))
    await wait_until(pilot, lambda: app.screen.selected == proposal_id, "the proposal selected")  # type: ignore[attr-defined]


# --- snapshots (first: the schedule has no grassroots session yet) ----------------------------------


@pytest.fixture(scope="module")
def snap_proposal(venue: Venue) -> dict[str, Any]:
    """A proposal wishing for the event's second day, 12:00 to 14:00: suggestions the clock cannot move."""
    day_two = frame(venue)["starts_at"] + 24 * HOUR_MS
    return propose(
        venue,
        "Origami corner",
        wished_from=day_two + 12 * HOUR_MS,
        wished_to=day_two + 14 * HOUR_MS,
        attendance=12,
        nonce="tui-snapshot-proposal",
    )


class FixedSlots(httpx.AsyncHTTPTransport):
    """The real appliance, but the slot finder's suggestions fixed on the event's days.

    The finder ranks free slots partly by the appliance's own clock, so its second and third
    picks move as a test day goes on; a snapshot shows fixed ones (one with a warning).
    """

    def __init__(self, starts_at: int) -> None:
        super().__init__()
        day_two = starts_at + 24 * HOUR_MS
        slot = {"room_id": "gr-lounge", "room": "Grassroots Lounge", "score": 0.0, "warnings": []}
        crowded = {
            "rule": "over_capacity",
            "severity": "warn",
            "sessions": [],
            "message": "60 expected, 40 seats",
        }
        self.slots = [
            {**slot, "starts_at": day_two + 12 * HOUR_MS, "ends_at": day_two + 12 * HOUR_MS + HOUR_MS // 2},
            {**slot, "starts_at": day_two + 13 * HOUR_MS, "ends_at": day_two + 13 * HOUR_MS + HOUR_MS // 2},
            {**slot, "starts_at": day_two + 34 * HOUR_MS, "ends_at": day_two + 34 * HOUR_MS + HOUR_MS // 2,
             "warnings": [crowded]},
        ]  # fmt: skip

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if request.url.path != "/api/v1/proposals" or request.method != "GET":
            return response
        body = json.loads(await response.aread())
        for listed_one in body["proposals"]:
            listed_one["suggestions"] = self.slots
        return httpx.Response(200, json=body, request=request)


def _snapshot_app(venue: Venue, snap: dict[str, Any]) -> tuple[Any, Any]:
    """The app with its clock at 09:30 on the event's first day (its schedule starts today)."""
    starts_at = frame(venue)["starts_at"]
    clock = starts_at / 1000 + 9.5 * 3600
    app = staff_app(venue, clock=lambda: clock, label="appliance", transport=FixedSlots(starts_at))

    async def run_before(pilot: Pilot[Any]) -> None:
        await open_proposals(pilot, venue)
        await select(pilot, snap["proposal_id"])
        grid = app.screen.query_one("#grid", DataTable)
        await wait_until(
            pilot, lambda: grid.row_count > 0 and "Day 1 (today)" in said(app, "#schedule-title"), "the grid"
        )

    return app, run_before


def test_snapshot_proposals_wide(venue: Venue, snap_proposal: dict[str, Any], snap_compare: Any) -> None:
    app, run_before = _snapshot_app(venue, snap_proposal)
    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_snapshot_proposals_narrow(venue: Venue, snap_proposal: dict[str, Any], snap_compare: Any) -> None:
    app, run_before = _snapshot_app(venue, snap_proposal)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


# --- behaviour -------------------------------------------------------------------------------------


async def test_a_desk_account_has_no_proposals_section(venue: Venue) -> None:
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await sign_in(pilot, venue, "desk")
        await pilot.press("f8")
        await pilot.pause(0.3)
        assert app.current_mode == "desk"
        assert "proposals" not in app._modes


async def test_a_proposal_is_approved_into_its_first_suggestion(venue: Venue) -> None:
    made = propose(venue, f"Lockpicking basics {uuid.uuid4().hex[:4]}")
    first = made["suggestions"][0]
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_proposals(pilot, venue)
        await select(pilot, made["proposal_id"])
        assert app.screen.query_one("#suggestions", DataTable).row_count == len(made["suggestions"])
        await pilot.press("a")
        await wait_until(
            pilot, lambda: said(app, "#proposal-result").startswith("✔ Approved"), "the approval"
        )
        assert made["ref"] in said(app, "#proposal-result")
        await wait_until(pilot, lambda: made["proposal_id"] not in listed(app), "the list without it")

    decided = proposal(venue, made["proposal_id"])
    assert decided["status"] == "approved"
    sessions = venue.desk("GET", "/api/v1/schedule").json()["sessions"]
    placed = [s for s in sessions if s.get("proposal_id") == made["proposal_id"]]
    assert len(placed) == 1 and placed[0]["grassroots"]
    assert (placed[0]["room_id"], placed[0]["starts_at"]) == (first["room_id"], first["starts_at"])


async def test_a_proposal_is_rejected_with_a_reason_and_a_blank_one_is_refused(venue: Venue) -> None:
    made = propose(venue, f"Karaoke till dawn {uuid.uuid4().hex[:4]}")
    app = staff_app(venue)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_proposals(pilot, venue)
        await select(pilot, made["proposal_id"])
        await pilot.press("x")
        await wait_until(pilot, lambda: bool(app.screen.query("#reason")), "the reason asked")
        await pilot.press("enter")  # no reason: told in place, nothing sent
        await wait_until(pilot, lambda: "required" in said(app, "#reason-error"), "the blank refused")
        assert proposal(venue, made["proposal_id"])["status"] == "pending"
        app.screen.query_one("#reason", Input).value = "The lounge is quiet after 22:00"
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: said(app, "#proposal-result").startswith("✔ Rejected"), "the rejection"
        )
        await wait_until(pilot, lambda: made["proposal_id"] not in listed(app), "the list without it")

    decided = proposal(venue, made["proposal_id"])
    assert decided["status"] == "rejected"
    assert decided["reason"] == "The lounge is quiet after 22:00"


async def test_a_slot_taken_meanwhile_is_approved_only_as_a_confirmed_double_booking(venue: Venue) -> None:
    early = propose(venue, f"Board games {uuid.uuid4().hex[:4]}")
    late = propose(venue, f"Juggling {uuid.uuid4().hex[:4]}")
    slot = late["suggestions"][0]
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_proposals(pilot, venue)
        await select(pilot, late["proposal_id"])
        organizer = konferenco(
            "appliance", "issue-token", "--data", str(venue.data), "--role", "organizer"
        ).stdout.strip()
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {organizer}"}, timeout=15) as http:
            taken = await http.post(
                f"{venue.url}/api/v1/proposals/{early['proposal_id']}/approve",
                json={"room_id": slot["room_id"], "starts_at": slot["starts_at"]},
            )
        assert taken.status_code == 200, taken.text
        await pilot.press("a")  # the screen still offers the slot another organizer just took
        await wait_until(pilot, lambda: bool(app.screen.query("#reason")), "the double booking asked")
        app.screen.query_one("#reason", Input).value = "Two small tables, one lounge"
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: said(app, "#proposal-result").startswith("✔ Approved"), "the approval"
        )

    placed = proposal(venue, late["proposal_id"])
    assert placed["status"] == "approved"
    sessions = venue.desk("GET", "/api/v1/schedule").json()["sessions"]
    session = next(s for s in sessions if s.get("proposal_id") == late["proposal_id"])
    assert session["overlap"]["reason"] == "Two small tables, one lounge"


async def test_the_grid_shows_the_event_day_of_the_clock_and_moves_by_day(venue: Venue) -> None:
    start = frame(venue)["starts_at"]
    app = staff_app(venue, clock=lambda: start / 1000 + 9.5 * 3600)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_proposals(pilot, venue)
        await wait_until(pilot, lambda: "Day 1 (today)" in said(app, "#schedule-title"), "the first day")
        await pilot.press("right_square_bracket")
        await wait_until(pilot, lambda: "Day 2 (tomorrow)" in said(app, "#schedule-title"), "the next day")
        day_two = dt.datetime.fromtimestamp(start / 1000 + 36 * 3600, tz=app.timezone).date().isoformat()
        placed = [
            s
            for s in venue.desk("GET", "/api/v1/schedule", params={"day": day_two}).json()["sessions"]
            if s["status"] == "scheduled"
        ]
        assert f": {len(placed)} sessions" in said(app, "#schedule-title")
        grid = app.screen.query_one("#grid", DataTable)
        titles = {str(getattr(c, "plain", c)) for r in range(grid.row_count) for c in grid.get_row_at(r)}
        assert any(t.startswith(placed[0]["title"][:20]) for t in titles)
        for _ in range(3):  # no day before the event's first
            await pilot.press("left_square_bracket")
        await wait_until(
            pilot, lambda: "Day 1 (today)" in said(app, "#schedule-title"), "the first day again"
        )


async def test_the_second_suggestion_is_chosen_with_the_cursor(venue: Venue) -> None:
    made = propose(venue, f"Tea tasting {uuid.uuid4().hex[:4]}")
    second = made["suggestions"][1]
    app = staff_app(venue)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_proposals(pilot, venue)
        await select(pilot, made["proposal_id"])
        app.screen.query_one("#suggestions", DataTable).focus()
        await pilot.press("down")
        await pilot.press("a")
        await wait_until(
            pilot, lambda: said(app, "#proposal-result").startswith("✔ Approved"), "the approval"
        )
    sessions = venue.desk("GET", "/api/v1/schedule").json()["sessions"]
    placed = next(s for s in sessions if s.get("proposal_id") == made["proposal_id"])
    assert (placed["room_id"], placed["starts_at"]) == (second["room_id"], second["starts_at"])
