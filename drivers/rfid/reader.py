"""``NfcReader``: the asyncio face of a PC/SC badge reader.

The blocking watch loop (:mod:`drivers.rfid.monitor`) runs in a thread of its
own; each accepted tap is handed to the owner's sink on the owner's event loop
and awaited there, so a slow sink holds the reader back instead of piling up
events.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from drivers.base import DeviceState, Manifest, ScanEvent, ScanSink, State, load_manifest
from drivers.rfid.debounce import Debouncer
from drivers.rfid.monitor import PcscMonitor
from konferenco.types import now_ms

log = logging.getLogger(__name__)

MANIFEST = load_manifest(__file__)
_DEFAULTS = {s.name: s.default for s in MANIFEST.settings}


class NfcReader:
    """Every PC/SC reader matching ``reader`` (a glob on the reader name), reporting badge UIDs to ``sink``.

    ``connect()`` starts watching and returns at once, even with no reader or
    no pcscd: the state says ``disconnected`` and why, and readers that appear
    later (plugged in, or pcscd restarted) are picked up on their own.
    """

    manifest: Manifest = MANIFEST

    def __init__(
        self,
        sink: ScanSink,
        *,
        reader: str = _DEFAULTS["reader"],
        debounce_ms: int = _DEFAULTS["debounce_ms"],
        retry_s: float = 1.0,
    ) -> None:
        if not reader:
            raise ValueError("reader glob must not be empty (use '*' for any reader)")
        self.reader_glob = reader
        self._sink = sink
        self._debounce: Debouncer[tuple[str, str]] = Debouncer(debounce_ms)
        self._retry_s = retry_s
        self._monitor: PcscMonitor | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._state = self._make_state("unknown", "not started")

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], sink: ScanSink) -> NfcReader:
        """Build from the manifest's settings (``reader``, ``debounce_ms``); missing ones are defaults."""
        unknown = set(settings) - set(_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown rfid settings: {', '.join(sorted(unknown))}")
        merged = {**_DEFAULTS, **settings}
        return cls(sink, reader=str(merged["reader"]), debounce_ms=int(merged["debounce_ms"]))

    @property
    def unique_id(self) -> str:
        return f"pcsc:{self.reader_glob}"

    def state(self) -> DeviceState:
        return self._state

    async def connect(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._loop = asyncio.get_running_loop()
        self._monitor = PcscMonitor(self.reader_glob, self._on_tap, self._set_state, retry_s=self._retry_s)
        self._thread = threading.Thread(target=self._monitor.run, name=f"nfc-{self.reader_glob}", daemon=True)
        self._thread.start()

    async def disconnect(self) -> None:
        monitor, thread = self._monitor, self._thread
        self._monitor = self._thread = None
        if monitor is not None:
            monitor.stop()
        if thread is not None:
            # Joined off the loop: the thread may be waiting for the sink, which runs on this loop.
            await asyncio.to_thread(thread.join, 5.0)
            if thread.is_alive():
                log.warning("NFC monitor thread for %r did not stop within 5 s", self.reader_glob)
        self._set_state("disconnected", "stopped")

    # --- called in the monitor thread ---

    def _set_state(self, state: State, detail: str) -> None:
        current = self._state
        if (current.state, current.detail) != (state, detail):
            log.info("NFC reader %s: %s (%s)", self.unique_id, state, detail)
            self._state = self._make_state(state, detail)

    def _make_state(self, state: State, detail: str) -> DeviceState:
        return DeviceState(
            unique_id=self.unique_id,
            domain=MANIFEST.domain,
            name=f"NFC reader {self.reader_glob}",
            state=state,
            detail=detail,
            since=now_ms(),
        )

    def _on_tap(self, reader: str, uid: str, at: int) -> None:
        if not self._debounce.accept((reader, uid), time.monotonic_ns() // 1_000_000):
            log.debug("NFC badge %s on %s ignored: read again within the debounce window", uid, reader)
            return
        event = ScanEvent(source=f"pcsc:{reader}", at=at, nfc_uid=uid)
        self._deliver(event)

    def _deliver(self, event: ScanEvent) -> None:
        """Run the sink on the owner's loop and wait for it, giving up only when asked to stop."""
        loop, monitor = self._loop, self._monitor
        if loop is None or monitor is None:
            return
        try:
            future = asyncio.run_coroutine_threadsafe(self._call_sink(event), loop)
        except RuntimeError:  # the owner's loop is closed: nobody is left to take scans
            log.warning("NFC badge %s dropped: the owner's event loop is closed", event.nfc_uid)
            monitor.stop()
            return
        while True:
            try:
                future.result(timeout=0.2)
                return
            except concurrent.futures.TimeoutError:
                if monitor.stopping:
                    future.cancel()
                    return
            except concurrent.futures.CancelledError:
                return

    async def _call_sink(self, event: ScanEvent) -> None:
        try:
            await self._sink(event)
        except Exception:
            log.exception("scan sink failed on NFC badge %s from %s", event.nfc_uid, event.source)
