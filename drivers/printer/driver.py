"""``BadgePrinter``: one ESC/POS printer as a driver (drivers/base), with an asyncio API.

The owner builds it from settings, ``connect()``s it (which starts polling
its status), asks ``status()`` and sends jobs with ``print_badge(bytes)``;
the bytes come from :func:`drivers.printer.badge_bytes` for this printer's
``profile``.  All blocking I/O (sockets, serial ports, USB) runs in a
worker thread, one operation at a time per printer, each bounded by the
timeouts in :class:`PrinterSettings`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from drivers.base import DeviceState, Manifest, State, load_manifest
from drivers.printer.connection import (
    FileLink,
    Link,
    NetworkLink,
    SerialLink,
    UsbLink,
    probe_status,
    send_job,
)
from drivers.printer.encode import ImageImpl
from drivers.printer.layout import media
from drivers.printer.status import PrinterStatus, PrintOutcome
from konferenco.lifecycle import Periodic, Supervised

log = logging.getLogger(__name__)

T = TypeVar("T")
MANIFEST: Manifest = load_manifest(__file__)
Seconds = Annotated[float, msgspec.Meta(gt=0, le=600)]


class PrinterSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How to reach one printer (the manifest's ``settings`` describe each field for staff)."""

    connection: Literal["network", "usb", "serial", "file"] = "network"
    host: str = ""
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 9100
    device: str = ""  # serial port or device file
    baudrate: int = 19200
    usb_vendor: str = ""  # hex, "04b8"
    usb_product: str = ""
    profile: str = "TM-T20II"
    image_impl: ImageImpl = "bitImageRaster"
    reports_status: bool | None = None  # None: yes, except on a file connection
    connect_timeout: Seconds = 3.0
    status_timeout: Seconds = 1.0
    job_timeout: Seconds = 20.0  # writing a job, and the printer's first answer after it
    poll_interval: Annotated[float, msgspec.Meta(ge=0)] = 30.0  # 0: no polling

    def __post_init__(self) -> None:
        needs = {"network": "host", "serial": "device", "file": "device"}.get(self.connection)
        if needs and not getattr(self, needs):
            raise ValueError(f"a {self.connection} printer needs '{needs}'")
        if self.connection == "usb":
            for field in ("usb_vendor", "usb_product"):
                try:
                    int(getattr(self, field), 16)
                except ValueError:
                    raise ValueError(f"a usb printer needs '{field}' in hex, e.g. 04b8") from None
        media(self.profile)  # a profile that does not know its paper width is refused now, not at print

    @property
    def expects_status(self) -> bool:
        return self.reports_status if self.reports_status is not None else self.connection != "file"

    @property
    def unique_id(self) -> str:
        where = {
            "network": f"tcp:{self.host}:{self.port}",
            "usb": f"usb:{self.usb_vendor.lower()}:{self.usb_product.lower()}",
            "serial": f"serial:{self.device}",
            "file": f"file:{self.device}",
        }[self.connection]
        return f"escpos:{where}"

    def link(self) -> Link:
        """A fresh transport (a :class:`Link` keeps no state between operations worth sharing)."""
        if self.connection == "network":
            return NetworkLink(self.host, self.port, self.connect_timeout, self.job_timeout)
        if self.connection == "serial":
            return SerialLink(self.device, self.baudrate, self.job_timeout)
        if self.connection == "usb":
            return UsbLink(
                int(self.usb_vendor, 16), int(self.usb_product, 16), write_timeout=self.job_timeout
            )
        return FileLink(self.device)


def _now_ms() -> int:
    return int(time.time() * 1000)


