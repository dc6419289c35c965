"""The door: scan badges at a gate with a keyboard-wedge scanner or by typing, and see the door's answer.

The appliance decides every scan; this screen sends each one to ``POST
/api/v1/scans`` and shows what comes back, worded and coloured as the web door
page does (``kiosk_ui/static/door/door.js``), so a volunteer reads the same
answer on a phone and on a terminal.  A scan gets its nonce when it is entered
and keeps it until the appliance answered, and scans are sent one at a time in
the order they were made: when the box does not answer, the scan stays in a
pending list ("saved, not yet confirmed") and is sent again, with the same nonce,
when the link comes back, so a retry never counts a person twice.  The pending list
is on disk (``door_queue.py``) from the moment a scan is entered until it is
answered, so closing or killing the TUI loses none of them either.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Select, Static

from kiosk_ui.tui.base import SectionScreen
from kiosk_ui.tui.client import ApiError
from kiosk_ui.tui.door_queue import DoorQueueFile

#: The door's refusal results in words (``door.js`` REASONS), for the gate's figures.
REASONS = {
    "already_admitted": "Already admitted",
    "invalid": "Not a valid badge",
    "revoked": "Badge revoked",
    "not_yet_valid": "Not valid yet",
    "expired": "No longer valid",
    "wrong_list": "Wrong list or ticket",
    "unknown_badge": "Unknown badge",
    "room_full": "Room full",
}
#: What each kind of answer says, with a symbol so colour is never the only signal.
WORDS = {
    "admitted": "✔ ADMITTED",
    "exit": "✔ EXIT RECORDED",
    "note": "! ADMITTED — NOTE",
    "refused": "✖ REFUSED",
    "saved": "◷ SAVED — NOT YET CONFIRMED",
    "failed": "✖ NOT RECORDED",
    "annulled": "↺ ANNULLED",
}
#: The CSS class (and colour) of each kind: green, yellow, red, or the neutral "waiting".
CLASSES = {
    "admitted": "ok",
    "exit": "ok",
    "note": "note",
    "refused": "bad",
    "failed": "bad",
    "saved": "waiting",
    "annulled": "waiting",
}
#: Answers kept in the "last results" table.
RECENT = 20
#: Seconds without an answer after which a scan is shown as saved (as the web door: 1.5 s).
SAVED_AFTER_S = 1.5
#: Seconds between attempts to send saved scans while the appliance is away.
RETRY_S = 2.0
DIRECTIONS = [("→ Entry", "entry"), ("← Exit", "exit")]


@dataclass
class PendingScan:
    """A scan entered here that the appliance has not answered yet; its nonce makes a resend count once."""

    code: str
    gate: str
    list: str
    direction: str
    at: float  # when it was entered, by the app's clock
    nonce: str = field(default_factory=lambda: uuid.uuid4().hex)
    saved: bool = False  # shown as "saved, not yet confirmed" (the box did not answer at once)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "gate": self.gate,
            "direction": self.direction,
            "nonce": self.nonce,
        }
        if self.list:
            body["list"] = self.list
        return body


def left_from_before(queue: DoorQueueFile) -> list[PendingScan]:
    """The unconfirmed scans a closed or killed TUI left on disk, to be sent first."""
    names = {f.name for f in fields(PendingScan)}
    out = []
    for stored in queue.load():
        try:
            out.append(PendingScan(**{k: v for k, v in stored.items() if k in names - {"saved"}}, saved=True))
        except TypeError:  # a field missing: not a scan this version wrote
            continue
    return out


def kind_of(answer: dict[str, Any]) -> str:
    """Green, yellow or red, as the web door decides (``door.js`` kindOf)."""
    if answer.get("result") != "admitted":
        return "refused"
    if answer.get("replayed"):
        return "note"
    first = answer.get("first_admitted") or {}
    if (
        answer.get("direction") == "entry"
        and first
        and int(first.get("at") or 0) < int(answer.get("at") or 0)
    ):
        return "note"
    return "exit" if answer.get("direction") == "exit" else "admitted"


class DoorScreen(SectionScreen):
    """One gate's scanner: where, the scan field, the answer, the last answers and the gate's figures."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+g", "choose('#door-gate')", "Gate", id="door.gate"),
        Binding("ctrl+l", "choose('#door-list')", "List", id="door.list"),
        Binding("ctrl+t", "toggle_direction", "Entry/exit", id="door.direction"),
        Binding("ctrl+n", "annul", "Annul last", id="door.annul"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.setup: dict[str, Any] | None = None
        self.pending: list[PendingScan] = []
        self.last_admission: dict[str, str] | None = None  # {"scan_id", "name"}: what "annul" undoes
        self._draining = False
        self._counts_stale = False
        self._rows: list[tuple[str | Text, ...]] = []  # the last answers, newest first

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="door-where"):
            yield Select[str]([], prompt="Gate", id="door-gate", allow_blank=True)
            yield Select[str]([], prompt="List", id="door-list", allow_blank=True)
            yield Select[str](DIRECTIONS, value="entry", allow_blank=False, id="door-direction")
        yield Input(placeholder="Scan a badge, or type its code and press Enter", id="door-code")
        with Vertical(id="door-answer"):
            yield Static("Ready: scan a badge.", id="door-word", classes="waiting")
            yield Static("", id="door-reason")
            yield Static("", id="door-who")
        yield Static("", id="door-pending")
        with Horizontal(id="door-lower"):
            table: DataTable[str | Text] = DataTable(id="door-recent", cursor_type="none", zebra_stripes=True)
            table.can_focus = False  # the scan field keeps the focus: a queue of people needs no mouse
            yield table
            with Vertical(id="door-side"):
                yield Static("", id="door-counts")
                yield Static("", id="door-last")

    def on_mount(self) -> None:
        self.queue = DoorQueueFile(self.staff_app.state_dir, self.client.base_url)
        self.pending = left_from_before(self.queue)
        table = self.query_one("#door-recent", DataTable)
        table.add_columns("Time", "Answer", "Name", "Ticket", "The door says")
        self.set_interval(RETRY_S, self._retry_pending)
        self.set_interval(1.0, self._tick)
        self._show_pending()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.query_one("#door-code" if self.gate else "#door-gate").focus()

    # --- where this door is ------------------------------------------------------------------

    @property
    def gate(self) -> str:
        value = self.query_one("#door-gate", Select).value
        return value if isinstance(value, str) else ""

    @property
    def list_id(self) -> str:
        value = self.query_one("#door-list", Select).value
        return value if isinstance(value, str) else ""

    @property
    def direction(self) -> str:
        value = self.query_one("#door-direction", Select).value
        return value if isinstance(value, str) else "entry"

    def _name_of(self, kind: str, item_id: str) -> str:
        for option in (self.setup or {}).get(kind) or []:
            if option.get("id") == item_id:
                return str(option.get("name") or item_id)
        return item_id

    async def reload(self) -> None:
        """Learn the gates once (the choice is kept for the session), send saved scans, read the figures."""
        if self.pending:
            self.drain()
        if self.setup is None:
            setup = await self.call(self.client.get("/api/v1/door/setup"))
            if setup is None:
                return
            self.setup = setup
            gates = [(str(g["name"]), str(g["id"])) for g in setup.get("gates") or []]
            lists = [(str(li["name"]), str(li["id"])) for li in setup.get("lists") or []]
            self.query_one("#door-list", Select).set_options(lists)
            gate_select = self.query_one("#door-gate", Select)
            gate_select.set_options(gates)  # no gate is assumed: a scan at the wrong gate counts wrong
            self.query_one("#door-word", Static).update("Choose the gate (Ctrl+G), then scan.")
            gate_select.focus()
        await self._load_counts()

    @on(Select.Changed, "#door-gate")
    def _gate_changed(self) -> None:
        """A gate brings its usual list, as on the web door; another list may then be chosen."""
        for gate in (self.setup or {}).get("gates") or []:
            if gate.get("id") == self.gate and gate.get("default_list"):
                self.query_one("#door-list", Select).value = str(gate["default_list"])
        word = self.query_one("#door-word", Static)
        if self.gate and word.has_class("waiting") and not self._rows:
            word.update("Ready: scan a badge.")
        self._where_changed()

    @on(Select.Changed, "#door-list")
    @on(Select.Changed, "#door-direction")
    def _where_changed(self) -> None:
        self.counts_changed()
        if self.gate:  # chosen: back to scanning
            self.query_one("#door-code", Input).focus()

    def action_choose(self, selector: str) -> None:
        self.query_one(selector, Select).focus()

    def action_toggle_direction(self) -> None:
        select = self.query_one("#door-direction", Select)
        select.value = "exit" if self.direction == "entry" else "entry"

    # --- scanning ----------------------------------------------------------------------------

    @on(Input.Submitted, "#door-code")
    def _scanned(self, event: Input.Submitted) -> None:
        code = event.value.strip()
        event.input.value = ""
        event.input.focus()
        if not code:
            return
        if not self.gate:
            self._show("failed", "Choose the gate first (Ctrl+G): the scan was not sent.")
            self.query_one("#door-gate", Select).focus()
            return
        scan = PendingScan(code, self.gate, self.list_id, self.direction, self.now())
        self.pending.append(scan)
        self._persist()  # on disk before it is sent: a crash now loses nothing
        self.set_timer(SAVED_AFTER_S, lambda: self._slow(scan))
        self.drain()

    @work(group="door-drain", exit_on_error=False)
    async def drain(self) -> None:
        """Send the pending scans in the order they were made, one at a time, until one gets no answer."""
        if self._draining:
            return
        self._draining = True
        try:
            while self.pending:
                scan = self.pending[0]
                try:
                    answer = await self.call(self.client.post("/api/v1/scans", scan.body()))
                except ApiError as exc:
                    if exc.status >= 500:  # the box is in trouble, not the scan: keep it for later
                        self._mark_saved()
                        break
                    self.pending.pop(0)  # refused as a request (a malformed code...): it will never pass
                    self._persist()
                    self._record(scan, "failed", exc.message, None)
                    self._show("failed", exc.message)
                    continue
                if answer is None:  # the box is silent: keep them all, say so, try again later
                    self._mark_saved()
                    break
                self.pending.pop(0)
                self._persist()
                self._answered(scan, answer)
        finally:
            self._draining = False
            self._show_pending()
        self.counts_changed()

    def _persist(self) -> None:
        try:
            self.queue.save([asdict(scan) for scan in self.pending])
        except OSError as exc:  # a full or read-only disk: the scans are still held in memory
            self.notify(f"Could not keep the unconfirmed scans on disk: {exc}", severity="error", timeout=10)

    def _mark_saved(self) -> None:
        """Every pending scan is now "saved, not yet confirmed"; say so once for those new to it."""
        fresh = [scan for scan in self.pending if not scan.saved]
        for scan in fresh:
            scan.saved = True
        if fresh:
            self._show(
                "saved",
                "No answer from the appliance. The scan is kept here and will be sent when it answers.",
            )
        self._show_pending()

    def _slow(self, scan: PendingScan) -> None:
        """Still no answer a moment after the scan: the person in front should not wait for a timeout."""
        if scan in self.pending and not scan.saved:
            self._mark_saved()

    def _retry_pending(self) -> None:
        if self.pending and not self._draining:
            self.drain()

    def _answered(self, scan: PendingScan, answer: dict[str, Any]) -> None:
        kind = kind_of(answer)
        attendee = answer.get("attendee") or {}
        self._record(scan, kind, str(answer.get("reason") or ""), attendee)
        note = self._note(answer, kind)
        reason = str(answer.get("reason") or "")
        self._show(kind, f"{reason}\n{note}" if note else reason, attendee)
        if kind == "refused" and scan.saved:
            self.notify(
                f"A saved scan was refused: {reason}", title="Check who went in", severity="error", timeout=12
            )
        if (
            answer.get("result") == "admitted"
            and answer.get("direction") == "entry"
            and not answer.get("replayed")
        ):
            self.last_admission = {"scan_id": str(answer["scan_id"]), "name": str(attendee.get("name") or "")}
            self.query_one("#door-last", Static).update(
                f"Last admitted: {self.last_admission['name']}  (Ctrl+N annuls)"
            )
            self.refresh_bindings()

    def _note(self, answer: dict[str, Any], kind: str) -> str:
        if kind != "note":
            return ""
        if answer.get("replayed"):
            return "This scan had been sent before: this is the appliance's first answer to it."
        first = answer.get("first_admitted") or {}
        gate = self._name_of("gates", str(first.get("gate") or ""))
        return f"Came in before at {self.local_time(first.get('at'), '%H:%M')} ({gate}): a re-entry."

    # --- what is shown -----------------------------------------------------------------------

    def _show(self, kind: str, sentence: str, attendee: dict[str, Any] | None = None) -> None:
        """The answer, large: word and symbol, the door's sentence, then the name and ticket type."""
        word = self.query_one("#door-word", Static)
        word.update(WORDS[kind])
        word.set_classes(CLASSES[kind])
        self.query_one("#door-reason", Static).update(sentence)
        who = ""
        if attendee:
            who = " · ".join(x for x in (attendee.get("name"), attendee.get("ticket_type")) if x)
        self.query_one("#door-who", Static).update(who)

    def _record(self, scan: PendingScan, kind: str, sentence: str, attendee: dict[str, Any] | None) -> None:
        """Newest first in the last results; the time is when the scan was made here."""
        table = self.query_one("#door-recent", DataTable)
        attendee = attendee or {}
        answer = Text(WORDS[kind], style=_STYLES[CLASSES[kind]])
        if scan.saved:
            answer.append(" (saved)")
        row = (
            self.local_time(scan.at * 1000),
            answer,
            str(attendee.get("name") or ""),
            str(attendee.get("ticket_type") or ""),
            sentence,
        )
        # DataTable appends; keep newest first by rebuilding from a short kept list
        self._rows = [row, *self._rows][:RECENT]
        table.clear()
        for kept in self._rows:
            table.add_row(*kept)

    def _show_pending(self) -> None:
        label = self.query_one("#door-pending", Static)
        count = len(self.pending) if any(s.saved for s in self.pending) else 0
        label.update(f"◷ saved, not yet confirmed ({count})" if count else "")
        label.display = bool(count)

    def unsaved(self) -> str | None:
        if not self.pending:
            return None
        count = len(self.pending)
        return f"{count} scan{'s are' if count != 1 else ' is'} not yet confirmed by the appliance"

    # --- the gate's figures ------------------------------------------------------------------

    @work(group="door-counts", exclusive=True, exit_on_error=False)
    async def counts_changed(self) -> None:
        try:
            await self._load_counts()
        except ApiError as exc:
            self.query_one("#door-counts", Static).update(f"✖ {exc.message}")

    async def _load_counts(self) -> None:
        if not self.gate:
            return
        counts = await self.call(
            self.client.get("/api/v1/door/counts", gate=self.gate, list=self.list_id or None)
        )
        if counts is None:
            return
        lines = [
            f"This gate: {self._name_of('gates', self.gate)}",
            f"List: {self._name_of('lists', str(counts.get('list') or ''))}",
            f"Admitted here   {counts.get('admitted', 0)}",
            f"Inside now      {counts.get('inside', 0)}",
            f"Exits           {counts.get('exits', 0)}",
            f"Refused         {counts.get('refused', 0)}",
        ]
        for result, count in (counts.get("refusals") or {}).items():
            lines.append(f"  {REASONS.get(result, result)}: {count}")
        self.query_one("#door-counts", Static).update("\n".join(lines))

    def on_live(self, topic: str, payload: dict[str, Any]) -> None:
        """Any scan may change the figures ("inside now" counts the list at every gate): re-read them
        on the next tick, once however many scans a busy venue makes in a second."""
        if topic == "scan":
            self._counts_stale = True

    def _tick(self) -> None:
        if self._counts_stale:
            self._counts_stale = False
            self.counts_changed()

    # --- annul -------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "annul":  # None: shown but disabled until there is an admission to undo
            return True if self.last_admission is not None else None
        return True

    @work(group="door-annul", exclusive=True, exit_on_error=False)
    async def action_annul(self) -> None:
        last = self.last_admission
        if last is None:
            return
        ok = await self.staff_app.confirm(
            f"Annul the admission of {last['name'] or 'this person'}?",
            "The scan stays recorded but no longer counts as a check-in, so the badge can be scanned again.",
            confirm="Annul",
        )
        self.query_one("#door-code", Input).focus()
        if not ok:
            return
        label = self.query_one("#door-last", Static)
        try:
            done = await self.call(
                self.client.post(f"/api/v1/scans/{last['scan_id']}/annul", {"reason": "annulled at the door"})
            )
        except ApiError as exc:
            label.update(f"✖ Not annulled: {exc.message}")
            return
        if done is None:
            label.update("✖ Not annulled: the appliance does not answer. Try again when it is back.")
            return
        self.last_admission = None
        self.refresh_bindings()
        label.update(f"↺ Annulled: {last['name']}")
        self._show("annulled", f"The admission of {last['name']} no longer counts.")
        self.counts_changed()


#: Styles for the answer word in the table (the .tcss classes' colours, for Rich text cells).
_STYLES = {"ok": "bold green", "note": "bold yellow", "bad": "bold red", "waiting": "bold"}
