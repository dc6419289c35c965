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
    from playwright.sync_api import Browser

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
