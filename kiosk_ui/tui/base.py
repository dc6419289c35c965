"""What every section screen shares: the client, the clock, reloading, and how failures are told.

A section shows what the appliance says and nothing of its own, so each has one
``reload()`` that re-reads what it shows: called when it is first shown, when it
is shown again, when the appliance comes back after a drop, and after an action.
Live-feed events reach the section on screen through ``on_live``.  Failures are
sorted once here: a refusal is the screen's to show where the action was; a
silent appliance is the header's (the screen keeps what it shows); an expired
token sends the person to sign in again without losing the screen.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable
from typing import Any, TypeVar, cast

from textual import work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from kiosk_ui.tui.client import ApiError, ApplianceClient, Unreachable
from kiosk_ui.tui.host import StaffHost
from kiosk_ui.tui.widgets import LinkBar

T = TypeVar("T")

#: Codes that mean "sign in again" rather than "you may not".
SIGN_IN_AGAIN = frozenset({"token_expired", "unauthorized"})


class SectionScreen(Screen[None]):
    """A top-level section of the TUI (one mode): the link bar, the section's body, the footer."""

    def compose(self) -> ComposeResult:
        yield LinkBar()
        yield from self.compose_body()
        yield Footer(compact=True)

    def compose_body(self) -> ComposeResult:
        """The section's own widgets, between the link bar and the footer."""
        yield from ()

    @property
    def staff_app(self) -> StaffHost:
        return cast(StaffHost, self.app)

    @property
    def client(self) -> ApplianceClient:
        return self.staff_app.client

    @property
    def role(self) -> str:
        staff = self.client.staff
        return staff.role if staff else ""

    def now(self) -> float:
        """Seconds since the epoch from the app's clock (fixed in snapshot tests)."""
        return self.staff_app.clock()

    def local_time(self, at_ms: int | float | None, fmt: str = "%H:%M:%S") -> str:
        """An appliance timestamp (ms) in the event's time zone, or an em dash for none."""
        if not at_ms:
            return "—"
        moment = dt.datetime.fromtimestamp(float(at_ms) / 1000, tz=dt.UTC).astimezone(self.staff_app.timezone)
        return moment.strftime(fmt)

    def ago(self, at_ms: int | float | None) -> str:
        """How long ago, by the app's clock: ``12 s ago``, ``5 min ago``, ``3 h ago``."""
        if not at_ms:
            return "never"
        seconds = max(0, int(self.now() - float(at_ms) / 1000))
        if seconds < 90:
            return f"{seconds} s ago"
        if seconds < 90 * 60:
            return f"{seconds // 60} min ago"
        return f"{seconds // 3600} h ago"

    async def call(self, work: Awaitable[T]) -> T | None:
        """Await an API call; None (and the fault told) when the box is silent or the token expired.

        A refusal (:class:`ApiError` other than an expired sign-in) is raised for the
        screen to show beside the action; nothing here swallows it.
        """
        staff = self.staff_app.client.staff
        token = staff.token if staff is not None else None  # what this request is sent with
        try:
            return await work
        except Unreachable:
            self.staff_app.appliance_silent()
            return None
        except ApiError as exc:
            if exc.status == 401 and exc.code in SIGN_IN_AGAIN:
                self.staff_app.sign_in_again(exc.message, token)
                return None
            raise

    async def reload(self) -> None:
        """Re-read what this section shows from the appliance (each section fills this in)."""

    def unsaved(self) -> str | None:
        """What this section holds that the appliance has not confirmed, told to a person; or None."""
        return None

    def on_live(self, topic: str, payload: dict[str, Any]) -> None:
        """A live-feed event while this section is on screen (print job changes, scans)."""

    @work(group="reload", exclusive=True, exit_on_error=False)
    async def refresh_section(self) -> None:
        """Reload in a worker; a newer reload replaces one still waiting for its answer."""
        try:
            await self.call(self.reload())
        except ApiError as exc:  # a section the appliance refuses (role, missing printer): say so
            self.notify(exc.message, title="The appliance refused", severity="error", timeout=8)

    def on_screen_resume(self) -> None:
        """Shown (first time, or again): what it shows may have changed meanwhile."""
        self.refresh_section()
