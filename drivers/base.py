"""What every driver shares: its manifest, its lifecycle, its state, and the events it emits.

A *driver* is one device (a printer, a scanner, a reader, a broker
connection).  It is built from its settings, ``connect()``-ed and
``disconnect()``-ed by its owner (the appliance's device manager), reports
a :class:`DeviceState` at any time, and never raises out of its background
work: a device that vanishes is ``disconnected`` with a reason and comes
back on its own when it can (hot-plug).

Input devices (scanners, NFC readers) emit :class:`ScanEvent` through an
async *sink* the owner hands them; the appliance decides it exactly like
``POST /api/v1/scans``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

import msgspec

Millis = Annotated[int, msgspec.Meta(ge=0)]


class ZeroconfMatcher(msgspec.Struct, frozen=True, kw_only=True):
    """A service type this family discovers (e.g. ``_pdl-datastream._tcp.local.``), optionally narrowed."""

    type: str
    name: str | None = None  # glob on the instance name
    properties: dict[str, str] = {}  # globs on TXT properties (lower-case keys)


class Setting(msgspec.Struct, frozen=True, kw_only=True):
    """One setting a driver takes, for the CLI, the API and the documentation."""

    name: str
    type: Literal["str", "int", "float", "bool"] = "str"
    default: Any = None
    required: bool = False
    help: str = ""


class Manifest(msgspec.Struct, frozen=True, kw_only=True):
    """What a family is and needs (``drivers/<domain>/manifest.json``), readable without importing it.

    ``kinds`` are the variants a device of this family may be configured as
    (a scanner's interface, a printer's connection; ``[""]``: one variant),
    handed to the family's ``create`` as the setting ``kind_setting`` names.
    ``needs_sink``: an input device, built with the sink its scans go to.
    """

    domain: str
    name: str
    kinds: list[str] = msgspec.field(default_factory=lambda: [""])
    kind_setting: str | None = None
    needs_sink: bool = False
    requirements: list[str] = []
    iot_class: Literal["local_push", "local_polling", "assumed_state"] = "local_push"
    zeroconf: list[ZeroconfMatcher] = []
    settings: list[Setting] = []
    documentation: str = ""


def load_manifest(package_file: str) -> Manifest:
    """The ``manifest.json`` beside a driver package's ``__init__.py`` (pass ``__file__``)."""
    path = Path(package_file).resolve().parent / "manifest.json"
    return msgspec.json.decode(path.read_bytes(), type=Manifest)


def manifest_text(manifest: Manifest) -> str:
    return json.dumps(msgspec.to_builtins(manifest), indent=2)


class ScanEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A badge presented to a device: a QR code read, or an NFC tag's UID.

    ``source`` names the device (its unique id, e.g. ``evdev:usb-1a86_7523``
    or ``pcsc:Virtual PCD 00 00``); ``at`` is when the device saw it (ms).
    Exactly one of ``code`` and ``nfc_uid`` is set; ``nfc_uid`` is upper-case hex.
    """

    source: str
    at: Millis
    code: str | None = None
    nfc_uid: str | None = None

    def __post_init__(self) -> None:
        if (self.code is None) == (self.nfc_uid is None):
            raise ValueError("a scan event carries exactly one of code and nfc_uid")
        if self.at < 0:  # msgspec checks constraints when decoding, not when a driver builds one
            raise ValueError("a scan event's time cannot be before 1970")


#: Where input drivers deliver their events; awaited, so back-pressure reaches the device loop.
ScanSink = Callable[[ScanEvent], Awaitable[None]]

State = Literal["connected", "disconnected", "error", "unknown"]


class DeviceState(msgspec.Struct, frozen=True, kw_only=True):
    """What staff see in the device list: is it there, and if not, why."""

    unique_id: str
    domain: str
    name: str
    state: State
    detail: str = ""
    since: Millis = 0


class Driver(Protocol):
    """The lifecycle every driver has."""

    manifest: Manifest

    @property
    def unique_id(self) -> str: ...

    async def connect(self) -> None:
        """Start using the device; returns once started (the device may still be absent)."""
        ...

    async def disconnect(self) -> None:
        """Stop and release the device; idempotent."""
        ...

    def state(self) -> DeviceState: ...


#: Every family's ``create(settings, sink)`` in its package ``__init__``: a driver from the manifest's
#: settings (its ``kind_setting`` included) plus an optional ``name``, what staff see; ValueError if bad.
#: Input families (``needs_sink``) refuse a None sink.
Create = Callable[[dict[str, Any], ScanSink | None], Driver]
