"""Signing in on the staff TUI: the sections follow the role; refusals are told in place."""

from __future__ import annotations

from textual.widgets import Static

from tests.tui.conftest import Venue, sign_in, staff_app, wait_until


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
