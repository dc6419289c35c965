"""Signing in at the door: a wrong PIN says so, a locked account says for how long, and a reload
neither signs the volunteer out nor forgets the gate, list and direction they chose."""

from __future__ import annotations

from typing import TYPE_CHECKING

from playwright.sync_api import expect

from tests.kiosk_ui.conftest import Venue
from tests.kiosk_ui.door.conftest import PHONE, set_up, sign_in, staff_pin

if TYPE_CHECKING:
    from playwright.sync_api import Browser


def test_a_wrong_pin_is_refused_with_the_reason_and_the_right_one_signs_in(
    venue: Venue, browser: Browser
) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    pin = staff_pin(venue)
    wrong = "000000" if pin != "000000" else "111111"
    sign_in(page, venue, pin=wrong)
    error = page.locator("[data-signin-error]")
    expect(error).to_have_text("wrong name or PIN")
    expect(page.locator('[data-section="signin"]')).to_be_visible()
    expect(page.get_by_label("PIN", exact=True)).to_have_value("")  # nothing of the wrong PIN stays
    page.get_by_label("PIN", exact=True).fill(pin)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Where are you scanning?")).to_be_visible()
    expect(page.get_by_label("Gate", exact=True)).to_contain_text("South entrance")
    context.close()


def test_a_locked_account_shows_the_appliances_lock_out_message(venue: Venue, browser: Browser) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    sign_in(page, venue, name="Desk", pin="0000")
    error = page.locator("[data-signin-error]")

    def again(pin: str) -> None:
        expect(error).to_be_visible()  # the last answer is in: the form is the volunteer's again
        page.evaluate("document.querySelector('[data-signin-error]').hidden = true")
        page.get_by_label("PIN", exact=True).fill(pin)
        page.get_by_role("button", name="Sign in").click()
        expect(error).to_be_visible()

    expect(error).to_have_text("wrong name or PIN")
    for _ in range(4):  # five wrong PINs in a row lock the account ...
        again("0000")
    expect(error).to_have_text("wrong name or PIN")
    again("0000")  # ... and the sixth try is told so
    expect(error).to_contain_text("too many wrong PINs: this account is locked for")
    # the right PIN does not help while the lock lasts: the volunteer is told, not let in
    again(staff_pin(venue, "Desk"))
    expect(error).to_contain_text("locked for")
    expect(page.locator('[data-section="setup"]')).to_be_hidden()
    context.close()


def test_the_session_and_the_choice_of_gate_list_and_direction_survive_a_reload(
    venue: Venue, browser: Browser
) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    sign_in(page, venue)
    set_up(page, "Sala Łódź door", "Workshop in Sala Łódź", exit=True)
    where = page.locator("[data-where]")
    expect(where).to_have_text("Sala Łódź door · Workshop in Sala Łódź · ← Exit · Door")
    page.reload()
    expect(page.locator('[data-section="ready"]')).to_be_visible()
    expect(where).to_have_text("Sala Łódź door · Workshop in Sala Łódź · ← Exit · Door")
    # "Change gate" shows the same choice selected, and a new one is kept
    page.get_by_role("button", name="Change gate").click()
    expect(page.get_by_label("Gate", exact=True)).to_have_value("workshop")
    expect(page.get_by_label("Check-in list", exact=True)).to_have_value("workshop")
    expect(page.get_by_label("Exit: people leaving")).to_be_checked()
    page.get_by_label("Gate", exact=True).select_option(label="North entrance")
    expect(page.get_by_label("Check-in list", exact=True)).to_have_value("main")  # the gate's usual list
    page.get_by_label("Entry: people coming in").check()
    page.get_by_role("button", name="Start scanning").click()
    page.reload()
    expect(where).to_have_text("North entrance · Main entrance · → Entry · Door")
    # signing out (nothing unconfirmed) returns to sign-in, and a reload does not sign back in
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.evaluate("localStorage.getItem('konferenco.door.session')") is None
    context.close()


def test_a_kiosk_account_cannot_run_a_door_and_is_told_why(venue: Venue, browser: Browser) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    sign_in(page, venue, name="Kiosk", pin=staff_pin(venue, "Kiosk"))
    error = page.locator("[data-signin-error]")
    expect(error).to_contain_text("a kiosk account cannot do this")
    expect(error).to_contain_text("Sign in with a door account.")
    expect(page.locator('[data-section="setup"]')).to_be_hidden()
    assert page.evaluate("localStorage.getItem('konferenco.door.session')") is None
    context.close()
