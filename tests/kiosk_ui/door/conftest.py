"""A door volunteer's phone against a real demo appliance (the kiosk tests' ``Venue``).

The appliance, its roster and Chromium come from ``tests/kiosk_ui/conftest.py`` (the same
``konferenco demo seed`` venue); here is what a door adds: the demo "Door" account's PIN
(``DATA/secrets/demo-staff.json``, written by ``demo seed``), a page signed in and set up at a
gate the way a volunteer does it, and a keyboard-wedge scan typed as a scanner types it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.kiosk_ui.conftest import Venue, make_venue

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, ViewportSize

PHONE: ViewportSize = {"width": 390, "height": 844}
TABLET: ViewportSize = {"width": 820, "height": 1180}
DESKTOP: ViewportSize = {"width": 1920, "height": 1080}


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venue]:
    """The kiosk tests' venue with a longer roster: a door test scans dozens of people."""
    yield from make_venue(tmp_path_factory.mktemp("door"), attendees=200)


def staff_pin(venue: Venue, name: str = "Door") -> str:
    accounts: dict[str, dict[str, str]] = json.loads((venue.data / "secrets" / "demo-staff.json").read_text())
    return accounts[name]["pin"]


def sign_in(page: Page, venue: Venue, name: str = "Door", pin: str | None = None) -> None:
    page.goto(f"{venue.url}/door")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("PIN", exact=True).fill(pin or staff_pin(venue, name))
    page.get_by_role("button", name="Sign in").click()


def set_up(
    page: Page, gate: str = "South entrance", checkin_list: str = "Main entrance", exit: bool = False
) -> None:
    page.get_by_label("Gate", exact=True).select_option(label=gate)
    page.get_by_label("Check-in list", exact=True).select_option(label=checkin_list)
    page.get_by_label("Exit: people leaving" if exit else "Entry: people coming in").check()
    page.get_by_role("button", name="Start scanning").click()
    page.locator('[data-section="ready"]').wait_for(state="visible")


def door_page(context: BrowserContext, venue: Venue, gate: str = "South entrance", **kwargs: Any) -> Page:
    """A page signed in as the demo door account and scanning at GATE."""
    page = context.new_page()
    sign_in(page, venue)
    set_up(page, gate, **kwargs)
    return page


def wedge(page: Page, code: str) -> None:
    """A keyboard-wedge scanner: the code as fast keystrokes, then Enter (never into a text field)."""
    page.keyboard.type(code, delay=1)
    page.keyboard.press("Enter")


def result(page: Page) -> Any:
    return page.locator("[data-result]")


def scan_by_desk(venue: Venue, code: str, gate: str) -> dict[str, Any]:
    """Another device at the same gate (the desk's token over the API)."""
    answer = venue.desk("POST", "/api/v1/scans", json={"code": code, "gate": gate, "nonce": uuid.uuid4().hex})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def counts(venue: Venue, gate: str, checkin_list: str = "main") -> dict[str, Any]:
    answer = venue.desk("GET", "/api/v1/door/counts", params={"gate": gate, "list": checkin_list})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def door_token(venue: Venue) -> str:
    answer = httpx.post(
        f"{venue.url}/api/v1/auth/login", json={"name": "Door", "secret": staff_pin(venue)}, timeout=15
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])
