"""Signing in on the staff TUI: the sections follow the role; refusals are told in place."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from tests.helpers import konferenco
from tests.tui.conftest import FIXED_NOW, Venue, sign_in, staff_app, wait_until


def _said(app: object, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).content)  # type: ignore[attr-defined]


async def test_a_desk_person_signs_in_and_gets_the_desk_sections(venue: Venue) -> None:
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await sign_in(pilot, venue, "desk")
        assert app.current_mode == "desk"
        assert app.person == "Desk (desk)"
        assert app.event_name == "Konferenco Demo Days"
        await wait_until(pilot, lambda: app.link == "up", "the link to show online")
        await pilot.press("f8")  # proposals are the organizers'
        await pilot.pause(0.2)
        assert app.current_mode == "desk"
        await pilot.press("f4")
        await wait_until(pilot, lambda: app.current_mode == "prints", "the print queue")


async def test_a_wrong_pin_is_told_in_place_and_the_name_is_kept(venue: Venue) -> None:
    app = staff_app(venue)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, venue, "desk", pin="000000")
        await wait_until(pilot, lambda: "wrong" in _said(app, "#signin-error"), "the refusal")
        assert app.current_mode == "signin"
        assert app.screen.query_one("#name").value == "Desk"  # type: ignore[attr-defined]
        assert app.screen.query_one("#pin").value == ""  # type: ignore[attr-defined]


SIZES = {"wide": (120, 40), "narrow": (80, 24)}


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_sign_in_after_a_wrong_pin(venue: Venue, snap_compare: Any, size: str) -> None:
    """The first screen anyone sees, with the appliance's refusal in place (a stable sentence)."""
    app = staff_app(venue, clock=lambda: FIXED_NOW, label="appliance")

    async def run_before(pilot: Pilot[Any]) -> None:
        await sign_in(pilot, venue, "door", pin="000000")
        await wait_until(pilot, lambda: "wrong" in _said(app, "#signin-error"), "the refusal")
        await wait_until(pilot, lambda: app.link == "up", "the link to show online")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)


async def test_repeated_wrong_pins_meet_the_appliances_lock_out_in_place(venue: Venue) -> None:
    """The TUI keeps no count of its own: the appliance's lock-out sentence is what staff read."""
    konferenco(
        "appliance", "staff", "add", "--data", str(venue.data), "--name", "Lena Lock", "--role", "desk",
        "--pin", "864213",
    )  # fmt: skip
    app = staff_app(venue)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: bool(app.screen.query("#name")), "the sign-in screen")
        messages = []
        for _ in range(6):
            app.screen.query_one("#name", Input).value = "Lena Lock"
            app.screen.query_one("#pin", Input).value = "000000"
            app.screen.query_one("#pin", Input).focus()
            await pilot.press("enter")
            await wait_until(pilot, lambda: "Signing in" not in _said(app, "#signin-error"), "the answer")
            messages.append(_said(app, "#signin-error"))
        assert "wrong name or PIN" in messages[0]
        assert "lock" in messages[-1].lower() or "try again" in messages[-1].lower(), messages[-1]
        app.screen.query_one("#pin", Input).value = "864213"  # even the right PIN waits out the lock
        await pilot.press("enter")
        await wait_until(pilot, lambda: "Signing in" not in _said(app, "#signin-error"), "the answer")
        assert app.current_mode == "signin"
        assert app.screen.query_one("#name", Input).value == "Lena Lock"
