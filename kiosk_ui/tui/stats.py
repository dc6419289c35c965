"""Stats: the event's check-in figures at a glance, following the doors live.

Everything comes from ``GET /api/v1/stats`` (admitted, inside, scans, refused,
per gate, per ticket type, scans per minute for the last hour); refusals by
reason are counted per gate by ``GET /api/v1/door/counts`` (``stats`` only
counts refusals), summed here.  A busy entrance makes many scan events a
second, so a live event only marks the figures stale and a timer reloads at
most once a second; a slower timer reloads anyway, for scans another appliance
synced in (those make no live event here).
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.widgets import DataTable, Digits, Label, Sparkline, Static

from kiosk_ui.tui.base import SectionScreen
from kiosk_ui.tui.client import ApiError
from kiosk_ui.tui.door import REASONS

#: At most one reload per this many seconds, however many scan events arrive.
THROTTLE_S = 1.0
#: A reload anyway this often (figures synced from other appliances make no live event here).
EVERY_S = 10.0
FIGURES = (("admitted", "Admitted"), ("inside", "Inside now"), ("scans", "Scans"), ("refused", "Refused"))


class StatsScreen(SectionScreen):
    """Big figures, tables per gate, per ticket type and per refusal reason, and scans per minute."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "reload_now", "Refresh", id="stats.refresh"),
    ]
    #: Under 100 columns the gates take one column and the other two tables share the other.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]

    def __init__(self) -> None:
        super().__init__()
        self.stale = False
        self.gate_names: dict[str, str] = {}
        self.figures: dict[str, Any] = {}

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="stats-figures"):
            for key, title in FIGURES:
                with Vertical(classes="stats-figure", id=f"stats-{key}-box") as box:
                    box.border_title = title
                    yield Digits("0", id=f"stats-{key}")
        with Grid(id="stats-tables"):
            for table_id, title, columns in (
                ("stats-gates", "Per gate", ("Gate", "Admitted", "Refused")),
                ("stats-tickets", "Per ticket type", ("Ticket type", "Admitted")),
                ("stats-reasons", "Refusals by reason", ("Reason", "Scans")),
            ):
                table: DataTable[str] = DataTable(id=table_id, cursor_type="none", zebra_stripes=True)
                table.border_title = title
                table.add_columns(*columns)
                yield table
        yield Label("Scans per minute, last hour", id="stats-spark-title")
        yield Sparkline([0] * 60, id="stats-spark")
        yield Static("", id="stats-message")

    def on_mount(self) -> None:
        self.set_interval(THROTTLE_S, self._throttled)
        self.set_interval(EVERY_S, self.refresh_section)

    def on_live(self, topic: str, payload: dict[str, Any]) -> None:
        if topic == "scan":
            self.stale = True

    def _throttled(self) -> None:
        if self.stale:
            self.stale = False
            self.refresh_section()

    def action_reload_now(self) -> None:
        self.refresh_section()

    async def reload(self) -> None:
        stats = await self.call(self.client.get("/api/v1/stats"))
        if stats is None:
            return  # the header says OFFLINE; the last figures stay on screen
        if not self.gate_names:
            setup = await self.call(self.client.get("/api/v1/door/setup"))
            if setup:
                self.gate_names = {str(g["id"]): str(g["name"]) for g in setup.get("gates") or []}
        reasons = await self._refusals(stats)
        self.figures = stats
        self._show(stats, reasons)

    async def _refusals(self, stats: dict[str, Any]) -> dict[str, int] | None:
        """Refusals by reason over every gate that refused anything (None: could not be read now)."""
        if not self.gate_names:
            return None  # the gates are not known yet: say so rather than show none
        total: dict[str, int] = {}
        for gate, figures in (stats.get("per_gate") or {}).items():
            if not int(figures.get("refused") or 0) or gate not in self.gate_names:
                continue
            try:
                counts = await self.call(self.client.get("/api/v1/door/counts", gate=gate))
            except ApiError:
                return None
            if counts is None:
                return None
            for reason, count in (counts.get("refusals") or {}).items():
                total[reason] = total.get(reason, 0) + int(count)
        return total

    def _show(self, stats: dict[str, Any], reasons: dict[str, int] | None) -> None:
        for key, _ in FIGURES:
            self.query_one(f"#stats-{key}", Digits).update(str(int(stats.get(key) or 0)))
        gates = self.query_one("#stats-gates", DataTable)
        gates.clear()
        for gate, figures in sorted((stats.get("per_gate") or {}).items()):
            gates.add_row(
                self.gate_names.get(gate, gate),
                str(figures.get("admitted") or 0),
                str(figures.get("refused") or 0),
            )
        tickets = self.query_one("#stats-tickets", DataTable)
        tickets.clear()
        for name, count in sorted((stats.get("per_ticket_type") or {}).items()):
            tickets.add_row(name, str(count))
        table = self.query_one("#stats-reasons", DataTable)
        table.clear()
        if reasons is None:
            table.add_row("(not read: try again)", "")
        else:
            for reason, count in sorted(reasons.items(), key=lambda item: (-item[1], item[0])):
                table.add_row(REASONS.get(reason, reason), str(count))
        minutes = [int(x) for x in stats.get("scans_per_minute") or []] or [0]
        self.query_one("#stats-spark", Sparkline).data = minutes
        self.query_one("#stats-spark-title", Label).update(
            f"Scans per minute, last hour: {minutes[-1]} this minute, at most {max(minutes)}"
        )
        attendees = int(stats.get("attendees") or 0)
        self.query_one("#stats-message", Static).update(
            f"{int(stats.get('admitted') or 0)} of {attendees} attendees admitted" if attendees else ""
        )
