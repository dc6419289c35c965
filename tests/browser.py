"""Debian's Chromium through Playwright, the one way every browser test starts it.

No ``playwright install``: the venue has no internet and neither does CI, so
the tests drive the distribution's ``/usr/bin/chromium``.  A machine without
it (or without the dev extra) skips the browser tests with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

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