class BadgePrinter:
    """A badge printer: ``status()``, ``print_badge(bytes)``, and the driver lifecycle."""

    manifest: Manifest = MANIFEST

    def __init__(
        self, settings: PrinterSettings, *, name: str = "", link_factory: Callable[[], Link] | None = None
    ) -> None:
        self.settings = settings
        self.name = name or f"Badge printer {settings.unique_id.removeprefix('escpos:')}"
        self._link_factory = link_factory or settings.link
        self._io = threading.Lock()  # one operation on the device at a time, even if a caller gave up
        self._poller: Periodic | None = None
        self._state: State = "unknown"
        self._detail = "not checked yet"
        self._since = _now_ms()
        self.last_status: PrinterStatus | None = None
        #: Whether silence means trouble: the printer should answer DLE EOT on this connection.
        self._reports = settings.expects_status and self._link_factory().can_read

    @classmethod
    def from_settings(cls, settings: dict[str, Any], name: str = "") -> BadgePrinter:
        """From the appliance's device settings (a dict of the manifest's settings); ValueError if bad."""
        try:
            parsed = msgspec.convert(settings, PrinterSettings, strict=False)
        except msgspec.ValidationError as exc:
            raise ValueError(f"printer settings: {exc}") from exc
        return cls(parsed, name=name)

    @property
    def unique_id(self) -> str:
        return self.settings.unique_id

    @property
    def profile(self) -> str:
        """The python-escpos profile to render badges for (``badge_bytes(..., printer.profile)``)."""
        return self.settings.profile

    # --- lifecycle -------------------------------------------------------------------------

    async def connect(self) -> None:
        """Start polling the status; returns at once (the printer may be off: that is a state)."""
        if self._poller is None and self.settings.poll_interval > 0:
            every = self.settings.poll_interval  # a failed poll is retried at the same pace
            self._poller = Periodic(
                f"poll {self.unique_id}", self._poll, every, backoff=(every, every), logger=log
            )
            self._poller.start()

    async def disconnect(self) -> None:
        poller, self._poller = self._poller, None
        if poller is not None:
            await poller.stop()

    @property
    def tasks(self) -> list[Supervised]:
        """Its status poll, while connected (``konferenco.lifecycle``)."""
        return [self._poller] if self._poller is not None else []

    async def _poll(self) -> None:
        try:
            await self.status()
        except Exception:  # a driver never dies of its background work (drivers/base): retried
            self._set("error", "status poll failed; see the log")
            raise

    def state(self) -> DeviceState:
        return DeviceState(
            unique_id=self.unique_id,
            domain=self.manifest.domain,
            name=self.name,
            state=self._state,
            detail=self._detail,
            since=self._since,
        )

    def _set(self, state: State, detail: str) -> None:
        if state != self._state:
            self._since = _now_ms()
        self._state, self._detail = state, detail

    def _note(self, status: PrinterStatus) -> None:
        """What staff see, from the latest reading."""
        self.last_status = status
        if not status.reachable:
            self._set("disconnected", status.describe())
        elif status.state == "unknown":
            self._set("unknown" if self._reports else "connected", status.describe())
        elif status.ready:
            self._set("connected", status.describe())
        else:
            self._set("error", status.describe())

    # --- what the appliance calls ------------------------------------------------------------

    async def status(self) -> PrinterStatus:
        """Open, ask ``DLE EOT`` 1/2/4, close; bounded by the connect and status timeouts."""
        timeout = self.settings.status_timeout
        status = await asyncio.to_thread(self._locked, lambda: probe_status(self._link_factory(), timeout))
        self._note(status)
        return status

    async def print_badge(self, data: bytes) -> PrintOutcome:
        """Send one job (bytes from ``badge_bytes``); never raises for printer trouble (see PrintOutcome)."""
        settings = self.settings

        def job() -> PrintOutcome:
            return send_job(
                self._link_factory(),
                data,
                status_timeout=settings.status_timeout,
                job_timeout=settings.job_timeout,
                expect_status=settings.expects_status,
            )

        outcome = await asyncio.to_thread(self._locked, job)
        if outcome.after is not None:
            self._note(outcome.after)
        elif outcome.status == "uncertain":
            self._set("error", outcome.reason)
        elif outcome.before is not None:
            self._note(outcome.before)
        elif outcome.status == "failed":
            self._set("disconnected", outcome.reason)
        else:
            self._set("connected", "last badge sent; this connection cannot report the printer's status")
        if outcome.status != "done":
            log.warning("badge on %s %s: %s", self.unique_id, outcome.status, outcome.reason)
        return outcome

    def _locked(self, work: Callable[[], T]) -> T:
        with self._io:
            return work()
