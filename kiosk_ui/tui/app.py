"""The staff TUI: one Textual app, one appliance, one signed-in person at a time.

Sections are Textual modes, added when someone signs in (only those their role
may use) and removed when they sign out, so nothing of one person's screens is
left for the next.  Two workers keep the app in touch with the box: a heartbeat
(``/healthz`` every couple of seconds) and the live feed.  Every request reports
whether the box answered, so the link bar turns to OFFLINE at the first silent
request and back to online at the first answer; then the section on screen
re-reads what it shows and the live feed reopens.  Nothing on screen is cleared
while the box is away.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from textual import work
from textual.app import App
from textual.binding import Binding, BindingType, Keymap
from textual.reactive import reactive

from kiosk_ui.tui.base import SIGN_IN_AGAIN, SectionScreen
from kiosk_ui.tui.client import ApiError, ApplianceClient, LinkState, Unreachable
from kiosk_ui.tui.commands import StaffCommands
from kiosk_ui.tui.door_queue import state_dir as default_state_dir
from kiosk_ui.tui.sections import BY_ID, DESK, ORGANIZER, SECTIONS, sections_for
from kiosk_ui.tui.signin import SignInScreen
from kiosk_ui.tui.widgets import Confirm

#: Seconds between heartbeats: how soon OFFLINE shows on a quiet screen, and how soon it clears.
HEARTBEAT_S = 2.0


class StaffApp(App[None]):
    """The staff terminal UI of one appliance."""

    CSS_PATH: ClassVar[list[str | PurePath]] = [
        "staff.tcss", "desk.tcss", "door.tcss", "queue.tcss", "status.tcss", "proposals.tcss",
    ]  # fmt: skip
    TITLE = "Konferenco staff"
    COMMANDS = App.COMMANDS | {StaffCommands}
    COMMAND_PALETTE_BINDING = "ctrl+p"
    MODES: ClassVar[dict[str, Any]] = {"signin": SignInScreen}
    DEFAULT_MODE = "signin"
    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(s.key, f"open_section('{s.id}')", s.title, id=f"section.{s.id}", priority=True)
            for s in SECTIONS
        ),
        Binding("ctrl+o", "sign_out", "Sign out", id="app.sign_out", priority=True),
    ]

    link: reactive[LinkState] = reactive[LinkState]("connecting")
    person: reactive[str] = reactive("not signed in")
    event_name: reactive[str] = reactive("")
    appliance_url: reactive[str] = reactive("")

    def __init__(
        self,
        appliance: str,
        *,
        label: str = "",
        clock: Callable[[], float] = time.time,
        keymap: Keymap | None = None,
        heartbeat_s: float = HEARTBEAT_S,
        state_dir: Path | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """APPLIANCE: its URL.  LABEL: how the header names it (the name heard on the LAN; default
        the URL).  CLOCK: seconds since the epoch, for "12 s ago" (fixed in snapshot tests).
        STATE_DIR: where unconfirmed door scans wait on disk (default ``$XDG_STATE_HOME/konferenco``)."""
        super().__init__()
        self.client = ApplianceClient(appliance, on_link=self._on_link, transport=transport)
        self.label = label
        self.clock = clock
        self.timezone: dt.tzinfo = dt.UTC
        self.event_id = ""
        self.heartbeat_s = heartbeat_s
        self.state_dir = state_dir or default_state_dir()
        self._keymap = dict(keymap or {})
        self._reauth_of: str | None = None  # staff id whose expired session the sign-in screen resumes
        self.live_events = 0

    # --- start and link -------------------------------------------------------------------

    def on_mount(self) -> None:
        self.appliance_url = self.label or self.client.base_url
        if self._keymap:
            self.set_keymap(self._keymap)
        self.heartbeat()
        self.follow_live()

    async def on_unmount(self) -> None:
        await self.client.aclose()

    def _on_link(self, state: LinkState) -> None:
        previous, self.link = self.link, state
        if previous == "down" and state == "up":
            self.notify("The appliance answers again.", title="Back online", timeout=4)
            if isinstance(self.screen, SectionScreen):
                self.screen.refresh_section()

    def appliance_silent(self) -> None:
        """A section's request got no answer: the bar already says OFFLINE; the heartbeat reconnects."""
        self.link = "down"

    @work(group="heartbeat", exit_on_error=False)
    async def heartbeat(self) -> None:
        """Ask the box, every beat, whether it answers and whether this sign-in still holds.

        Signed in, the beat is ``/api/v1/auth/me``: a shift that ends shows the sign-in at
        once, not at the next action.  The client sets the link state from every answer.
        """
        while True:
            staff = self.client.staff
            try:
                if staff is not None and self._reauth_of is None:
                    await self.client.get("/api/v1/auth/me")
                else:
                    await self.client.ping()
            except Unreachable:
                pass
            except ApiError as exc:
                if exc.status == 401 and exc.code in SIGN_IN_AGAIN:
                    self.sign_in_again(exc.message, staff.token if staff is not None else None)
            await asyncio.sleep(self.heartbeat_s)

    @work(group="live", exit_on_error=False)
    async def follow_live(self) -> None:
        """Hand live-feed events to the section on screen; reopen the feed whenever it breaks."""
        while True:
            if self.client.staff is None:
                await asyncio.sleep(0.5)
                continue
            desk = self.client.staff.role in (DESK, ORGANIZER)  # taps of the desk's reader are theirs
            try:
                async for topic, payload in self.client.live("print,scan,tap" if desk else "print,scan"):
                    self.live_events += 1
                    # the section on show, even under a modal (a walk-in form waits for its badge)
                    section = next(
                        (s for s in reversed(self.screen_stack) if isinstance(s, SectionScreen)), None
                    )
                    if section is not None:
                        section.on_live(topic, payload)
            except (Unreachable, ApiError):
                pass
            await asyncio.sleep(1.0)

    # --- who is signed in -------------------------------------------------------------------

    async def signed_in(self) -> None:
        """The sign-in screen succeeded: resume an expired session, or open this person's sections."""
        staff = self.client.staff
        assert staff is not None
        self.person = f"{staff.name} ({staff.role})"
        if self._reauth_of is not None:
            same = self._reauth_of == staff.staff_id
            self._reauth_of = None
            if same:
                self.pop_screen()
                if isinstance(self.screen, SectionScreen):
                    self.screen.refresh_section()
                return
            await self._close_sections()
        await self._learn_event()
        allowed = sections_for(staff.role)
        for section in allowed:
            self.add_mode(section.id, section.screen)
        await self.switch_mode(allowed[0].id)

    async def _learn_event(self) -> None:
        try:
            public = await self.client.get("/api/v1/overview/public")
        except (Unreachable, ApiError):
            return
        events = public.get("events") or []
        if events:
            first = events[0]
            self.event_id = str(first.get("id") or "")
            self.event_name = str(first.get("name") or self.event_id)
            try:
                self.timezone = ZoneInfo(str(first.get("timezone") or "UTC"))
            except (ZoneInfoNotFoundError, ValueError):
                self.timezone = dt.UTC

    async def _close_sections(self) -> None:
        if self.current_mode != "signin":
            await self.switch_mode("signin")
        for section in SECTIONS:
            if section.id in self._modes:  # nothing of one person's screens stays for the next
                await self.remove_mode(section.id)

    def sign_in_again(self, reason: str, token: str | None) -> None:
        """The token expired mid-shift: ask for the PIN again over the screen, which stays as it was.

        TOKEN is what the refused request was sent with. A refusal that arrives after the person
        signed in again answers a request sent with the old token (a section's reload in flight):
        it must not ask for the PIN a second time.
        """
        if self._reauth_of is not None or self.client.staff is None:
            return
        if token != self.client.staff.token:
            return
        self._reauth_of = self.client.staff.staff_id
        self.client.sign_out()
        self.push_screen(SignInScreen(f"Your sign-in ended ({reason}). Sign in again to go on."))

    def unsaved_work(self) -> str | None:
        """What a section still holds that the appliance has not confirmed (sign-out must not drop it)."""
        for section in SECTIONS:
            for screen in self._screen_stacks.get(section.id, []):
                if isinstance(screen, SectionScreen) and (held := screen.unsaved()):
                    return held
        return None

    async def action_sign_out(self) -> None:
        if self.client.staff is None:
            return
        held = self.unsaved_work()
        if held:
            self.notify(f"Not signed out: {held}", title="Wait", severity="warning", timeout=8)
            return
        await self._sign_out()

    async def _sign_out(self) -> None:
        self.client.sign_out()
        self.person = "not signed in"
        await self._close_sections()

    # --- sections ---------------------------------------------------------------------------

    async def action_open_section(self, section_id: str) -> None:
        if self.check_action("open_section", (section_id,)):
            await self.switch_mode(section_id)

    def open_section(self, section_id: str) -> None:
        """For the command palette: open a section by id."""
        self.run_worker(self.action_open_section(section_id), exit_on_error=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        staff = self.client.staff
        if action == "open_section":
            section = BY_ID.get(str(parameters[0])) if parameters else None
            return bool(staff and section and staff.role in section.roles and self._reauth_of is None)
        if action == "sign_out":
            return staff is not None
        return True

    async def confirm(self, question: str, detail: str = "", *, confirm: str = "Confirm") -> bool:
        """Ask in a modal (from a worker); True only when the person chose to go on."""
        answer = await self.push_screen_wait(Confirm(question, detail, confirm=confirm))
        return bool(answer)
