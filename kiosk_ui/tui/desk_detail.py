"""The desk's detail pane: one attendee's whole record, as ``GET /api/v1/attendees/{id}/record`` tells it.

The desk answers "I was let in at the north door but the workshop says no" or "my
badge never printed" from this pane, so it shows everything the record holds:
who, their tags, every check-in of every device (a table, so one can be chosen to
annul), the badge prints with their state, corrections, duplicates, revocations.
Every state is a word or symbol before it is a colour.  Text from the roster is
never read as markup (a name may hold brackets).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Label, Static

#: A print job's state as staff read it: symbol and word first, the colour repeats it.
PRINT_WORDS: dict[str, tuple[str, str]] = {
    "queued": ("… waiting to print", "yellow"),
    "printing": ("… printing", "yellow"),
    "done": ("✔ printed", "green"),
    "failed": ("✖ not printed", "red"),
    "uncertain": ("! may not have printed", "yellow"),
    "cancelled": ("— cancelled", ""),
}

Clock = Callable[[int | float | None, str], str]


def status_text(status: str) -> Text:
    """A roster status with its symbol (``✔ valid``, ``✖ revoked``)."""
    if status == "valid":
        return Text("✔ valid", style="green")
    return Text(f"✖ {status}", style="bold red")


def print_text(job: dict[str, Any]) -> Text:
    """One print job as a line of the pane: what happened to the badge, and the printer's reason."""
    word, style = PRINT_WORDS.get(str(job.get("status")), (str(job.get("status")), ""))
    line = Text(word, style=style)
    if job.get("detail") and job.get("status") in ("failed", "uncertain", "queued"):
        line.append(f": {job['detail']}")
    if job.get("kind") == "reprint":
        line.append(f"  reprint: {job.get('reason') or 'no reason given'}", style="dim")
    return line


def result_text(checkin: dict[str, Any]) -> Text:
    """A check-in's outcome: admitted, refused (with why), or annulled afterwards."""
    if checkin.get("annulled"):
        return Text("↩ annulled", style="yellow")
    if checkin.get("result") == "admitted":
        return Text("✔ admitted", style="green")
    return Text(f"✖ {checkin.get('result') or 'refused'}", style="red")


class DetailPane(VerticalScroll):
    """The highlighted attendee's record, and what the desk's last action on them came to."""

    def compose(self) -> ComposeResult:
        yield Static("Choose someone in the results to see their record.", id="d-head")
        status = Static("", id="d-status")
        status.display = False
        yield status
        yield Label("Check-ins", classes="d-title")
        yield DataTable(id="d-checkins", cursor_type="row", zebra_stripes=True, show_cursor=True)
        yield Static("", id="d-none", classes="muted")
        yield Label("Badges", classes="d-title")
        yield Static("", id="d-prints")
        yield Static("", id="d-more")

    def on_mount(self) -> None:
        table = self.query_one("#d-checkins", DataTable)
        table.add_columns("When · gate · list", "Result · device")
        self.set_class(True, "-empty")

    @property
    def checkins(self) -> DataTable[Any]:
        return self.query_one("#d-checkins", DataTable)

    def selected_checkin(self, record: dict[str, Any] | None) -> dict[str, Any] | None:
        """The check-in under the table's cursor (the newest one until someone moves it)."""
        rows = (record or {}).get("checkins") or []
        table = self.checkins
        if not rows or table.row_count == 0:
            return None
        index = min(max(table.cursor_row, 0), len(rows) - 1)
        return dict(rows[index])

    def tell(self, text: str, kind: str = "") -> None:
        """The outcome of an action on this attendee (or the appliance's refusal), beside the record."""
        status = self.query_one("#d-status", Static)
        status.update(Text(text))
        status.set_classes(kind)
        status.display = bool(text)

    def show(self, record: dict[str, Any], when: Clock) -> None:
        """Fill the pane from a record; the check-in cursor stays where it was if it still fits."""
        self.set_class(False, "-empty")
        person = record.get("attendee") or {}
        head = Text(str(person.get("name") or "—"), style="bold")
        if person.get("company"):
            head.append(f"\n{person['company']}")
        head.append(f"\n{person.get('ticket_type') or person.get('ticket_type_id') or '—'} · ")
        head.append_text(status_text(str(person.get("status") or "")))
        head.append(f" · {person.get('source') or ''}", style="dim")
        contact = " · ".join(str(person[k]) for k in ("email", "order_ref") if person.get(k))
        head.append(f"\n{contact or 'no e-mail or order'}")
        tags = ", ".join(str(uid) for uid in person.get("nfc_uids") or [])
        head.append(f"\nNFC tag: {tags or '—'}")
        self.query_one("#d-head", Static).update(head)
        self._checkins(list(record.get("checkins") or []), when)
        prints = [print_text(job) for job in record.get("prints") or []]
        self.query_one("#d-prints", Static).update(
            Text("\n").join(prints) if prints else Text("No badge printed here yet.", style="dim")
        )
        self.query_one("#d-more", Static).update(self._history(record, when))

    def _checkins(self, rows: list[dict[str, Any]], when: Clock) -> None:
        table = self.checkins
        cursor = table.cursor_row
        table.clear()
        for row in rows:  # two lines a check-in: the pane is narrow beside the results
            way = "in" if row.get("direction") == "entry" else "out"
            where = Text(f"{when(row.get('at'), '%a %H:%M:%S')}\n{row.get('gate') or '—'} · ")
            where.append(f"{row.get('list') or '—'} · {way}", style="dim")
            outcome = result_text(row)
            outcome.append(f"\n{row.get('device_id') or ''}", style="dim")
            table.add_row(where, outcome, key=str(row.get("scan_id")), height=2)
        table.display = bool(rows)
        if rows:
            table.move_cursor(row=min(max(cursor, 0), len(rows) - 1))
        self.query_one("#d-none", Static).update("" if rows else "No check-ins on any device yet.")
        self.query_one("#d-none", Static).display = not rows

    def _history(self, record: dict[str, Any], when: Clock) -> Text:
        out = Text()
        corrections = record.get("corrections") or []
        if corrections:
            out.append("Corrections\n", style="bold")
            for c in corrections:
                out.append(f"  {c.get('field')} → {c.get('value')}  ({when(c.get('at'), '%a %H:%M')})\n")
        duplicates = record.get("duplicates") or []
        if duplicates:
            out.append("! Duplicates\n", style="bold yellow")
            for d in duplicates:
                devices = ", ".join(str(x) for x in d.get("devices") or [])
                out.append(f"  admitted on {devices} ({when(d.get('at'), '%a %H:%M')})\n")
        revocations = record.get("revocations") or []
        if revocations:
            out.append("✖ Revoked\n", style="bold red")
            for r in revocations:
                out.append(f"  {r.get('target')}: {r.get('reason') or 'no reason given'}")
                out.append(f"  ({when(r.get('at'), '%a %H:%M')})\n")
        out.rstrip()
        return out
