"""Sign in with name and PIN: the first screen, and the one an expired shift comes back to.

The appliance decides (offline, with its own lock-out after wrong PINs); this
screen only shows its sentence in place and keeps the name typed.  A kiosk
account is refused here: its token is for the attendees' self check-in, and the
staff terminal would offer it nothing.
"""

from __future__ import annotations

from typing import cast

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Center, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static

from kiosk_ui.tui.client import ApiError, Unreachable
from kiosk_ui.tui.host import StaffHost
from kiosk_ui.tui.sections import sections_for
from kiosk_ui.tui.widgets import LinkBar


class SignInScreen(Screen[None]):
    """Name and PIN; on success the app opens the first section the role may use."""

    def __init__(self, reason: str = "") -> None:
        super().__init__()
        self.reason = reason

    def compose(self) -> ComposeResult:
        yield LinkBar()
        with Center(), Vertical(id="signin", classes="dialog"):
            yield Label("Staff sign-in", classes="dialog-title")
            yield Static(self.reason, id="signin-reason")
            yield Label("Name", classes="field-label")
            yield Input(placeholder="Your name as the organizer set it", id="name")
            yield Label("PIN", classes="field-label")
            yield Input(placeholder="PIN or password", password=True, id="pin")
            yield Static("", id="signin-error", classes="field-error")
            yield Button("Sign in", id="signin-button", variant="primary")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    @on(Input.Submitted, "#name")
    def _to_pin(self) -> None:
        self.query_one("#pin", Input).focus()

    @on(Input.Submitted, "#pin")
    @on(Button.Pressed, "#signin-button")
    def _submit(self) -> None:
        name = self.query_one("#name", Input).value.strip()
        pin = self.query_one("#pin", Input).value
        if not name or not pin:
            self._say("✖ Type your name and your PIN.")
            self.query_one("#pin" if name else "#name", Input).focus()
            return
        self._say("◌ Signing in…")
        self.sign_in(name, pin)

    def _say(self, text: str) -> None:
        self.query_one("#signin-error", Static).update(text)

    @work(exclusive=True, group="signin")
    async def sign_in(self, name: str, pin: str) -> None:
        app = cast(StaffHost, self.app)
        pin_input = self.query_one("#pin", Input)
        try:
            staff = await app.client.sign_in(name, pin)
        except Unreachable:
            self._say("✖ The appliance does not answer. Check its cable or Wi-Fi; try again in a moment.")
            return
        except ApiError as exc:
            pin_input.value = ""
            pin_input.focus()
            self._say(f"✖ {exc.message}")
            return
        pin_input.value = ""
        if not sections_for(staff.role):
            app.client.sign_out()
            self._say(
                f"✖ A {staff.role} account cannot use the staff terminal: sign in with a staff account."
            )
            return
        self._say("")
        await app.signed_in()
