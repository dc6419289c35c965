"""ESC/POS badge printers: badge layout (Pillow), ESC/POS bytes (python-escpos), connections and status.

The appliance renders a badge for the printer's profile and sends the bytes::

    printer = BadgePrinter.from_settings({"host": "10.0.0.7", "profile": "TM-T20II"})
    await printer.connect()
    data = badge_bytes(PrintedBadge(name=..., code=...), load_layout(path), printer.profile)
    outcome = await printer.print_badge(data)  # done | failed (nothing sent) | uncertain
"""

from typing import Any

from drivers.base import Driver, ScanSink
from drivers.printer.driver import MANIFEST, BadgePrinter, PrinterSettings
from drivers.printer.encode import badge_bytes, encode
from drivers.printer.layout import BadgeLayout, PrintedBadge, ProfileError, load_layout, media, render
from drivers.printer.status import PrinterStatus, PrintOutcome

__all__ = [
    "MANIFEST",
    "BadgeLayout",
    "BadgePrinter",
    "PrintOutcome",
    "PrintedBadge",
    "PrinterSettings",
    "PrinterStatus",
    "ProfileError",
    "badge_bytes",
    "create",
    "encode",
    "load_layout",
    "media",
    "render",
]


def create(settings: dict[str, Any], sink: ScanSink | None = None) -> Driver:
    """The family's entry point (``drivers.registry``): the manifest's settings, plus ``name``."""
    values = dict(settings)
    name = str(values.pop("name", "") or "")
    return BadgePrinter.from_settings(values, name=name)
