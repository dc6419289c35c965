"""The desk's two forms that talk back: registering a walk-in and linking an NFC tag.

Both stay open until the appliance has said yes, so a refusal is shown beside the
field it is about and nothing typed is lost; a silent appliance is told the same
way (the header already says OFFLINE), and the person tries again when it is back.
The checks made here are only the ones a person can fix before asking (a blank
name, an e-mail without ``@``, a UID that is not hex); the appliance decides the rest.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from kiosk_ui.tui.client import ApiError

#: What the appliance accepts as an e-mail (``WalkInRequest.email``), checked before sending.
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+\Z")
#: An NFC UID as the appliance stores it: 4 to 10 bytes in upper-case hex.
UID = re.compile(r"^([0-9A-F]{2}){4,10}\Z")
#: The walk-in form's fields, in the order they are shown (and focused on an error).
FIELDS = ("name", "company", "email", "ticket_type_id", "nfc_uid")
SILENT = "✖ The appliance does not answer. Nothing is lost: try again when the header says online."

Submit = Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]


def clean_uid(text: str) -> str:
    """A UID as people type or readers print it (``04:a2 1b...``) in the appliance's spelling."""
    return re.sub(r"[\s:.-]", "", text).upper()


def uid_problem(uid: str) -> str:
    """Why this (cleaned) UID cannot be a tag's, or an empty string when it can."""
    if not uid:
        return "✖ Tap the tag or type its UID."
    if not UID.match(uid):
        return "✖ A UID is 8 to 20 hex digits (0-9, A-F), e.g. 04A21B3C."
    return ""


class WalkInForm(ModalScreen[dict[str, Any] | None]):
    """Register someone at the desk: the form stays until the appliance has registered them."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="modal.cancel")]

    def __init__(self, ticket_types: list[tuple[str, str]], submit: Submit) -> None:
        """TICKET_TYPES: ``(name, id)`` pairs for the select.  SUBMIT: posts the body; raises
        :class:`ApiError` on a refusal, answers None when the appliance is silent."""
        super().__init__(id="walk-in")
        self.ticket_types = ticket_types
        self.submit = submit

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog form-dialog"):
            yield Label("Register a walk-in", classes="dialog-title")
            yield from self._row("name", "Name *", Input(placeholder="as on the badge", compact=True))
            yield from self._row("company", "Company", Input(compact=True))
            yield from self._row("email", "E-mail", Input(placeholder="name@example.org", compact=True))
            ticket: Select[str] = Select(self.ticket_types, prompt="choose…", compact=True)
            if len(self.ticket_types) == 1:
                ticket.value = self.ticket_types[0][1]
            yield from self._row("ticket_type_id", "Ticket *", ticket)
            yield from self._row("nfc_uid", "NFC tag", Input(placeholder="optional, hex UID", compact=True))
            message = Static("", id="wi-error", classes="field-error")
            message.display = False
            yield message
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel (Esc)", id="cancel", compact=True)
                yield Button("Register and print", id="confirm", variant="success", compact=True)

    def _row(self, field: str, label: str, widget: Input | Select[str]) -> ComposeResult:
        widget.id = f"wi-{field}"
        with Horizontal(classes="form-row"):
            yield Label(label, classes="form-label")
            yield widget
        error = Static("", id=f"wi-{field}-error", classes="field-error")
        error.display = False
        yield error

    def on_mount(self) -> None:
        self.query_one("#wi-name", Input).focus()

    def body(self) -> dict[str, Any]:
        """What is typed, as the appliance's ``WalkInRequest`` wants it."""
        ticket = self.query_one("#wi-ticket_type_id", Select).value
        return {
            "name": self.query_one("#wi-name", Input).value.strip(),
            "company": self.query_one("#wi-company", Input).value.strip(),
            "email": self.query_one("#wi-email", Input).value.strip(),
            "ticket_type_id": "" if ticket is Select.NULL else str(ticket),
            "nfc_uid": clean_uid(self.query_one("#wi-nfc_uid", Input).value),
        }

    def problems(self, body: dict[str, Any]) -> dict[str, str]:
        """What a person can fix before the appliance is asked."""
        found: dict[str, str] = {}
        if not body["name"]:
            found["name"] = "✖ A walk-in needs a name."
        if body["email"] and not EMAIL.match(body["email"]):
            found["email"] = "✖ Not an e-mail address (name@example.org)."
        if not body["ticket_type_id"]:
            found["ticket_type_id"] = "✖ Choose a ticket type."
        if body["nfc_uid"] and (problem := uid_problem(body["nfc_uid"])):
            found["nfc_uid"] = problem
        return found

    def show(self, errors: dict[str, str], general: str = "") -> None:
        """Put each message beside its field (the first such field gets the focus)."""
        for field in FIELDS:
            text = errors.get(field, "")
            widget = self.query_one(f"#wi-{field}-error", Static)
            widget.update(text)
            widget.display = bool(text)
        unplaced = [m for f, m in errors.items() if f not in FIELDS]
        self.say("\n".join([*unplaced, general]).strip())
        for field in FIELDS:
            if field in errors:
                self.query_one(f"#wi-{field}").focus()
                break

    def say(self, text: str, waiting: bool = False) -> None:
        """A message about the whole form (a refusal of no one field, the appliance silent)."""
        message = self.query_one("#wi-error", Static)
        message.update(text)
        message.display = bool(text)
        message.set_class(waiting, "muted")

    @on(Input.Submitted)
    @on(Button.Pressed, "#confirm")
    def _submit(self) -> None:
        body = self.body()
        errors = self.problems(body)
        self.show(errors)
        if not errors:
            self.say("… registering", waiting=True)
            self.send(body)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @work(exclusive=True, group="walk-in", exit_on_error=False)
    async def send(self, body: dict[str, Any]) -> None:
        try:
            answer = await self.submit(body)
        except ApiError as exc:
            errors = {k: f"✖ {m}" for k, m in exc.field_errors().items()}
            self.show(errors, "" if errors else f"✖ {exc.message}")
            return
        if answer is None:
            self.show({}, SILENT)
            return
        self.dismiss(answer)


