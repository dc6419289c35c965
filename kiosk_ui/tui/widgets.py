"""Widgets more than one section uses: the link bar and the two questions every risky action asks.

Colours are never the only signal (16-colour terminals, colour-blind staff):
the link state is a word and a symbol, a confirmation names what will happen.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from kiosk_ui.tui.client import LinkState

LINK_WORDS: dict[LinkState, tuple[str, str]] = {
    "up": ("● online", "link-up"),
    "connecting": ("◌ connecting…", "link-connecting"),
    "down": ("✖ OFFLINE — retrying", "link-down"),
}


class LinkBar(Horizontal):
    """The top line: which appliance, which event, who is signed in, and whether the box answers.

    It follows the app's reactive attributes, so every screen's bar says the same thing the
    moment a request fails or the box comes back.
    """

    def compose(self) -> ComposeResult:
        yield Static("Konferenco", id="brand")
        yield Static("", id="where")
        yield Static("", id="who")
        yield Static("", id="link")

    def on_mount(self) -> None:
        app = self.app
        for name in ("appliance_url", "event_name"):
            self.watch(app, name, self._where)
        self.watch(app, "person", self._who)
        self.watch(app, "link", self._link)

    def _where(self, _: object = None) -> None:
        app = self.app
        text = f"{getattr(app, 'appliance_url', '')} · {getattr(app, 'event_name', '') or '—'}"
        self.query_one("#where", Static).update(text)

    def _who(self, person: str) -> None:
        self.query_one("#who", Static).update(person)

    def _link(self, link: LinkState) -> None:
        text, css = LINK_WORDS[link]
        label = self.query_one("#link", Static)
        label.update(text)
        label.set_classes(css)


class Confirm(ModalScreen[bool]):
    """Ask before an action that changes what the appliance holds; Enter does not confirm by accident."""

    BINDINGS = [Binding("escape", "dismiss(False)", "Cancel", id="modal.cancel")]

    def __init__(self, question: str, detail: str = "", *, confirm: str = "Confirm") -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        self.confirm_label = confirm

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, classes="dialog-title")
            if self.detail:
                yield Static(self.detail, classes="dialog-detail")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel (Esc)", id="cancel")
                yield Button(self.confirm_label, id="confirm", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed, "#confirm")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def _no(self) -> None:
        self.dismiss(False)


class AskReason(ModalScreen[str | None]):
    """Ask for the reason an action needs (reprint, reject, revoke): required, never a blank."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="modal.cancel")]

    def __init__(
        self, question: str, *, placeholder: str = "Reason", confirm: str = "Confirm", value: str = ""
    ) -> None:
        super().__init__()
        self.question = question
        self.placeholder = placeholder
        self.confirm_label = confirm
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, classes="dialog-title")
            yield Input(self.value, placeholder=self.placeholder, id="reason")
            yield Static("", id="reason-error", classes="field-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel (Esc)", id="cancel")
                yield Button(self.confirm_label, id="confirm", variant="warning")

    @on(Input.Submitted, "#reason")
    @on(Button.Pressed, "#confirm")
    def _submit(self) -> None:
        reason = self.query_one("#reason", Input).value.strip()
        if not reason:
            self.query_one("#reason-error", Static).update("✖ A reason is required.")
            self.query_one("#reason", Input).focus()
            return
        self.dismiss(reason)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
