"""The print queue: badge jobs with their state and the printer's reason, retry and cancel, the printers.

Jobs come from ``GET /api/v1/print-jobs`` (newest first) and change live through
the feed's ``print`` topic, which carries the whole job on every change, so the
table follows a printer running out of paper without polling.  A job names only
its attendee's id; names are looked up once each (``GET /api/v1/attendees/{id}``)
and remembered, and the id is shown until the name is known.  The printers'
paper, cover and link come from ``GET /api/v1/overview``, which reads them as
the kiosk does (at most every 3 s), re-read after each job change.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from kiosk_ui.tui.base import SectionScreen
from kiosk_ui.tui.client import ApiError

#: Each job state in a word and symbol (colour repeats it): waiting, printing, printed, failed...
STATUS = {
    "queued": ("◷ waiting", "yellow"),
    "printing": ("⇄ printing", "yellow"),
    "done": ("✔ printed", "green"),
    "failed": ("✖ failed", "red"),
    "uncertain": ("? uncertain", "red"),
    "cancelled": ("⊘ cancelled", ""),
}
KINDS = {"auto": "at the gate", "request": "requested", "reprint": "reprint"}
#: Printer readings (``drivers.printer.status``) in words, with a symbol.
READINGS = {
    "ready": "✔ ready",
    "unreachable": "✖ unreachable",
    "unknown": "? unknown",
    "offline": "✖ offline",
    "no_paper": "✖ out of paper",
    "cover_open": "✖ cover open",
    "error": "✖ error",
}
#: A job that may be printed again: it finished without a badge for sure, or staff stopped it.
RETRYABLE = frozenset({"failed", "uncertain", "cancelled"})
#: Names looked up per reload at most (the rest show their id until the next reload).
NAME_LOOKUPS = 20
NO_PRINTER = "No printer is configured on this appliance."


def retryable(job: dict[str, Any]) -> bool:
    """Finished without a sure badge, or still waiting after the printer refused it at least once."""
    status = job.get("status")
    return status in RETRYABLE or (status == "queued" and int(job.get("attempts") or 0) > 0)


class PrintsScreen(SectionScreen):
    """The jobs table, the printers' state, and retry / cancel on the selected job."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "retry", "Retry", id="prints.retry"),
        Binding("x", "cancel_job", "Cancel job", id="prints.cancel"),
        Binding("ctrl+r", "reload_now", "Refresh", id="prints.refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.jobs: dict[str, dict[str, Any]] = {}  # by id, in the appliance's order (newest first)
        self.names: dict[str, str] = {}
        self._load_error = ""  # why the jobs could not be read (no printer...), while it holds

    def compose_body(self) -> ComposeResult:
        yield Static("", id="prints-printers")
        yield Static("", id="prints-message")
        table: DataTable[str | Text] = DataTable(id="prints-jobs", cursor_type="row", zebra_stripes=True)
        # what staff look for first comes first: at 80 columns the kind and printer scroll off
        table.add_column("Attendee", key="attendee")
        table.add_column("Status", key="status")
        table.add_column("Printer's reason", key="detail")
        table.add_column("Age", key="age")
        table.add_column("Tries", key="attempts")
        table.add_column("Kind", key="kind")
        table.add_column("Printer", key="printer")
        yield table

    def on_mount(self) -> None:
        self.query_one("#prints-message", Static).display = False
        self.query_one("#prints-printers", Static).border_title = "Printers"
        self.query_one("#prints-jobs", DataTable).border_title = "Badge print jobs, newest first"
        self.set_interval(30, self.refresh_section)  # the ages move on; a missed live event is caught

    # --- reading -------------------------------------------------------------------------------

    async def reload(self) -> None:
        try:
            jobs = await self.call(self.client.get("/api/v1/print-jobs"))
        except ApiError as exc:
            self._load_error = f"✖ {NO_PRINTER if exc.code == 'no_printer' else exc.message}"
            self._said(self._load_error, "bad")
            jobs = []
        else:
            shown = str(self.query_one("#prints-message", Static).content)
            if self._load_error and shown == self._load_error:
                self._said("")  # the refusal of an earlier read no longer holds
            self._load_error = ""
        if jobs is None:
            return  # silent box: keep what is shown
        self.jobs = {str(job["id"]): job for job in jobs}
        await self._learn_names()
        self._render_jobs()
        await self._load_printers()

    async def _learn_names(self) -> None:
        unknown = [j["attendee_id"] for j in self.jobs.values() if j["attendee_id"] not in self.names]
        for attendee_id in list(dict.fromkeys(unknown))[:NAME_LOOKUPS]:
            try:
                found = await self.call(self.client.get(f"/api/v1/attendees/{attendee_id}"))
            except ApiError:
                found = {"name": ""}  # not on this roster (any more): the id is all there is
            if found is None:
                return
            self.names[attendee_id] = str(found.get("name") or "")

    async def _load_printers(self) -> None:
        try:
            overview = await self.call(self.client.get("/api/v1/overview"))
        except ApiError as exc:
            self.query_one("#prints-printers", Static).update(f"✖ {exc.message}")
            return
        if overview is None:
            return
        printers = overview.get("printers") or []
        lines = [self._printer_line(p) for p in printers] or [NO_PRINTER]
        self.query_one("#prints-printers", Static).update("\n".join(lines))

    @staticmethod
    def _printer_line(printer: dict[str, Any]) -> str:
        reading = printer.get("reading")
        word = READINGS.get(str(reading), "? not read yet") if reading else "? not read yet"
        parts = [f"{printer.get('name') or printer.get('id')}: {word}"]
        paper = printer.get("paper")
        if paper:
            parts.append({"ok": "paper ok", "near_end": "! paper low", "out": "✖ no paper"}.get(paper, paper))
        if printer.get("cover_open") is not None:
            parts.append("✖ cover open" if printer["cover_open"] else "cover closed")
        waiting = int(printer.get("queued") or 0) + int(printer.get("printing") or 0)
        parts.append(f"{waiting} waiting")
        stuck = int(printer.get("failed") or 0) + int(printer.get("uncertain") or 0)
        if stuck:
            parts.append(f"✖ {stuck} failed or uncertain")
        if printer.get("detail") and reading != "ready":
            parts.append(str(printer["detail"]))
        return " · ".join(parts)

    def on_live(self, topic: str, payload: dict[str, Any]) -> None:
        """The feed carries the job as committed: update its row (a new job goes on top)."""
        if topic != "print" or "id" not in payload:
            return
        job_id = str(payload["id"])
        if job_id in self.jobs:
            self.jobs[job_id] = payload
        else:
            self.jobs = {job_id: payload, **self.jobs}
        self._render_jobs()
        self.printers_changed()
        if payload.get("attendee_id") not in self.names:
            self.names_wanted()

    @work(group="prints-names", exclusive=True, exit_on_error=False)
    async def names_wanted(self) -> None:
        """Look up the names a live job brought, then show them (the id stands in meanwhile)."""
        await self._learn_names()
        self._render_jobs()

    @work(group="prints-printers", exclusive=True, exit_on_error=False)
    async def printers_changed(self) -> None:
        await self._load_printers()

    # --- showing -------------------------------------------------------------------------------

    def _render_jobs(self) -> None:
        """Rebuild the table from the jobs, keeping the cursor on the job it was on."""
        table = self.query_one("#prints-jobs", DataTable)
        selected = self.selected_id()
        table.clear()
        for job_id, job in self.jobs.items():
            table.add_row(*self._cells(job), key=job_id)
        if selected in self.jobs:
            table.move_cursor(row=table.get_row_index(selected), animate=False)
        table.border_subtitle = f"{len(self.jobs)} shown" if self.jobs else "no print jobs yet"
        self.refresh_bindings()

    def _cells(self, job: dict[str, Any]) -> tuple[str | Text, ...]:
        attendee = str(job.get("attendee_id") or "")
        name = self.names.get(attendee) or ""
        word, colour = STATUS.get(str(job.get("status")), (str(job.get("status")), ""))
        kind = KINDS.get(str(job.get("kind")), str(job.get("kind")))
        if job.get("reason"):
            kind = f"{kind}: {job['reason']}"
        return (
            f"{name} ({attendee})" if name else attendee,
            Text(word, style=f"bold {colour}".strip()),
            str(job.get("detail") or ""),
            self.ago(job.get("created_at")),
            str(job.get("attempts") or 0),
            kind,
            str(job.get("printer") or ""),
        )

    def selected_id(self) -> str | None:
        table = self.query_one("#prints-jobs", DataTable)
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:  # no cell at the cursor (an empty table)
            return None
        return str(key.value) if key.value is not None else None

    def selected(self) -> dict[str, Any] | None:
        job_id = self.selected_id()
        return self.jobs.get(job_id) if job_id else None

    @on(DataTable.RowHighlighted, "#prints-jobs")
    def _moved(self) -> None:
        self.refresh_bindings()

    # --- retry and cancel ---------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("retry", "cancel_job"):
            # None: shown in the footer but disabled (False would hide it)
            job = self.selected()
            if job is None:
                return None
            if action == "retry":
                return retryable(job) or None
            return job.get("status") == "queued" or None
        return True

    def action_reload_now(self) -> None:
        self.refresh_section()

    def _said(self, text: str, css: str = "") -> None:
        message = self.query_one("#prints-message", Static)
        message.update(text)
        message.set_classes(css)
        message.display = bool(text)

    def _who(self, job: dict[str, Any]) -> str:
        return self.names.get(str(job.get("attendee_id"))) or str(job.get("attendee_id"))

    @work(group="prints-action", exclusive=True, exit_on_error=False)
    async def action_retry(self) -> None:
        """Print the badge again: a new job; a job still waiting for its printer is cancelled first."""
        job = self.selected()
        if job is None or not retryable(job):
            return
        who = self._who(job)
        waiting = job.get("status") == "queued"
        last = STATUS[str(job["status"])][0][2:]  # the word without its symbol
        detail = (
            "The waiting job is cancelled and a new one goes to the printer now"
            if waiting
            else f"A new job goes to {job.get('printer')}; the last one is {last}"
        )
        reason = f" (the printer said: {job['detail']})" if job.get("detail") else ""
        if not await self.staff_app.confirm(
            f"Print the badge of {who} again?", detail + reason + ".", confirm="Print again"
        ):
            return
        try:
            if (
                waiting
                and await self.call(self.client.post(f"/api/v1/print-jobs/{job['id']}/cancel")) is None
            ):
                self._said(
                    "✖ Not printed again: the appliance does not answer. Try again when it is back.", "bad"
                )
                return
            new = await self.call(self.client.post(f"/api/v1/print-jobs/{job['id']}/reprint"))
        except ApiError as exc:
            self._said(f"✖ Not printed again: {exc.message}", "bad")
            self.refresh_section()
            return
        if new is None:
            self._said(
                "✖ Not printed again: the appliance does not answer. Try again when it is back.", "bad"
            )
            return
        self.jobs = {str(new["id"]): new, **{k: v for k, v in self.jobs.items() if k != new["id"]}}
        self._render_jobs()
        self.query_one("#prints-jobs", DataTable).move_cursor(row=0)
        self._said(f"✔ A new job prints the badge of {who} again.", "ok")
        self.refresh_section()

    @work(group="prints-action", exclusive=True, exit_on_error=False)
    async def action_cancel_job(self) -> None:
        job = self.selected()
        if job is None or job.get("status") != "queued":
            return
        who = self._who(job)
        if not await self.staff_app.confirm(
            f"Cancel the waiting badge of {who}?",
            "It will not be printed. You can print it again later.",
            confirm="Cancel job",
        ):
            return
        try:
            cancelled = await self.call(self.client.post(f"/api/v1/print-jobs/{job['id']}/cancel"))
        except ApiError as exc:
            self._said(f"✖ Not cancelled: {exc.message}", "bad")
            self.refresh_section()
            return
        if cancelled is None:
            self._said("✖ Not cancelled: the appliance does not answer. Try again when it is back.", "bad")
            return
        self.jobs[str(cancelled["id"])] = cancelled
        self._render_jobs()
        self._said(f"⊘ The badge of {who} was cancelled.", "")
