"""The sync section: is what this box recorded safe anywhere else yet?

An appliance works alone when the hub is away, so the question staff need
answered is not "is sync green" but "what lives on this box only, and since
when": the hub link in words (``not configured`` is a normal state, said as
such), the changes the hub has not acknowledged per document with the oldest's
age, the other boxes this one syncs with, the appliances heard on the LAN (and
whether each proved it belongs to the event), and the catalog version the door
checks badges against.  Re-read every few seconds; kept on screen while offline.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from kiosk_ui.tui.base import SectionScreen
from kiosk_ui.tui.devices import REFRESH_S, STYLES, refresh_while_shown, state_text

#: What each hub state means for the person reading it.
HUB_MEANING = {
    "not_configured": "this box works alone: no hub is set, so what it records stays here",
    "connected": "every document is in sync with the hub",
    "connecting": "talking to the hub, documents still catching up",
    "not_connected": "the hub does not answer; this box goes on and sends when it does",
    "refused": "the hub refused this box (wrong event or revoked): nothing is sent",
}
#: A peer's proof of belonging to the event, in words.
TRUST = {
    True: ("✔ proved it belongs to the event", "ok"),
    False: ("✖ could not prove it belongs", "bad"),
    None: ("? did not answer the check", "note"),
}


class SyncScreen(SectionScreen):
    """The hub link, what it has not acknowledged, upstreams, peers on the LAN and the catalog."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reload_now", "Refresh", id="sync.refresh"),
    ]

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="sync-body", classes="status-body"):
            yield Static("Hub", classes="section-title")
            yield Static("Reading the sync state…", id="hub", classes="status-line")
            yield Static("", id="unacked-summary", classes="status-line")
            unacked: DataTable[Any] = DataTable(id="unacked", cursor_type="row")
            yield unacked
            yield Static("Catalog", classes="section-title")
            yield Static("", id="catalog", classes="status-line")
            yield Static("Upstream boxes", classes="section-title")
            upstreams: DataTable[Any] = DataTable(id="upstreams", cursor_type="row")
            yield upstreams
            yield Static("", id="upstreams-none", classes="status-line muted")
            yield Static("Appliances heard on the LAN", classes="section-title")
            peers: DataTable[Any] = DataTable(id="peers", cursor_type="row")
            yield peers
            yield Static("", id="peers-none", classes="status-line muted")

    def on_mount(self) -> None:
        self.query_one("#unacked", DataTable).add_columns("Document", "Changes", "Oldest")
        self.query_one("#upstreams", DataTable).add_columns("Box", "State", "Not acknowledged", "Last error")
        self.query_one("#peers", DataTable).add_columns(
            "Appliance", "Event", "Address", "Proof", "Last heard"
        )
        refresh_while_shown(self, REFRESH_S)

    def action_reload_now(self) -> None:
        self.refresh_section()

    async def reload(self) -> None:
        overview = await self.client.get("/api/v1/overview")
        peers = await self.client.get("/api/v1/peers")
        at_ms = int(overview.get("at") or self.now() * 1000)
        self._show_hub(overview.get("hub") or {}, at_ms, str(overview.get("device_id") or ""))
        self._show_catalog(overview.get("catalog"))
        self._show_upstreams(overview.get("upstreams") or [])
        self._show_peers(peers or [])

    def _since(self, at_ms: int, age_s: float | None) -> str:
        """A server-side age, as a moment the app's clock reads: stays right between refreshes."""
        if age_s is None:
            return "—"
        return self.ago(at_ms - float(age_s) * 1000)

    @staticmethod
    def _document(name: str, device_id: str) -> str:
        """A document's name as staff read it: this box's own log named as such, not by its id."""
        own = f"/device/{device_id}"
        if device_id and name.endswith(own):
            return f"{name[: -len(own)]}: this appliance's log"
        return name

    def _show_hub(self, hub: dict[str, Any], at_ms: int, device_id: str) -> None:
        state = str(hub.get("state") or "not_configured")
        text = Text()
        text.append_text(state_text(state))
        text.append(f"  {HUB_MEANING.get(state, state)}")
        if hub.get("url"):
            text.append(f"\nHub: {hub['url']}")
            synced, total = hub.get("documents_synced") or 0, hub.get("documents") or 0
            text.append(f" · {synced} of {total} documents in sync")
        if state != "not_configured":
            text.append(f"\nLast acknowledged: {self.ago(hub.get('last_acknowledged_at'))}")
        if hub.get("last_error"):
            text.append("\n✖ Last error: ", style=STYLES["bad"])
            text.append(str(hub["last_error"]))
        self.query_one("#hub", Static).update(text)

        count = int(hub.get("unacknowledged") or 0)
        summary = self.query_one("#unacked-summary", Static)
        if count:
            oldest = self._since(at_ms, hub.get("oldest_unacknowledged_age_s"))
            summary.update(
                Text(
                    f"! {count} change{'s' if count != 1 else ''} not acknowledged by a hub yet, "
                    f"the oldest from {oldest}",
                    style=STYLES["note"],
                )
            )
        else:
            summary.update(Text("✔ The hub holds everything this box recorded.", style=STYLES["ok"]))
        table = self.query_one("#unacked", DataTable)
        table.clear()
        for doc in hub.get("by_document") or []:
            table.add_row(
                self._document(str(doc.get("document")), device_id),
                str(doc.get("count")),
                self._since(at_ms, doc.get("oldest_age_s")),
            )
        table.display = bool(table.row_count)

    def _show_catalog(self, catalogs: list[dict[str, Any]] | None) -> None:
        line = self.query_one("#catalog", Static)
        if catalogs is None:
            line.update("This appliance does not report its catalog version.")
            return
        text = Text()
        for entry in catalogs:
            if entry.get("revision") is None:
                text.append(f"! {entry.get('event')}: no catalog imported yet\n", style=STYLES["note"])
                continue
            text.append(
                f"{entry.get('event')}: revision {entry['revision']}, {entry.get('attendees', 0)} attendees, "
                f"imported {self.ago(entry.get('imported_at'))}\n"
            )
        text.rstrip()
        line.update(text if catalogs else "No event on this appliance.")

    def _show_upstreams(self, upstreams: list[dict[str, Any]]) -> None:
        table = self.query_one("#upstreams", DataTable)
        table.clear()
        for box in upstreams:
            table.add_row(
                f"{box.get('peer') or '?'} ({box.get('url')})",
                state_text(str(box.get("state") or "unknown")),
                str(box.get("unacknowledged") or 0),
                str(box.get("last_error") or "—"),
            )
        table.display = bool(upstreams)
        none = self.query_one("#upstreams-none", Static)
        none.update("" if upstreams else "None configured: this box syncs with no other box directly.")
        none.display = not upstreams

    def _show_peers(self, peers: list[dict[str, Any]]) -> None:
        table = self.query_one("#peers", DataTable)
        table.clear()
        for peer in peers:
            word, kind = TRUST.get(peer.get("trusted"), TRUST[None])
            proof = Text(word, style=STYLES[kind])
            if peer.get("detail"):
                proof.append(f" ({peer['detail']})")
            table.add_row(
                str(peer.get("device_id") or "?"),
                str(peer.get("event") or "?"),
                str(peer.get("url") or "?"),
                proof,
                self.ago(peer.get("last_seen")),
            )
        table.display = bool(peers)
        none = self.query_one("#peers-none", Static)
        none.update("" if peers else "No other appliance of this event heard on the LAN.")
        none.display = not peers
