"""Debian's Chromium through Playwright, the one way every browser test starts it.

No ``playwright install``: the venue has no internet and neither does CI, so
the tests drive the distribution's ``/usr/bin/chromium``.  A machine without
it (or without the dev extra) skips the browser tests with the reason.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

CHROMIUM = Path("/usr/bin/chromium")
#: Headless in a container, and quiet: no update checks or sync that would reach for the internet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--font-render-hinting=none",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium.  Start it after any ``asyncio.run`` setup: Playwright's sync API runs
    an event loop in this thread until the browser is closed."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (browser tests need a real Chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev extra")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def playwright_driver() -> Iterator[Playwright]:
    """Playwright's sync API for a test module, started after its appliance (the sync API then owns
    this thread's event loop), with the 10 s ``expect`` timeout two shared cores need."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (browser tests need a real Chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev extra")
    sync_api.expect.set_options(timeout=10_000)
    with sync_api.sync_playwright() as playwright:
        yield playwright


#: axe-core, from tests/js (npm, with the lock file; ``make setup`` installs it).
AXE = Path(__file__).resolve().parent / "js" / "node_modules" / "axe-core" / "axe.min.js"
#: WCAG 2.2 level AA and everything below it, as axe-core tags them.
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]


def wcag_violations(page: Page) -> list[str]:
    """What axe-core finds against WCAG 2.2 AA on the page as it is now, one line per rule.

    The page's context must allow the injected script (``bypass_csp=True``): our pages forbid
    inline scripts, which is right for them and wrong for a test harness.
    """
    if not AXE.exists():
        pytest.skip(f"{AXE} is missing: run 'make setup' (npm ci in tests/js)")
    page.add_script_tag(path=str(AXE))
    found: list[dict[str, object]] = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                where: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
            }));
        }""",
        WCAG_AA,
    )
    return [f"{v['id']} ({v['impact']}): {v['help']} at {v['where']}" for v in found]


#: ``make screenshots`` sets it to ``docs/screenshots``: the screen tests then publish what they shot.
SCREENSHOTS_ENV = "KONFERENCO_SCREENSHOTS"


def publish_screenshots(shots: Iterable[Path], page_name: str) -> None:
    """Copy the shots into ``$KONFERENCO_SCREENSHOTS/<page_name>/`` when it is set; else keep them in tmp.

    A normal test run draws every screen (the axe check needs it) but leaves the committed
    pictures alone, so they change only when someone means to redraw and look at them.
    """
    target = os.environ.get(SCREENSHOTS_ENV)
    if not target:
        return
    folder = Path(target) / page_name
    folder.mkdir(parents=True, exist_ok=True)
    for shot in shots:
        shutil.copyfile(shot, folder / shot.name)


def small_targets(page: Page, selector: str) -> list[str]:
    """The visible elements matching ``selector`` smaller than 44 x 44 CSS px (WCAG 2.5.8 and the
    platforms' touch guidelines), each as the start of its HTML."""
    found: list[str] = page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)]
            .filter((e) => e.offsetParent !== null)
            .filter((e) => { const r = e.getBoundingClientRect(); return r.width < 44 || r.height < 44; })
            .map((e) => e.outerHTML.slice(0, 80))""",
        selector,
    )
    return found
