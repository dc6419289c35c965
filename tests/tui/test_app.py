"""The staff TUI as a whole: roles, the palette, rebinding keys, a box that restarts, a shift that ends.

Against a real appliance process (``tests/tui/conftest.py``); the restart test kills it
with SIGKILL and starts it again on the same port and data, as a power cut would.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from textual.widgets import Input, Static

from appliance.config import DataDir
from appliance.staff.service import StaffRole
from kiosk_ui.tui.signin import SignInScreen
from tests.tui.conftest import Venue, pins, sign_in, staff_app, wait_until


def _bar(app: Any) -> str:
    return str(app.screen.query_one("#link", Static).content)


async def test_each_role_gets_its_own_sections_and_a_kiosk_account_none(venue: Venue) -> None:
    for role, first, allowed, refused in (
        ("door", "door", {"door", "devices", "sync", "stats"}, {"desk", "prints", "proposals"}),
        ("organizer", "desk", {"desk", "proposals", "prints"}, set()),
    ):
        app = staff_app(venue)
        async with app.run_test(size=(120, 40)) as pilot:
            await sign_in(pilot, venue, role)
            assert app.current_mode == first
            for section in allowed:
                assert app.check_action("open_section", (section,)), (role, section)
            for section in refused:
                assert not app.check_action("open_section", (section,)), (role, section)
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await sign_in(pilot, venue, "kiosk", pin=pins(venue)["kiosk"])
        said = app.screen.query_one("#signin-error", Static)
        await wait_until(pilot, lambda: "kiosk account cannot" in str(said.content), "the kiosk refusal")
        assert app.current_mode == "signin"
        assert app.client.staff is None


async def test_sign_out_leaves_nothing_of_the_person_for_the_next(venue: Venue) -> None:
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await sign_in(pilot, venue, "organizer")
        await pilot.press("f7")
        await wait_until(pilot, lambda: app.current_mode == "stats", "the stats section")
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: app.current_mode == "signin", "the sign-in screen")
        assert app.person == "not signed in"
        assert app.client.staff is None
        assert not any(mode in app._modes for mode in ("desk", "stats", "proposals"))  # screens gone
        await sign_in(pilot, venue, "door")
        assert app.current_mode == "door"
        assert app.person == "Door (door)"


async def test_the_command_palette_opens_sections_by_name(venue: Venue) -> None:
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await sign_in(pilot, venue, "desk")
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: bool(app.screen.query("CommandInput")), "the command palette")
        await pilot.press(*"print queue")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.current_mode == "prints", "the print queue to open")


async def test_keys_can_be_rebound_with_a_keymap(venue: Venue) -> None:
    app = staff_app(venue, keymap={"section.stats": "ctrl+s"})
    async with app.run_test(size=(120, 40)) as pilot:
        await sign_in(pilot, venue, "desk")
        await pilot.press("f7")  # no longer bound
        await pilot.pause(0.3)
        assert app.current_mode == "desk"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.current_mode == "stats", "ctrl+s to open stats")


async def test_an_expired_sign_in_asks_for_the_pin_over_the_screen_and_resumes_it(venue: Venue) -> None:
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await sign_in(pilot, venue, "desk")
        await pilot.press("f7")
        await wait_until(pilot, lambda: app.current_mode == "stats", "the stats section")
        stats_screen = app.screen
        staff = app.client.staff
        assert staff is not None
        expired = DataDir(venue.data).staff_tokens().issue(staff.staff_id, staff.name, StaffRole.DESK, -5)
        app.client.staff = dataclasses.replace(staff, token=expired)
        # the next heartbeat meets the expired token (no action needed: a quiet screen notices too)
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, SignInScreen) and bool(app.screen.query("#signin-reason")),
            "the sign-in over the screen",
        )  # pushed, then composed: the reason is there once it is on screen
        assert "Sign in again" in str(app.screen.query_one("#signin-reason", Static).content)
        assert app.current_mode == "stats"  # the section is still there, under the sign-in
        await pilot.pause()  # the screen's own mount (focus on the name) before we type
        app.screen.query_one("#name", Input).value = "Desk"
        app.screen.query_one("#pin", Input).value = pins(venue)["desk"]
        await pilot.click("#signin-button")
        await wait_until(pilot, lambda: app.screen is stats_screen, "the stats section to come back")
        assert app.client.staff is not None and app.client.staff.token != expired
        # a reload sent with the old token, refused after the new sign-in, does not ask again
        app.sign_in_again("the staff session has ended", expired)
        await pilot.pause()
        assert app.screen is stats_screen


async def test_a_killed_appliance_shows_offline_keeps_the_screen_and_reconnects(venue: Venue) -> None:
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await sign_in(pilot, venue, "desk")
        await wait_until(pilot, lambda: app.link == "up", "online")
        assert "online" in _bar(app)
        screen = app.screen
        venue.process.kill()  # SIGKILL: no goodbye
        try:
            await wait_until(pilot, lambda: app.link == "down", "the link to show offline")
            assert "OFFLINE" in _bar(app)
            assert app.screen is screen and app.current_mode == "desk"  # nothing cleared
            assert app.person == "Desk (desk)"
        finally:
            venue.start()
        await wait_until(pilot, lambda: app.link == "up", "the link to come back", within=30)
        assert "online" in _bar(app)
        assert app.screen is screen
        me = await app.client.get("/api/v1/auth/me")  # the same sign-in still works after the restart
        assert me["name"] == "Desk"
