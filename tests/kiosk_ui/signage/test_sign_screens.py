"""Every sign page and state passes axe-core (WCAG 2.2 AA) and is photographed at every size.

The room list, a room sign (plain, with an emergency alert, a full room, stale and
offline after the appliance stopped) and the wall, at phone 390x844, tablet 820x1180,
1080p 1920x1080 and the sign in portrait 1080x1920.  The PNGs go to pytest's
``tmp_path``; with ``KONFERENCO_SCREENSHOTS=DIR`` they are copied to ``DIR/signage/``
(the committed ones are in ``docs/screenshots/signage/``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser import publish_screenshots, wcag_violations
from tests.helpers import wait_for
from tests.kiosk_ui.signage.conftest import FULL_ROOM, ROOM, Signs, connected, now_ms

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 820, "height": 1180}
HD = {"width": 1920, "height": 1080}
PORTRAIT = {"width": 1080, "height": 1920}
SIZES = {"phone": PHONE, "tablet": TABLET, "1080p": HD, "portrait": PORTRAIT}


@pytest.fixture(scope="module")
def dressed(signs: Signs) -> Signs:
    """A believable day: a talk on now, a grassroots session next, a nearly full and a full room."""
    start = now_ms() - 25 * 60_000
    signs.add_session(
        ROOM, "Offline-first sync in practice", start, 60, speakers=["Grace Hopper", "Alan Kay"]
    )
    signs.add_session(ROOM, "Knitting for hackers", start + 75 * 60_000, 45, grassroots=True,
                      host_name="Margaret Hamilton", type="grassroots")  # fmt: skip
    signs.add_session(ROOM, "Closing panel: what broke this year", start + 150 * 60_000, 60,
                      speakers=["Ada Lovelace", "Edsger Dijkstra", "Barbara Liskov"])  # fmt: skip
    signs.add_session(FULL_ROOM, "Hands-on: thermal printers", start + 10 * 60_000, 90, speakers=["Linus"])
    signs.capacity(ROOM, 183, 200)
    signs.capacity(FULL_ROOM, 20, 20)
    return signs


def shoot(page: Page, shots: list[Path], folder: Path, name: str) -> None:
    problems = wcag_violations(page)
    assert problems == [], f"{name}: {problems}"
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    shots.append(path)


def showing(page: Page, selector: str, words: str) -> None:
    wait_for(lambda: words in (page.text_content(selector) or ""), what=f"'{words}' in {selector}")


def open_page(browser: Browser, url: str, size: str, *, sign: bool = True) -> Page:
    page = browser.new_context(viewport=SIZES[size], bypass_csp=True).new_page()  # type: ignore[arg-type]
    page.goto(url)
    if sign:
        connected(page)
    return page


def test_every_page_and_state_is_accessible_at_every_size(
    browser: Browser, dressed: Signs, tmp_path: Path
) -> None:
    signs = dressed
    shots: list[Path] = []
    for size in ("phone", "tablet", "1080p"):
        page = open_page(browser, f"{signs.url}/signage", size, sign=False)
        shoot(page, shots, tmp_path, f"rooms-{size}")
        page.context.close()
    for size in ("1080p", "portrait", "tablet", "phone"):
        page = open_page(browser, f"{signs.url}/signage/{ROOM}", size)
        showing(page, "#now", "Offline-first")
        showing(page, "#capacity-text", "183 of 200")
        shoot(page, shots, tmp_path, f"room-{size}")
        page.context.close()
    page = open_page(browser, f"{signs.url}/signage/{FULL_ROOM}", "1080p")
    wait_for(lambda: "Full" in (page.text_content("#capacity-text") or ""), what="'Full'")
    shoot(page, shots, tmp_path, "room-full-1080p")
    page.context.close()
    for size in ("1080p", "tablet", "phone"):
        page = open_page(browser, f"{signs.url}/signage/wall", size)
        showing(page, "#wall", "Small Room")
        shoot(page, shots, tmp_path, f"wall-{size}")
        page.context.close()

    signs.alert("evac", "Please leave the building by the nearest exit.", level="emergency", priority=100)
    pages = {size: open_page(browser, f"{signs.url}/signage/{ROOM}", size) for size in ("1080p", "phone")}
    for size, page in pages.items():
        showing(page, "#alert", "Please leave")
        shoot(page, shots, tmp_path, f"room-alert-{size}")
        page.context.close()
    signs.clear_alert("evac")

    page = open_page(browser, f"{signs.url}/signage/{ROOM}", "1080p")
    wait_for(lambda: "Offline-first" in (page.text_content("#now") or ""), what="the session on now")
    signs.process.stop()  # the appliance goes away: "offline" at once, the data's age after 15 s
    try:
        wait_for(lambda: "Updated" in (page.text_content("#age") or ""), timeout=30, what="the data's age")
        assert "Appliance offline" in (page.text_content("#link-state") or "")
        shoot(page, shots, tmp_path, "room-stale-offline-1080p")
    finally:
        page.context.close()
        signs.start_appliance()

    publish_screenshots(shots, "signage")