class TagForm(ModalScreen[str | None]):
    """Wait for a tap on the desk's reader or a typed UID; answer the UID.

    The app already follows the live feed's ``tap`` topic for desk and organizer accounts and
    hands each event to the desk under this form, which passes it on (:meth:`tapped`): one
    stream per app, and a tap means "this tag" only while someone is waiting for one.
    """

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="modal.cancel")]

    def __init__(self, who: str) -> None:
        super().__init__(id="tag-form")
        self.who = who

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Link an NFC tag to {self.who}", classes="dialog-title")
            yield Static("Tap the tag on the desk reader (or type its UID).", classes="dialog-detail")
            yield Input(placeholder="UID, e.g. 04A21B3C", id="tag-uid", compact=True)
            yield Static("", id="tag-error", classes="field-error")
            yield Static("◌ Waiting for a tap on the desk reader…", id="tag-reader", classes="muted")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel (Esc)", id="cancel", compact=True)
                yield Button("Link tag", id="confirm", variant="warning", compact=True)

    def on_mount(self) -> None:
        self.query_one("#tag-uid", Input).focus()

    def tapped(self, uid: str) -> None:
        """A tag read on the desk's reader while this form waits: it is the one to link."""
        uid = clean_uid(uid)
        if not uid_problem(uid):
            self.query_one("#tag-uid", Input).value = uid
            self.dismiss(uid)

    @on(Input.Submitted, "#tag-uid")
    @on(Button.Pressed, "#confirm")
    def _submit(self) -> None:
        uid = clean_uid(self.query_one("#tag-uid", Input).value)
        problem = uid_problem(uid)
        self.query_one("#tag-error", Static).update(problem)
        if not problem:
            self.dismiss(uid)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
