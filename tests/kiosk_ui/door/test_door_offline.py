"""The door while the appliance is out of reach: scans are kept on the phone (IndexedDB), shown as
saved and not yet confirmed, survive a reload, and are sent once the appliance answers again;
each is recorded once (its nonce), never twice, which the appliance's own figures show."""

from __future__ import annotations

from typing import TYPE_CHECKING

from playwright.sync_api import expect

from tests.kiosk_ui.conftest import Venue
from tests.kiosk_ui.door.conftest import PHONE, door_page, result, wedge

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


def _shell_cached(page: Page) -> None:
    """The service worker has installed (the page and its scripts are kept) and controls the page."""
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    if not page.evaluate("!!navigator.serviceWorker.controller"):
        page.reload()
        page.locator('[data-section="ready"]').wait_for(state="visible")
    assert page.evaluate("!!navigator.serviceWorker.controller")


def test_twenty_scans_offline_are_kept_through_a_reload_and_each_is_recorded_once(
    venue: Venue, browser: Browser
) -> None:
    context = browser.new_context(viewport=PHONE)
    page = door_page(context, venue)
    _shell_cached(page)
    rows = [venue.take() for _ in range(20)]
    stats = venue.stats()
    context.set_offline(True)
    pending = page.locator("[data-pending]")
    answer = result(page)
    for number, row in enumerate(rows, 1):
        wedge(page, row["badge_code"])
        expect(pending).to_have_attribute("data-count", str(number))
        if number == 1:
            expect(answer).to_have_attribute("data-kind", "saved")
            expect(answer.locator("[data-result-word]")).to_have_text("Saved – not yet confirmed")  # noqa: RUF001
            expect(answer.locator("[data-result-symbol]")).to_have_text("◷")
    expect(pending).to_have_text("20 scans not yet confirmed")
    expect(page.locator("[data-link]")).to_contain_text("The appliance does not answer")
    assert venue.stats()["scans"] == stats["scans"]  # nothing reached the appliance

    # sign-out is refused while anything is unconfirmed
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("[data-notice]")).to_contain_text("Sign-out refused: 20 scans are not yet confirmed")
    expect(page.locator('[data-section="ready"]')).to_be_visible()

    # a reload while offline: the page comes from the service worker, the queue from IndexedDB
    page.reload()
    expect(page.locator('[data-section="ready"]')).to_be_visible()
    expect(pending).to_have_text("20 scans not yet confirmed")

    context.set_offline(False)
    expect(pending).to_be_hidden(timeout=30_000)
    replayed = page.locator("[data-replayed] li")
    expect(replayed).to_have_count(20)
    expect(page.locator('[data-replayed] li[data-kind="admitted"]')).to_have_count(20)
    after = venue.stats()
    assert after["admitted"] == stats["admitted"] + 20
    assert after["scans"] == stats["scans"] + 20  # each scan recorded once, none twice
    for row in rows:
        answer_now = venue.door_says(row["badge_code"])
        assert answer_now["result"] == "already_admitted", row
        assert answer_now["first_admitted"]["gate"] == "south"
    # a reload after all is confirmed sends nothing again
    page.reload()
    expect(page.locator('[data-section="ready"]')).to_be_visible()
    page.wait_for_timeout(1000)
    assert venue.stats()["scans"] == after["scans"] + 20  # only the door_says checks above
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    context.close()


def test_a_saved_scan_refused_when_it_reaches_the_appliance_is_shown_to_the_volunteer(
    venue: Venue, browser: Browser
) -> None:
    context = browser.new_context(viewport=PHONE)
    page = door_page(context, venue)
    good = venue.take()
    context.set_offline(True)
    wedge(page, venue.foreign_badge)
    wedge(page, good["badge_code"])
    expect(page.locator("[data-pending]")).to_have_text("2 scans not yet confirmed")
    context.set_offline(False)
    expect(page.locator("[data-pending]")).to_be_hidden(timeout=30_000)
    refused = page.locator('[data-replayed] li[data-kind="refused"]')
    expect(refused).to_have_count(1)
    expect(refused).to_contain_text("Refused")
    expect(page.locator('[data-replayed] li[data-kind="admitted"]')).to_contain_text(good["name"])
    expect(page.locator("[data-notice]")).to_contain_text("A saved scan was refused")
    context.close()
