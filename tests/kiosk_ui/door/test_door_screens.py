"""Every state of the door page meets WCAG 2.2 AA (axe-core), and looks right at phone, tablet and 1080p.

The screenshots always go to pytest's ``tmp_path``; with ``KONFERENCO_SCREENSHOTS=DIR`` they
are copied to ``DIR/door/`` as well (the committed ones are in ``docs/screenshots/door/``).
Answers are kept on screen for the test (``konferenco.door.show_ms``), so a slow moment of the
machine does not photograph the screen after the answer went away.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from tests.browser import publish_screenshots, small_targets, wcag_violations
from tests.kiosk_ui.conftest import Venue
from tests.kiosk_ui.door.conftest import (
    DESKTOP,
    PHONE,
    TABLET,
    door_page,
    result,
    scan_by_desk,
    sign_in,
    wedge,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

HOLD = "localStorage.setItem('konferenco.door.show_ms', '600000')"


def _signin(context: BrowserContext, venue: Venue) -> Page:
    page = context.new_page()
    sign_in(page, venue, pin="not-the-pin")
    expect(page.locator("[data-signin-error]")).to_be_visible()
    return page


def _setup(context: BrowserContext, venue: Venue) -> Page:
    page = context.new_page()
    sign_in(page, venue)
    expect(page.get_by_role("heading", name="Where are you scanning?")).to_be_visible()
    return page


def _ready(context: BrowserContext, venue: Venue) -> Page:
    page = door_page(context, venue)
    wedge(page, venue.take()["badge_code"])
    expect(result(page)).to_have_attribute("data-kind", "admitted")
    page.get_by_role("button", name="Next").click()
    scan_by_desk(venue, venue.foreign_badge, "south")
    expect(page.locator("[data-refusals] li").first).to_be_visible()
    return page


def _answer(kind: str) -> Callable[[BrowserContext, Venue], Page]:
    def reach(context: BrowserContext, venue: Venue) -> Page:
        page = door_page(context, venue)
        if kind == "refused":
            wedge(page, venue.foreign_badge)
        else:
            row = venue.take()
            if kind == "note":
                for direction in ("entry", "exit"):
                    body = {"code": row["badge_code"], "gate": "south", "nonce": uuid.uuid4().hex}
                    venue.desk("POST", "/api/v1/scans", json={**body, "direction": direction})
            wedge(page, row["badge_code"])
        expect(result(page)).to_have_attribute("data-kind", kind)
        return page

    return reach


def _saved(context: BrowserContext, venue: Venue) -> Page:
    page = door_page(context, venue)
    context.set_offline(True)
    wedge(page, venue.take()["badge_code"])
    expect(result(page)).to_have_attribute("data-kind", "saved")
    return page


def _queue(context: BrowserContext, venue: Venue) -> Page:
    page = door_page(context, venue)
    context.set_offline(True)
    for _ in range(3):
        wedge(page, venue.take()["badge_code"])
    expect(page.locator("[data-pending]")).to_have_text("3 scans not yet confirmed")
    page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("[data-notice]")).to_contain_text("Sign-out refused")
    return page


def _replayed(context: BrowserContext, venue: Venue) -> Page:
    page = door_page(context, venue)
    context.set_offline(True)
    wedge(page, venue.take()["badge_code"])
    wedge(page, venue.foreign_badge)
    expect(page.locator("[data-pending]")).to_have_text("2 scans not yet confirmed")
    page.get_by_role("button", name="Next").click()
    context.set_offline(False)
    expect(page.locator("[data-pending]")).to_be_hidden(timeout=30_000)
    expect(page.locator("[data-replayed] li")).to_have_count(2)
    if result(page).is_visible():  # the refusal of the scan that was on screen: seen, then gone
        page.get_by_role("button", name="Next").click()
    return page


STATES: dict[str, Callable[[BrowserContext, Venue], Page]] = {
    "01-signin": _signin,
    "02-setup": _setup,
    "03-ready": _ready,
    "04-admitted": _answer("admitted"),
    "05-note": _answer("note"),
    "06-refused": _answer("refused"),
    "07-saved": _saved,
    "08-queue": _queue,
    "09-replayed": _replayed,
}
#: Which states each size is photographed in (the phone in all of them).
SIZES = {
    "phone": (PHONE, list(STATES)),
    "tablet": (TABLET, ["03-ready", "04-admitted", "06-refused"]),
    "1080p": (DESKTOP, ["02-setup", "05-note", "08-queue"]),
}


def _context(browser: Browser, venue: Venue, viewport: ViewportSize, **kwargs: object) -> BrowserContext:
    context = browser.new_context(viewport=viewport, base_url=venue.url, **kwargs)  # type: ignore[arg-type]
    context.add_init_script(HOLD)
    return context


def test_every_state_of_the_door_meets_wcag_aa(venue: Venue, browser: Browser) -> None:
    found: dict[str, list[str]] = {}
    for name, reach in STATES.items():
        context = _context(browser, venue, PHONE, bypass_csp=True)
        page = reach(context, venue)
        found[name] = wcag_violations(page)
        context.close()
    bad = {name: v for name, v in found.items() if v}
    assert not bad, "axe-core: " + "\n".join(f"{n}: {v}" for n, v in bad.items())


@pytest.mark.parametrize("size", list(SIZES))
def test_screenshots_of_the_door(size: str, venue: Venue, browser: Browser, tmp_path: Path) -> None:
    viewport, names = SIZES[size]
    shots: list[Path] = []
    for name in names:
        context = _context(browser, venue, viewport, reduced_motion="reduce")
        page = STATES[name](context, venue)
        shots.append(tmp_path / f"{name}-{size}.png")
        page.screenshot(path=str(shots[-1]), animations="disabled", caret="hide")
        overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        assert not overflow, f"{name} scrolls sideways at {viewport}"
        small = small_targets(page, "button, select, input:not([type=radio])")
        assert not small, f"{name}: touch targets under 44 px at {viewport}: {small}"
        context.close()
    publish_screenshots(shots, "door")
