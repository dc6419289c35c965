"""From a print job to the printer's bytes: the attendee from the roster, the event's layout.

The drawing and the ESC/POS encoding belong to ``drivers.printer``; this
module only knows where the appliance keeps what goes on the badge.  It
runs in a worker thread (the queue calls it with ``asyncio.to_thread``), so
it opens its own read connection rather than sharing the event loop's.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from PIL import Image

from appliance.config import ApplianceConfig, DataDir
from appliance.printing.queue import PrintJob
from drivers.printer import BadgeLayout, PrintedBadge, encode, load_layout, render

#: The profile of a printer configured without one (python-escpos; Epson TM-T20II, 80 mm).
DEFAULT_PROFILE = "TM-T20II"

_ATTENDEE = """
SELECT a.name, a.company, coalesce(t.name, a.ticket_type_id), a.badge_code
FROM attendee a LEFT JOIN catalog_ticket_type t ON t.event_id = a.event_id AND t.id = a.ticket_type_id
WHERE a.event_id = ? AND a.id = ?
"""


class BadgeRenderer:
    def __init__(self, data: DataDir, config: ApplianceConfig) -> None:
        self.data = data
        #: printer device id -> python-escpos profile (the dot width and the raster the printer takes)
        self.profiles = {
            d.id: str(d.settings.get("profile", DEFAULT_PROFILE))
            for d in config.devices
            if d.domain == "printer"
        }

    def layout_file(self, event_id: str) -> Path:
        """``DATA/layouts/{event}.json`` if the organizer provided one, else the built-in layout."""
        return self.data.path / "layouts" / f"{event_id}.json"

    def image(self, event_id: str, attendee_id: str, printer: str | None) -> Image.Image:
        """The badge as ``printer`` prints it (its paper width); the kiosk's preview is this image."""
        conn = sqlite3.connect(f"file:{self.data.database}?mode=ro", uri=True)
        try:
            row = conn.execute(_ATTENDEE, (event_id, attendee_id)).fetchone()
        finally:
            conn.close()
        if row is None:
            raise LookupError(f"attendee {attendee_id} is not on this appliance's roster")
        name, company, ticket_type, code = row
        layout_file = self.layout_file(event_id)
        layout = load_layout(layout_file) if layout_file.exists() else BadgeLayout()
        badge = PrintedBadge(name=name, company=company or "", ticket_type=ticket_type or "", code=code or "")
        return render(badge, layout, self.profile(printer))

    def profile(self, printer: str | None) -> str:
        """The printer's profile; without a printer, the first configured one's (else the default)."""
        if printer is None:
            printer = next(iter(self.profiles), None)
        return self.profiles.get(printer, DEFAULT_PROFILE) if printer is not None else DEFAULT_PROFILE

    def render(self, job: PrintJob) -> bytes:
        return encode(self.image(job.event_id, job.attendee_id, job.printer), self.profile(job.printer))
