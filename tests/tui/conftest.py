"""The staff TUI's tests: the real app, driven by Textual's pilot, against a real appliance process.

The venue is the kiosk tests' (``konferenco demo seed`` with 60 attendees, seed 7,
an ESC/POS capture socket as its printer, grassroots proposals open), and the
staff are the demo's own accounts with the PINs the seed wrote for them
(``secrets/demo-staff.json``), signed in through the TUI's sign-in screen as a
person does.  One appliance per test module; each test takes attendees no other
test of its module uses (``venue.take()``).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from kiosk_ui.tui.app import StaffApp
from tests.helpers import wait_for
from tests.kiosk_ui.conftest import Venue, make_venue

#: The demo's staff accounts (appliance/demo.py STAFF), by role.
NAMES = {"door": "Door", "desk": "Desk", "kiosk": "Kiosk", "organizer": "Organizer"}
#: A fixed moment for snapshots (their "ago" and clock texts must not move between runs).
FIXED_NOW = dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.UTC).timestamp()


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venue]:
    yield from make_venue(tmp_path_factory.mktemp("tui-venue"))


def pins(venue: Venue) -> dict[str, str]:
    """Each demo account's PIN by role, as ``konferenco demo seed`` wrote them (mode 0600)."""
    data: dict[str, Any] = json.loads((venue.data / "secrets" / "demo-staff.json").read_text())
    return {entry["role"]: entry["pin"] for entry in data.values()}


def staff_app(venue: Venue, **kwargs: Any) -> StaffApp:
    """The TUI pointed at the venue's appliance; a quick heartbeat so link changes show fast."""
    kwargs.setdefault("heartbeat_s", 0.5)
    kwargs.setdefault("state_dir", venue.root / "tui-state")  # the door's queue file, per module
    return StaffApp(venue.url, **kwargs)


async def sign_in(pilot: Pilot[Any], venue: Venue, role: str, *, pin: str | None = None) -> None:
    """Type the account's name and PIN on the sign-in screen and wait for the first section."""
    app = pilot.app
    await wait_until(pilot, lambda: bool(app.screen.query("#name")), "the sign-in screen")
    app.screen.query_one("#name", Input).value = NAMES[role]
    app.screen.query_one("#pin", Input).value = pin if pin is not None else pins(venue)[role]
    app.screen.query_one("#pin", Input).focus()
    await pilot.press("enter")
    if pin is None:
        await wait_until(pilot, lambda: app.current_mode != "signin", f"the {role} to be signed in")


async def wait_until(pilot: Pilot[Any], check: Any, what: str, within: float = 10) -> None:
    """Let the app run until CHECK holds (workers answer in their own time), or fail naming WHAT."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out after {within:g} s waiting for {what}")


__all__ = ["FIXED_NOW", "NAMES", "Venue", "pins", "sign_in", "staff_app", "wait_for", "wait_until"]
