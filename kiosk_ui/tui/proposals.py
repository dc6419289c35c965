"""The proposals section: decide grassroots proposals beside the day's schedule.

Organizers approve a proposal into one of the slot finder's suggestions (each
already passes every blocking rule) or reject it with a reason the attendee
reads.  The appliance checks again when the decision arrives: a slot taken in
the meantime comes back as a double booking, which is approved only on purpose,
with a reason recorded (the appliance's rule), so the screen asks for one
rather than trying something else.  Every outcome is said beside the proposal,
and the list and the grid are re-read after each decision.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import DataTable, Static

from kiosk_ui.tui.base import SectionScreen
from kiosk_ui.tui.client import ApiError
from kiosk_ui.tui.devices import refresh_while_shown
from kiosk_ui.tui.schedule_grid import day_label, fill_grid, findings_text, local, slot_label
from kiosk_ui.tui.widgets import AskReason

ORGANIZER = "organizer"
STYLES = {"ok": "bold green", "bad": "bold red", "note": "bold yellow"}
API = "/api/v1/proposals"
#: Seconds between re-reads: proposals arrive from kiosks, and other organizers decide too.
REFRESH_S = 10.0


def overlap_only(exc: ApiError) -> bool:
    """A refusal the organizer may override: only a double booking of the room blocks the slot."""
    if exc.code != "schedule_conflict":
        return False
    findings = exc.details.get("findings")
    if not isinstance(findings, list) or not findings:
        return False
    blocking = [f for f in findings if isinstance(f, dict) and f.get("severity", "block") == "block"]
    return bool(blocking) and all(f.get("rule") == "room_overlap" for f in blocking)


class ProposalsScreen(SectionScreen):
    """Pending proposals, the selected one's suggestions, and the day's schedule with its findings."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "approve", "Approve into slot", id="proposals.approve"),
        Binding("x", "reject", "Reject…", id="proposals.reject"),
        Binding("r", "reload_now", "Refresh", id="proposals.refresh"),
        Binding("left_square_bracket", "day(-1)", "Day before", id="proposals.day_before"),
        Binding("right_square_bracket", "day(1)", "Day after", id="proposals.day_after"),
    ]

    #: The proposal whose suggestions are shown (kept across re-reads by id).
    selected: reactive[str | None] = reactive(None)
    #: Days from today the grid shows.
    day_offset: reactive[int] = reactive(0)

    def __init__(self) -> None:
        super().__init__()
        self._proposals: dict[str, dict[str, Any]] = {}
        self._frame: dict[str, Any] = {}
        self._busy = False
        self._detail_of: str | None = None  # the proposal whose suggestions the table holds

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="proposals-top"):
            with Vertical(id="proposal-list-pane"):
                yield Static("Pending proposals", id="proposals-title", classes="section-title")
                table: DataTable[Any] = DataTable(id="proposals", cursor_type="row", zebra_stripes=True)
                yield table
            with Vertical(id="proposal-detail-pane"):
                yield Static("", id="proposal-detail")
                suggestions: DataTable[Any] = DataTable(id="suggestions", cursor_type="row")
                yield suggestions
                yield Static("", id="proposal-result")
        with Vertical(id="schedule-pane"):
            yield Static("Schedule", id="schedule-title", classes="section-title")
            grid: DataTable[Any] = DataTable(id="grid", cursor_type="none")
            yield grid
            yield Static("", id="findings")

    def on_mount(self) -> None:
        self.query_one("#proposals", DataTable).add_columns("Ref", "Title", "Min", "State")
        self.query_one("#suggestions", DataTable).add_columns("#", "Room", "When", "Notes")
        refresh_while_shown(self, REFRESH_S)

    # --- reading ------------------------------------------------------------------------------

    def action_reload_now(self) -> None:
        self.refresh_section()

    def action_day(self, delta: int) -> None:
        self.day_offset += delta

    def watch_day_offset(self) -> None:
        if self.is_mounted:
            self.refresh_section()

    async def reload(self) -> None:
        listed = await self.client.get(API, status="pending")
        self._show_proposals(listed.get("proposals") or [])
        if not self._frame:  # the event's days, to know which one is today
            self._frame = (await self.client.get("/api/v1/schedule")).get("frame") or {}
        day = self._day()
        schedule = await self.client.get("/api/v1/schedule", day=day.isoformat())
        findings = await self.client.get("/api/v1/schedule/findings")
        self._show_schedule(day, schedule, findings)
        self._show_detail()

    def _zone(self) -> dt.tzinfo:
        return self.staff_app.timezone

    def _today(self) -> dt.date:
        return local(self.now() * 1000, self._zone()).date()

    def _first_day(self) -> dt.date:
        starts = self._frame.get("starts_at")
        return local(starts, self._zone()).date() if starts else self._today()

    def _day(self) -> dt.date:
        """Today in the event's time zone, moved by the day keys, kept within the event's days."""
        first = self._first_day()
        ends = self._frame.get("ends_at")
        last = local(ends - 1, self._zone()).date() if ends else first
        day = min(max(self._today(), first), last) + dt.timedelta(days=self.day_offset)
        return min(max(day, first), last)

    def _when(self, starts_at: int, ends_at: int) -> str:
        return slot_label(starts_at, ends_at, self._zone(), self._first_day(), self._today())

    def _show_proposals(self, proposals: list[dict[str, Any]]) -> None:
        self._proposals = {str(p["proposal_id"]): p for p in proposals}
        table = self.query_one("#proposals", DataTable)
        table.clear()
        for p in proposals:
            conflicts = len(p.get("conflicts") or [])
            state = Text(
                f"! {conflicts} conflict" if conflicts else "pending",
                style="bold yellow" if conflicts else "",
            )
            table.add_row(
                str(p["ref"]), str(p["title"]), str(p["duration_min"]), state, key=str(p["proposal_id"])
            )
        count = len(proposals)
        self.query_one("#proposals-title", Static).update(
            f"Pending proposals ({count})" if count else "Pending proposals: none waiting"
        )
        if self.selected not in self._proposals:
            self.selected = next(iter(self._proposals), None)
        if self.selected is not None:
            table.move_cursor(row=table.get_row_index(self.selected))
        self.refresh_bindings()

    @on(DataTable.RowHighlighted, "#proposals")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        if key is not None and key in self._proposals and key != self.selected:
            self.selected = key

    def watch_selected(self) -> None:
        if self.is_mounted:
            self._show_detail()
            self.refresh_bindings()

    def _show_detail(self) -> None:
        detail = self.query_one("#proposal-detail", Static)
        table = self.query_one("#suggestions", DataTable)
        # a re-read must not move the cursor to another slot under the organizer's finger
        keep = table.cursor_row if self._detail_of == self.selected else 0
        self._detail_of = self.selected
        table.clear()
        p = self._proposals.get(self.selected or "")
        if p is None:
            detail.update("Select a proposal to see where it could go.")
            table.display = False
            return
        text = Text()
        text.append(f"{p['ref']}  {p['title']}\n", style="bold")
        wish = ""
        if p.get("wished_from") and p.get("wished_to"):
            wish = f", wished {self._when(p['wished_from'], p['wished_to'])}"
        elif p.get("wished_rooms"):
            wish = f", wished in {', '.join(p['wished_rooms'])}"
        attendance = f", about {p['attendance']} people" if p.get("attendance") else ""
        text.append(
            f"{p['duration_min']} min{attendance}{wish}. By {p.get('host_name') or p.get('proposer_name')}"
        )
        if p.get("description"):
            text.append(f"\n{p['description']}", style="italic")
        for conflict in p.get("conflicts") or []:
            text.append(f"\n! {conflict.get('message')}", style="bold yellow")
        suggestions = p.get("suggestions") or []
        if not suggestions:
            text.append("\n✖ No free slot fits it: reject it, or add room or time first.", style="bold red")
        detail.update(text)
        for number, slot in enumerate(suggestions, 1):
            warnings = "; ".join(str(w.get("message")) for w in slot.get("warnings") or [])
            table.add_row(
                str(number),
                str(slot.get("room") or slot["room_id"]),
                self._when(slot["starts_at"], slot["ends_at"]),
                Text(f"! {warnings}", style="bold yellow") if warnings else "✔ free",
            )
        table.display = bool(suggestions)
        if suggestions:
            table.move_cursor(row=min(keep, len(suggestions) - 1))

    def _show_schedule(self, day: dt.date, schedule: dict[str, Any], findings: dict[str, Any]) -> None:
        grid = self.query_one("#grid", DataTable)
        shown = fill_grid(
            grid, day, schedule.get("rooms") or [], schedule.get("sessions") or [], self._zone()
        )
        label = day_label(day, self._first_day(), self._today())
        keys = "[ ] other days"
        self.query_one("#schedule-title", Static).update(
            f"Schedule, {label}: {shown} session{'s' if shown != 1 else ''}, ★ grassroots  ({keys})"
        )
        self.query_one("#findings", Static).update(
            findings_text(findings.get("findings") or [], findings.get("conflicts") or [])
        )

    # --- deciding -------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("approve", "reject"):
            if self.role != ORGANIZER:
                return False
            p = self._proposals.get(self.selected or "")
            if p is None or self._busy or (action == "approve" and not p.get("suggestions")):
                return None
        return True

    def _say(self, message: str, kind: str) -> None:
        self.query_one("#proposal-result", Static).update(Text(message, style=STYLES[kind]))

    def _slot(self, p: dict[str, Any]) -> dict[str, Any] | None:
        suggestions = p.get("suggestions") or []
        if not suggestions:
            return None
        row = self.query_one("#suggestions", DataTable).cursor_row
        return dict(suggestions[min(max(row, 0), len(suggestions) - 1)])

    def action_approve(self) -> None:
        p = self._proposals.get(self.selected or "")
        slot = self._slot(p) if p else None
        if p is not None and slot is not None:
            self._approve(p, slot)

    def action_reject(self) -> None:
        p = self._proposals.get(self.selected or "")
        if p is not None:
            self._reject(p)

    @work(group="decide", exclusive=True, exit_on_error=False)
    async def _approve(self, p: dict[str, Any], slot: dict[str, Any]) -> None:
        where = f"{slot.get('room') or slot['room_id']}, {self._when(slot['starts_at'], slot['ends_at'])}"
        body: dict[str, Any] = {"room_id": slot["room_id"], "starts_at": slot["starts_at"]}
        path = f"{API}/{p['proposal_id']}/approve"
        self._set_busy(True)
        try:
            self._say(f"… approving {p['ref']} into {where}", "note")
            try:
                answer = await self.call(self.client.post(path, body))
            except ApiError as exc:
                if not overlap_only(exc):
                    self._say(f"✖ Not approved: {exc.message}", "bad")
                    return
                reason = await self.app.push_screen_wait(
                    AskReason(
                        f"{exc.message} Approve {p['ref']} there anyway, as a double booking?",
                        placeholder="Why this overlap is fine (recorded with your name)",
                        confirm="Approve the overlap",
                    )
                )
                if reason is None:
                    self._say(f"Not approved: the double booking in {where} was not confirmed.", "note")
                    return
                body["overlap_reason"] = reason
                try:
                    answer = await self.call(self.client.post(path, body))
                except ApiError as again:
                    self._say(f"✖ Not approved: {again.message}", "bad")
                    return
            if answer is None:
                self._say(
                    f"! No answer: {p['ref']} may not be approved. It is re-read when the box is back.",
                    "note",
                )
                return
            self._say(f"✔ Approved {p['ref']} into {where}", "ok")
        finally:
            self._set_busy(False)
        self.refresh_section()

    @work(group="decide", exclusive=True, exit_on_error=False)
    async def _reject(self, p: dict[str, Any]) -> None:
        reason = await self.app.push_screen_wait(
            AskReason(
                f"Reject {p['ref']} “{p['title']}”? The proposer reads your reason.",
                placeholder="Reason for the proposer",
                confirm="Reject",
            )
        )
        if reason is None:
            return
        self._set_busy(True)
        try:
            try:
                answer = await self.call(
                    self.client.post(f"{API}/{p['proposal_id']}/reject", {"reason": reason})
                )
            except ApiError as exc:
                self._say(f"✖ Not rejected: {exc.message}", "bad")
                return
            if answer is None:
                self._say(
                    f"! No answer: {p['ref']} may not be rejected. It is re-read when the box is back.",
                    "note",
                )
                return
            self._say(f"✔ Rejected {p['ref']}: {reason}", "ok")
        finally:
            self._set_busy(False)
        self.refresh_section()

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.refresh_bindings()
