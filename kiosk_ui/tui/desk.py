"""The help desk: find someone as you type, read their whole record, and fix what is wrong.

Every keystroke in the search box starts a new search that replaces the one still
waiting (an exclusive worker), so a slow answer never overwrites a newer one; the
highlighted row's record is read the same way.  Every change (a walk-in, a
reprint, a tag, a name, an annulment, a revocation) asks first in a modal, is
done through the API, and is told beside the record, refusals included; then the
record is read again, because the appliance is the truth.  The screen keeps what
it shows while the appliance is away and re-reads it when it is back.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from typing import Any, ClassVar
from urllib.parse import quote

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import DataTable, Input, Static

from kiosk_ui.tui.base import SectionScreen
from kiosk_ui.tui.client import ApiError
from kiosk_ui.tui.desk_detail import PRINT_WORDS, DetailPane
from kiosk_ui.tui.desk_forms import TagForm, WalkInForm
from kiosk_ui.tui.widgets import AskReason

#: Seconds to wait after a keystroke before asking: none.  The answer should follow each letter
#: (target p95 ≤ 100 ms, bench/tui.py), and a newer keystroke cancels the worker of the older one,
#: waiting or in flight, so fast typing costs the appliance a few cheap index reads at most.
DEBOUNCE_S = 0.0
#: How many results the table shows (the API's own ceiling is 100).
LIMIT = 50
#: The results' columns (label, key, width): fixed widths, so 80 columns hold them all; the
#: detail pane shows what a long name or company loses here.
COLUMNS = (
    ("Name", "name", 20),
    ("Company", "company", 16),
    ("Ticket", "ticket", 9),
    ("Status", "status", 7),
    ("In", "in", 2),
    ("Order", "order", 9),
)
#: Actions that need someone highlighted in the results.
NEEDS_SOMEONE = frozenset({"reprint", "link_tag", "correct_name", "annul", "revoke"})


#: One character of these scripts is a word (the API searches it alone): Kana, CJK ideographs, Hangul.
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def searchable(text: str) -> bool:
    """Worth asking the appliance: two characters or more, or one in Chinese, Japanese or Korean."""
    return len(text) >= 2 or bool(CJK.search(text))


def _path(attendee_id: str) -> str:
    return f"/api/v1/attendees/{quote(attendee_id, safe='')}"


class DeskScreen(SectionScreen):
    """Search, the results, the record of the highlighted person, and the desk's actions on them."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "walk_in", "Walk-in", id="desk.walk_in"),
        Binding("ctrl+r", "reprint", "Reprint", id="desk.reprint"),
        Binding("ctrl+t", "link_tag", "Link tag", id="desk.link_tag"),
        Binding("ctrl+l", "correct_name", "Rename", id="desk.correct_name"),
        Binding("ctrl+y", "annul", "Annul", id="desk.annul"),
        Binding("ctrl+b", "revoke", "Revoke", id="desk.revoke"),
        Binding("escape", "focus_search", "Search", id="desk.search"),
        Binding("down", "focus_results", "Results", id="desk.results", show=False),
    ]

    #: The attendee whose record the pane shows (the highlighted row, or a walk-in just made).
    selected: reactive[str] = reactive("")

    def __init__(self) -> None:
        super().__init__()
        self.record: dict[str, Any] | None = None
        self.ticket_types: list[tuple[str, str]] = []
        self._want = ""  # an id to put the cursor on when the results arrive (a walk-in)
        self._jobs: dict[str, int] = {}  # print job id -> the last change told, so an older never wins
        self.answered = ""  # the search the results and hint now answer (a newer one may be on its way)
        self._form: WalkInForm | None = None  # while open: what is typed in it is not registered yet
        self._busy = ""  # the action waiting for the appliance (sign-out waits for it)

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="desk-body"):
            with Vertical(id="desk-left"):
                yield Input(placeholder="Search: name, company, e-mail or order", id="desk-search")
                yield Static("Type two letters or more to search.", id="desk-hint", classes="muted")
                yield DataTable(id="desk-results", cursor_type="row", zebra_stripes=True)
            yield DetailPane(id="desk-detail")

    def on_mount(self) -> None:
        table = self.query_one("#desk-results", DataTable)
        for label, key, width in COLUMNS:
            table.add_column(label, key=key, width=width)
        self.query_one("#desk-search", Input).focus()

    @property
    def detail(self) -> DetailPane:
        return self.query_one("#desk-detail", DetailPane)

    @property
    def search_text(self) -> str:
        return self.query_one("#desk-search", Input).value.strip()

    def hint(self, text: str, kind: str = "muted") -> None:
        hint = self.query_one("#desk-hint", Static)
        hint.update(Text(text))
        hint.set_classes(kind)

    # --- what the appliance says -----------------------------------------------------------

    async def reload(self) -> None:
        if not self.ticket_types:
            try:
                setup = await self.call(self.client.get("/api/v1/door/setup"))
            except ApiError as exc:  # the walk-in form says so; searching still works
                self.hint(f"✖ No ticket types for walk-ins: {exc.message}", "bad")
                setup = None
            if setup is not None:
                self.ticket_types = [(str(t["name"]), str(t["id"])) for t in setup.get("ticket_types") or []]
        if searchable(self.search_text):
            self.search(self.search_text, wait=0)
        if self.selected:
            self.load_detail(self.selected)

    @on(Input.Changed, "#desk-search")
    def _typed(self, event: Input.Changed) -> None:
        self.search(event.value.strip())

    @on(Input.Submitted, "#desk-search")
    def _enter(self) -> None:
        self.action_focus_results()

    @work(exclusive=True, group="search", exit_on_error=False)
    async def search(self, text: str, wait: float = DEBOUNCE_S) -> None:
        """Ask for TEXT's matches (a newer keystroke cancels this one while it waits or asks)."""
        if not searchable(text):
            self.query_one("#desk-results", DataTable).clear()
            self.hint("Type two letters or more to search.")
            self.answered = text
            return
        await asyncio.sleep(wait)
        try:
            answer = await self.call(self.client.get("/api/v1/attendees", q=text, limit=LIMIT))
        except ApiError as exc:
            self.hint(f"✖ {exc.message}", "bad")
            self.answered = text
            return
        if answer is None:
            self.hint("! The appliance does not answer; these are the last results.", "note")
            return
        self.show_results(text, list(answer.get("attendees") or []), int(answer.get("matches") or 0))
        self.answered = text

    def show_results(self, text: str, people: list[dict[str, Any]], matches: int = 0) -> None:
        table = self.query_one("#desk-results", DataTable)
        keep = self._want or self.selected
        table.clear()
        for person in people:
            table.add_row(
                Text(str(person.get("name") or "")),
                Text(str(person.get("company") or "")),
                Text(str(person.get("ticket_type") or person.get("ticket_type_id") or "")),
                Text("✔ valid" if person.get("status") == "valid" else f"✖ {person.get('status')}"),
                "✔" if person.get("admitted_at") else "—",
                Text(str(person.get("order_ref") or "")),
                key=str(person["id"]),
            )
        if not people:
            self.hint(f"No one matches “{text}”.", "note")
            return
        if matches > len(people):  # a broad query: the appliance sends the first ones by name
            self.hint(f"{len(people)} of {matches:,} matches shown: type more to narrow them.")
        else:
            self.hint(f"{len(people)} found.")
        ids = [str(p["id"]) for p in people]
        if keep in ids:
            table.move_cursor(row=ids.index(keep))
        self._want = ""

    @on(DataTable.RowHighlighted, "#desk-results")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value and event.row_key.value != self.selected:
            self.selected = str(event.row_key.value)

    def watch_selected(self, attendee_id: str) -> None:
        # no action may use the previous person's record (their last print job, their check-in)
        self.record = None
        self.refresh_bindings()
        if attendee_id:
            self.detail.tell("")
            self.load_detail(attendee_id)

    @work(exclusive=True, group="detail", exit_on_error=False)
    async def load_detail(self, attendee_id: str) -> None:
        """Read the record of the highlighted person (a newer highlight replaces this one)."""
        await asyncio.sleep(0.05)
        try:
            record = await self.call(self.client.get(f"{_path(attendee_id)}/record"))
        except ApiError as exc:
            self.detail.tell(f"✖ {exc.message}", "bad")
            return
        if record is None or attendee_id != self.selected:
            return
        self.record = record
        self.detail.show(record, self.local_time)
        self.refresh_bindings()

    def on_live(self, topic: str, payload: dict[str, Any]) -> None:
        if topic == "print":
            self._print_changed(payload)
        elif topic == "scan" and self.record and payload.get("attendee_id") == self.selected:
            self.load_detail(self.selected)
        elif topic == "tap":
            self._tapped(payload)

    def _tapped(self, tap: dict[str, Any]) -> None:
        """A tag tapped on the desk's reader: for the "Link tag" form if open, else its owner's record."""
        owner, uid = str(tap.get("attendee_id") or ""), str(tap.get("nfc_uid") or "")
        if not uid:  # a badge's code read at the desk: the search box is for that
            return
        if isinstance(self.app.screen, TagForm):  # someone is waiting for exactly this
            self.app.screen.tapped(uid)
            return
        if self.app.screen is not self:  # another form is open: a tap is not for it
            return
        if owner:
            self.selected = owner
            self.detail.tell(f"Tag {uid} tapped on the desk reader.", "note")
        else:
            self.notify(f"Tag {uid} belongs to no one. Choose someone, then {self._key('link_tag')}.")

    def _key(self, action: str) -> str:
        """The key of an action as bound now (keys may be rebound through the keymap)."""
        for active in self.active_bindings.values():
            if active.binding.action == action:
                return self.app.get_key_display(active.binding)
        return action

    def _print_changed(self, job: dict[str, Any]) -> None:
        """A badge job moved on: tell it if it is one the desk started; re-read the record it belongs to."""
        job_id = str(job.get("id") or "")
        if job_id in self._jobs and int(job.get("updated_at") or 0) >= self._jobs[job_id]:
            self._jobs[job_id] = int(job.get("updated_at") or 0)
            if job.get("attendee_id") == self.selected:
                self._tell_job(job)
            elif job.get("status") in ("done", "failed", "uncertain"):  # someone the desk moved on from
                word, _ = PRINT_WORDS.get(str(job.get("status")), ("", ""))
                self.notify(f"{word}{': ' + str(job['detail']) if job.get('detail') else ''}", title="Badge")
        if job.get("attendee_id") == self.selected:
            self.load_detail(self.selected)

    def _tell_job(self, job: dict[str, Any]) -> None:
        word, _ = PRINT_WORDS.get(str(job.get("status")), (str(job.get("status")), ""))
        reason = f": {job['detail']}" if job.get("detail") and job.get("status") != "done" else ""
        kind = {"done": "ok", "failed": "bad"}.get(str(job.get("status")), "note")
        self.detail.tell(f"Badge {word}{reason}", kind)

    def unsaved(self) -> str | None:
        if self._form is not None and any(self._form.body().values()):
            return "a walk-in form is open with details typed in it"
        return f"the desk is still waiting for the appliance ({self._busy})" if self._busy else None

    # --- keys -------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "revoke" and self.role != "organizer":
            return False  # not offered at all: only organizers revoke
        if action in NEEDS_SOMEONE and (not self.record or self._busy):
            return None  # shown, greyed: choose someone first
        if action == "annul" and not (self.record or {}).get("checkins"):
            return None
        return True

    def action_focus_search(self) -> None:
        self.query_one("#desk-search", Input).focus()

    def action_focus_results(self) -> None:
        table = self.query_one("#desk-results", DataTable)
        if table.row_count:
            table.focus()

    def _person(self) -> str:
        return str(((self.record or {}).get("attendee") or {}).get("name") or self.selected)

    async def _act(self, what: str, work: Awaitable[Any], done: str) -> Any:
        """Do one change on the appliance; tell the outcome beside the record and re-read it."""
        self._busy = what
        self.refresh_bindings()
        try:
            answer = await self.call(work)
        except ApiError as exc:
            self.detail.tell(f"✖ {what}: {exc.message}", "bad")
            return None
        finally:
            self._busy = ""
            self.refresh_bindings()
        if answer is None:
            self.detail.tell(
                f"! {what}: the appliance did not answer. Check the record, then try again.", "note"
            )
            return None
        self._done(done)
        return answer

    def _done(self, done: str) -> None:
        """Tell a change the appliance made, and re-read what it changed."""
        self.detail.tell(done, "ok")
        self.notify(done, title="Desk", timeout=4)
        if self.selected:
            self.load_detail(self.selected)
        if searchable(self.search_text):
            self.search(self.search_text, wait=0)

    # --- the desk's actions -------------------------------------------------------------------

    @work(group="action", exit_on_error=False)
    async def action_walk_in(self) -> None:
        if not self.ticket_types:
            await self.reload()
        self._form = WalkInForm(self.ticket_types, self._register)
        try:
            answer = await self.app.push_screen_wait(self._form)
        finally:
            self._form = None
        if not answer:
            return
        attendee_id, name = str(answer["attendee_id"]), str(answer["name"])
        self._want = attendee_id
        self.selected = attendee_id
        self.query_one("#desk-search", Input).value = name
        done = f"✔ Registered {name}. Badge sent to the printer."
        await self._print(attendee_id, done, what=f"Registered {name}, but the badge")

    async def _register(self, body: dict[str, Any]) -> dict[str, Any] | None:
        answer: dict[str, Any] | None = await self.call(self.client.post("/api/v1/attendees", body))
        return answer

    async def _print(
        self, attendee_id: str, done: str, job_id: str = "", reason: str = "", what: str = "Print"
    ) -> None:
        """Print a badge (or reprint JOB_ID with REASON), then follow the job on the live feed."""
        if job_id:
            path, body = f"/api/v1/print-jobs/{quote(job_id, safe='')}/reprint", {"reason": reason}
        else:
            path, body = "/api/v1/print-jobs", {"attendee_id": attendee_id}
        job = await self._act(what, self.client.post(path, body), done)
        if job:
            seen = self._jobs.get(str(job["id"]), -1)
            self._jobs.setdefault(str(job["id"]), int(job.get("updated_at") or 0))
            if int(job.get("updated_at") or 0) > seen:
                self._tell_job(job)

    @work(group="action", exit_on_error=False)
    async def action_reprint(self) -> None:
        attendee_id, name, record = self.selected, self._person(), self.record
        reason = await self.app.push_screen_wait(
            AskReason(
                f"Print {name}'s badge again: why?", placeholder="e.g. lost, name misspelt", confirm="Reprint"
            )
        )
        if not reason:
            return
        jobs = list((record or {}).get("prints") or [])
        last = str(jobs[0]["id"]) if jobs else ""
        await self._print(attendee_id, f"✔ Reprint of {name}'s badge sent to the printer.", last, reason)

    @work(group="action", exit_on_error=False)
    async def action_link_tag(self) -> None:
        attendee_id, name = self.selected, self._person()
        uid = await self.app.push_screen_wait(TagForm(name))
        if not uid:
            return
        path, done = f"{_path(attendee_id)}/tag", f"✔ Tag {uid} linked to {name}."
        try:
            answer = await self.call(self.client.post(path, {"nfc_uid": uid, "replace": False}))
        except ApiError as exc:
            if "in_use" not in exc.code:
                self.detail.tell(f"✖ Link tag: {exc.message}", "bad")
                return
            move = await self.staff_app.confirm(
                f"Tag {uid} belongs to someone else.",
                f"{exc.message}\nMove it to {name}?",
                confirm="Move tag",
            )
            if move:
                await self._act("Link tag", self.client.post(path, {"nfc_uid": uid, "replace": True}), done)
            else:
                self.detail.tell(f"Tag {uid} left where it was.", "note")
            return
        if answer is None:
            self.detail.tell("! Link tag: the appliance did not answer. Try again.", "note")
            return
        self._done(done)

    @work(group="action", exit_on_error=False)
    async def action_correct_name(self) -> None:
        attendee_id, name = self.selected, self._person()
        value = await self.app.push_screen_wait(
            AskReason(
                "Correct the name (as it should be on the badge)",
                placeholder="Name",
                confirm="Save",
                value=name,
            )
        )
        if not value or value == name:
            return
        body = {"field": "name", "value": value}
        await self._act(
            "Correct name", self.client.patch(_path(attendee_id), body), f"✔ Name is now {value}."
        )

    @work(group="action", exit_on_error=False)
    async def action_annul(self) -> None:
        checkin = self.detail.selected_checkin(self.record)
        if checkin is None:
            return
        when = self.local_time(checkin.get("at"), "%a %H:%M:%S")
        sure = await self.staff_app.confirm(
            f"Annul {self._person()}'s check-in?",
            f"{checkin.get('gate') or '—'} · {checkin.get('list') or '—'} · {when}\n"
            "The scan stays recorded; only one made here in the last 15 minutes can be annulled.",
            confirm="Annul check-in",
        )
        if not sure:
            return
        staff = self.client.staff.name if self.client.staff else "desk"
        path = f"/api/v1/scans/{quote(str(checkin['scan_id']), safe='')}/annul"
        body = {"reason": f"annulled at the desk by {staff}"}
        await self._act("Annul", self.client.post(path, body), f"✔ Check-in of {when} annulled.")

    @work(group="action", exit_on_error=False)
    async def action_revoke(self) -> None:
        name, attendee_id = self._person(), self.selected
        reason = await self.app.push_screen_wait(
            AskReason(
                f"Revoke {name}'s badge: why?",
                placeholder="Reason (kept with the revocation)",
                confirm="Next",
            )
        )
        if not reason:
            return
        sure = await self.staff_app.confirm(
            f"Revoke {name}'s badge on every appliance?",
            f"Every door will refuse it from now on.\nReason: {reason}",
            confirm="Revoke badge",
        )
        if not sure:
            return
        body = {"target": "attendee", "value": attendee_id, "reason": reason}
        await self._act(
            "Revoke", self.client.post("/api/v1/revocations", body), f"✔ {name}'s badge is revoked."
        )
