"""QR / barcode scanners: USB keyboard wedges (evdev), serial scanners, and a line reader for development.

Every scanner emits :class:`drivers.base.ScanEvent` (``code`` set) to the
async sink its owner passes in, debounces double reads, and comes back by
itself after being unplugged.  Build one from stored settings with
:func:`from_settings` (or :func:`create`, the entry point every family
has); the settings are listed in ``manifest.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from drivers.base import Driver, ScanSink

from .common import MANIFEST, StateListener
from .keymap import KeyDecoder
from .lines import LineScanner
from .serial import SerialScanner

if TYPE_CHECKING:
    from .wedge import HidScanner

__all__ = ["MANIFEST", "KeyDecoder", "LineScanner", "SerialScanner", "create", "from_settings"]


def create(settings: dict[str, Any], sink: ScanSink | None) -> Driver:
    """The family's entry point (``drivers.registry``): :func:`from_settings`, which needs a sink."""
    if sink is None:
        raise ValueError("a scanner needs a sink for its scans")
    return from_settings(settings, sink)


def from_settings(
    settings: Mapping[str, Any], sink: ScanSink, *, on_state: StateListener | None = None
) -> HidScanner | SerialScanner | LineScanner:
    """The scanner ``settings["kind"]`` names (``hid`` by default), built from the rest of the settings."""
    kind = settings.get("kind", "hid")
    if kind == "hid":
        from .wedge import HidScanner  # imported here: evdev exists on Linux only

        return HidScanner.from_settings(settings, sink, on_state=on_state)
    if kind == "serial":
        return SerialScanner.from_settings(settings, sink, on_state=on_state)
    if kind == "lines":
        return LineScanner.from_settings(settings, sink, on_state=on_state)
    raise ValueError(f"scanner settings: kind must be hid, serial or lines, not {kind!r}")
