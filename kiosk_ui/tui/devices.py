"""The devices section: every scanner, reader, printer and sign of this box, and what the LAN announces.

Staff come here when a door stops beeping or badges stop printing, so each row
says the device's state in a word with a symbol (a 16-colour or colour-blind
terminal loses nothing), since when, and the driver's own sentence about what
went wrong.  ``/api/v1/overview`` is read first because it carries the newest
state and the printers' paper and cover; ``/api/v1/devices`` adds configured
devices the overview does not list yet.  The screen re-reads every few seconds
and keeps what it shows while the appliance is away.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from kiosk_ui.tui.base import SectionScreen

#: Seconds between automatic re-reads.
REFRESH_S = 5.0
#: Loop states that mean "working": any other state, or any failure, is listed.
QUIET_LOOPS = frozenset({"ok", "running", "healthy", "idle", "sleeping"})
#: Loop states that mean "working": any other, or any failure, is listed.

#: A device or link state as a symbol, a word and a style: the word carries the meaning.
STATES: dict[str, tuple[str, str]] = {
    "connected": ("● connected", "ok"),
    "disconnected": ("✖ disconnected", "bad"),
    "error": ("✖ error", "bad"),
    "unknown": ("? not checked yet", "note"),
    "not_configured": ("○ not configured", "muted"),
    "connecting": ("◌ connecting", "note"),
    "not_connected": ("✖ not connected", "bad"),
    "refused": ("✖ refused", "bad"),
}
STYLES = {"ok": "bold green", "bad": "bold red", "note": "bold yellow", "muted": "dim"}


def refresh_while_shown(screen: SectionScreen, seconds: float) -> None:
    """Re-read every SECONDS while SCREEN is the one on show: a section in the background asks nothing."""

    def tick() -> None:
        if screen.is_current:
            screen.refresh_section()

    screen.set_interval(seconds, tick)


def state_text(state: str) -> Text:
    """A state as ``● connected`` / ``✖ error`` / ``? …``, coloured, the word always there."""
    word, kind = STATES.get(state, (f"? {state or 'unknown'}", "note"))
    return Text(word, style=STYLES[kind])


def printer_note(printer: dict[str, Any]) -> str:
    """What a printer's last reading says beyond its state: paper, cover, jobs waiting or failed."""
    parts = []
    paper = printer.get("paper")
    if paper and paper != "ok":
        parts.append("paper out" if paper == "out" else "paper low")
    if printer.get("cover_open"):
        parts.append("cover open")
    for key, word in (("queued", "queued"), ("printing", "printing"), ("failed", "failed")):
        if printer.get(key):
            parts.append(f"{printer[key]} {word}")
    if printer.get("uncertain"):
        parts.append(f"{printer['uncertain']} uncertain")
    return ", ".join(parts)


class DevicesScreen(SectionScreen):
    """Devices with their state and last error, failing loops, and devices heard on the LAN."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reload_now", "Refresh", id="devices.refresh"),
    ]

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="devices-body", classes="status-body"):
            yield Static("Devices of this appliance", classes="section-title")
            yield Static("Reading the devices…", id="devices-summary", classes="status-line")
            table: DataTable[Any] = DataTable(id="devices", cursor_type="row", zebra_stripes=True)
            yield table
            yield Static("", id="loops", classes="status-line")
            yield Static("Heard on the LAN", classes="section-title")
            lan: DataTable[Any] = DataTable(id="discovered", cursor_type="row")
            yield lan
            yield Static("", id="discovered-none", classes="status-line muted")

    def on_mount(self) -> None:
        devices = self.query_one("#devices", DataTable)
        devices.add_columns("Device", "Kind", "Gate", "State", "Since", "Detail / error")
        self.query_one("#discovered", DataTable).add_columns("Name", "Kind", "Address", "Last heard")
        refresh_while_shown(self, REFRESH_S)

    def action_reload_now(self) -> None:
        self.refresh_section()

    async def reload(self) -> None:
        overview = await self.client.get("/api/v1/overview")
        configured = await self.client.get("/api/v1/devices")
        discovered = await self.client.get("/api/v1/devices/discovered")
        self._show_devices(overview, configured)
        self._show_loops(overview.get("loops") or [])
        self._show_discovered(discovered or [])

    def _show_devices(self, overview: dict[str, Any], configured: list[dict[str, Any]]) -> None:
        rows: dict[str, dict[str, Any]] = {str(d["id"]): dict(d) for d in overview.get("devices") or []}
        for device in configured:  # configured but not in the overview yet: its own last state
            if str(device["id"]) not in rows:
                state = device.get("state") or {}
                rows[str(device["id"])] = {
                    **device,
                    **{k: state.get(k) for k in ("state", "detail", "since")},
                }
        printers = {str(p["id"]): p for p in overview.get("printers") or []}
        table = self.query_one("#devices", DataTable)
        cursor = table.cursor_row
        table.clear()
        failing = 0
        for device_id, device in sorted(rows.items()):
            state = str(device.get("state") or "unknown")
            failing += state in ("disconnected", "error")
            detail = str(device.get("detail") or "")
            if device_id in printers and (note := printer_note(printers[device_id])):
                detail = f"{note} · {detail}" if detail else note
            kind = f"{device.get('domain') or '?'}/{device.get('kind') or '?'}"
            table.add_row(
                str(device.get("name") or device_id),
                kind,
                str(device.get("gate") or "—"),
                state_text(state),
                self.ago(device.get("since")),
                detail or "—",
                key=device_id,
            )
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))
        count = f"{len(rows)} device{'s' if len(rows) != 1 else ''}"
        summary = self.query_one("#devices-summary", Static)
        if not rows:
            summary.update("No devices are configured on this appliance.")
        elif failing:
            summary.update(Text(f"✖ {failing} of {count} not working", style=STYLES["bad"]))
        else:
            summary.update(Text(f"✔ {count}, none failing", style=STYLES["ok"]))

    def _show_loops(self, loops: list[dict[str, Any]]) -> None:
        failing = [loop for loop in loops if loop.get("failures") or loop.get("state") not in QUIET_LOOPS]
        text = Text()
        for loop in failing:
            error = loop.get("last_error") or "no error recorded"
            text.append(f"✖ {loop.get('name')}: {loop.get('state')}, ", style=STYLES["bad"])
            text.append(f"{loop.get('failures') or 0} failures, last: {error}\n")
        loops_line = self.query_one("#loops", Static)
        text.rstrip()
        loops_line.update(text)
        loops_line.display = bool(failing)

    def _show_discovered(self, found: list[dict[str, Any]]) -> None:
        table = self.query_one("#discovered", DataTable)
        table.clear()
        for service in found:
            address = f"{service.get('host') or '?'}:{service.get('port') or '?'}"
            table.add_row(
                str(service.get("name") or "?"),
                str(service.get("kind") or "?"),
                address,
                self.ago(service.get("last_seen")),
            )
        table.display = bool(found)
        none = self.query_one("#discovered-none", Static)
        none.update(
            "" if found else "Nothing announced on the LAN (printers and other appliances show here)."
        )
        none.display = not found
