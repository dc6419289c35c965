"""The front page in every state a person meets, checked by axe-core and photographed for the docs.

States: the public page, a wrong PIN, the signed-in panel (a printer, a scanner that works and
one that is unplugged, unacknowledged scans), and a pairing code on screen.  Each at phone
(390 x 844), tablet (820 x 1180) and 1080p (1920 x 1080): zero WCAG 2.2 AA violations, nothing
scrolls sideways, every control at least 44 px.  The screenshots go to pytest's ``tmp_path``
and, with ``KONFERENCO_SCREENSHOTS=DIR``, to ``DIR/front/`` (the committed ones are in
``docs/screenshots/front/``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser import publish_screenshots, small_targets, wcag_violations
from tests.helpers import konferenco
from tests.kiosk_ui.conftest import Venue, make_venue
from tests.kiosk_ui.front.conftest import VIEWPORTS, front, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.slow

Staff = dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venue]:
    """The kiosk tests' venue, plus two scanners: one on a FIFO (works; two badges scanned), one unplugged."""
    root = tmp_path_factory.mktemp("front")
    for venue in make_venue(root):
        venue.stop()
        feed = root / "scans.fifo"
        os.mkfifo(feed)
        for args in (
            ["--id", "door-north", "--name", "North door scanner", "--gate", "north", "--kind", "lines",
             "--set", f"path={feed}"],
            ["--id", "door-south", "--name", "South door scanner", "--gate", "south", "--kind", "hid",
             "--set", "device=/dev/input/by-id/usb-absent-scanner-event-kbd"],
        ):  # fmt: skip
            konferenco("appliance", "devices", "add", "--data", str(venue.data), "--domain", "scanner", *args)
        venue.start()
        venue.printer_ready()
        fifo = os.open(feed, os.O_WRONLY | os.O_NONBLOCK)  # the scanner holds it open for reading
        for _ in range(2):
            os.write(fifo, (venue.take()["badge_code"] + "\n").encode())
        os.close(fifo)
        for _ in range(2):  # scans the hub has not acknowledged (there is no hub)
            assert venue.door_says(venue.take()["badge_code"])["result"] == "admitted"
        yield venue


def _public(page: Page, staff: Staff) -> None:
    page.goto("/")
    page.locator("#signin-name").wait_for()


def _wrong_pin(page: Page, staff: Staff) -> None:
    sign_in(page, "Organizer", "0000" if staff["Organizer"]["pin"] != "0000" else "1111")
    page.locator("#signin-error").wait_for()


def _signed_in(page: Page, staff: Staff) -> None:
    sign_in(page, "Organizer", staff["Organizer"]["pin"])
    page.locator("#panel #printers").wait_for()
    page.locator('[data-device="door-south"]').wait_for()
    page.locator('[data-device="door-north"]', has_text="2 scans").wait_for()


def _pairing(page: Page, staff: Staff) -> None:
    sign_in(page, "Desk", staff["Desk"]["pin"])
    page.locator("#kiosk-name").fill("Entrance 1")
    page.locator("#make-pairing-code").click()
    page.locator("#pairing-code").wait_for()
    page.locator("#pairing-code").evaluate("e => e.scrollIntoView({block: 'center'})")


#: (file name, how to get there, the whole page or the viewport)
STATES: list[tuple[str, Callable[[Page, Staff], None], bool]] = [
    ("01-public", _public, True),
    ("02-wrong-pin", _wrong_pin, False),
    ("03-signed-in", _signed_in, True),
    ("04-pairing-code", _pairing, False),
]


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_every_state_meets_wcag_aa_and_is_photographed_at(
    size: str, venue: Venue, browser: Browser, staff: Staff, tmp_path: Path
) -> None:
    viewport = VIEWPORTS[size]
    found: dict[str, list[str]] = {}
    shots: list[Path] = []
    for name, reach, full_page in STATES:
        context = front(browser, venue, viewport, bypass_csp=True, reduced_motion="reduce")
        page = context.new_page()
        reach(page, staff)
        shots.append(tmp_path / f"{name}-{size}.png")
        page.screenshot(path=str(shots[-1]), full_page=full_page, animations="disabled", caret="hide")
        overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        assert not overflow, f"{name} scrolls sideways at {viewport}"
        small = small_targets(page, "button, input, .card, summary")
        assert not small, f"{name}: targets under 44 px: {small}"
        found[name] = wcag_violations(page)
        context.close()
    bad = {name: v for name, v in found.items() if v}
    assert not bad, "axe-core: " + "\n".join(f"{n}: {v}" for n, v in bad.items())
    publish_screenshots(shots, "front")
