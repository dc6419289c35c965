"""The front page's tests: the kiosk tests' venue (a demo appliance with a printer on a loopback
socket) and its staff, signed in through the page as a person signs in.

The ``venue``, ``driver`` and ``browser`` fixtures come from ``tests/kiosk_ui/conftest.py``; the demo
seed's staff accounts (Door, Desk, Kiosk, Organizer, their PINs in ``secrets/demo-staff.json``)
sign in here, and accounts a test locks out are made for it with ``konferenco appliance staff add``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from tests.helpers import konferenco
from tests.kiosk_ui.conftest import Venue

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 820, "height": 1180}
DESKTOP = {"width": 1920, "height": 1080}
VIEWPORTS = {"phone": PHONE, "tablet": TABLET, "1080p": DESKTOP}
COOKIE = "konferenco_front"


@pytest.fixture(scope="module")
def staff(venue: Venue) -> dict[str, dict[str, str]]:
    """The demo's accounts: name -> {"role", "pin"}."""
    found: dict[str, dict[str, str]] = json.loads((venue.data / "secrets" / "demo-staff.json").read_text())
    return found


def add_staff(venue: Venue, name: str, role: str, pin: str) -> None:
    """A staff account made on the serving box, as a technician makes one."""
    konferenco(
        "appliance", "staff", "add", "--data", str(venue.data), "--name", name, "--role", role, "--pin", pin
    )


def front(
    browser: Browser, venue: Venue, viewport: dict[str, int] | None = None, **kwargs: Any
) -> BrowserContext:
    """A fresh browser profile on the box's address (nothing signed in)."""
    return browser.new_context(viewport=viewport or TABLET, base_url=venue.url, **kwargs)  # type: ignore[arg-type]


def sign_in(page: Page, name: str, pin: str) -> None:
    """Type the name and PIN in the page's form and send it, as a person does."""
    page.goto("/")
    page.locator("#signin-name").fill(name)
    page.locator("#signin-pin").fill(pin)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
