"""The door: one scan path for every input, and what a gate does after an admission.

``Door.scan`` decides and records a scan exactly as ``POST /api/v1/scans``
does (through the one :class:`~appliance.checkin.service.CheckinService`),
then applies the gate's print policy: a gate set to auto-print queues the
attendee's badge on its printer, once per attendee ever.  Scanners and NFC
readers reach the same path through :meth:`Door.device_sink`, so a badge
held to a reader is decided, recorded and printed like one sent over HTTP.

A printer problem never changes the door's answer: the job waits in the
durable queue and staff see why.  The door is built with its print queue
already in hand (``appliance/box.py``), so there is no moment after start
when a scan could skip its badge.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from appliance.checkin.service import CheckinService
from appliance.checkin.structs import ScanAnswer, ScanRequest
from appliance.config import DeviceConfig
from appliance.printing.queue import PrintError, PrintQueue
from drivers.base import ScanEvent, ScanSink
from konferenco.errors import KonferencoError
from konferenco.types import new_id

log = logging.getLogger(__name__)


class PrintPolicy:
    """Which gate prints on first admission, and where (``appliance.json`` → ``auto_print``)."""

    def __init__(self, prints: PrintQueue, auto_print: dict[str, str]) -> None:
        self.prints = prints
        self.auto_print = auto_print

    async def after(self, answer: ScanAnswer, event: str) -> None:
        if (
            answer.result != "admitted"
            or answer.replayed
            or answer.direction != "entry"
            or answer.attendee is None
        ):
            return
        printer = self.auto_print.get(answer.gate)
        if printer is None:
            return
        try:
            await self.prints.enqueue(event, answer.attendee.id, printer, "auto")
        except PrintError as exc:
            log.error("badge of %s not queued at %s: %s", answer.attendee.id, answer.gate, exc.message)


#: A scanner's scan refused as "not recorded, try again" is retried this often, same nonce.
SCANNER_TRIES = 3
_RETRYABLE = frozenset({"too_late", "unavailable"})


#: Told of every recorded scan (the live feed): the answer, and the event it was recorded in.
ScanListener = Callable[[ScanAnswer, str], None]
#: Told what a help-desk device read (``DeviceConfig.desk``): the device and the read, nothing decided.
TapListener = Callable[[DeviceConfig, ScanEvent], None]


class Door:
    def __init__(
        self,
        checkin: CheckinService,
        policy: PrintPolicy,
        on_scan: ScanListener | None = None,
        on_tap: TapListener | None = None,
    ) -> None:
        self.checkin = checkin
        self.policy = policy
        self.on_scan = on_scan
        self.on_tap = on_tap

    async def scan(self, request: ScanRequest, staff: str) -> ScanAnswer:
        """Decide, record durably, then print if the gate says so; the answer is the door's."""
        answer = await self.checkin.scan(request, staff)
        event = self.checkin.scope.resolve(request.event)
        if self.on_scan is not None and not answer.replayed:
            try:
                self.on_scan(answer, event)
            except Exception:  # a listener's trouble never changes the door's answer
                log.exception("scan %s: the scan listener failed", answer.scan_id)
        await self.policy.after(answer, event)
        return answer

    def device_sink(self, device: DeviceConfig) -> ScanSink:
        """The sink a scanner or reader feeds: its scans count at its gate, with the device as staff."""

        async def sink(event: ScanEvent) -> None:
            if device.desk:  # the help desk's reader admits no one: staff link or look up the read
                if self.on_tap is not None:
                    try:
                        self.on_tap(device, event)
                    except Exception:
                        log.exception("read at desk device %s: the tap listener failed", device.id)
                return
            request = ScanRequest(
                nonce=new_id(),
                gate=device.gate or "main",
                code=event.code,
                nfc_uid=event.nfc_uid,
                device_time=event.at,
            )
            for attempt in range(1, SCANNER_TRIES + 1):
                try:
                    answer = await self.scan(request, device.id)
                    break
                except KonferencoError as exc:  # refused before recording (storage down, no catalog yet…)
                    if exc.code in _RETRYABLE and attempt < SCANNER_TRIES:
                        continue  # the same nonce: recorded at most once, whatever happened
                    log.warning("scan at %s refused, not recorded: %s", device.id, exc.message)
                    return
            log.info("%s at %s: %s (%s)", event.source, request.gate, answer.result, answer.reason)

        return sink
