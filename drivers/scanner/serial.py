"""Scanners in serial mode (USB CDC-ACM ``/dev/ttyACM*``, or RS-232): one code per CR- or LF-ended line.

pyserial opens and configures the tty (raw mode, speed, an exclusive lock);
reading is asyncio-native through the loop's ``add_reader`` on its
descriptor, so there is no thread to stop.  Garbage (bytes that are not
UTF-8, an endless line) is reported in the device state and skipped.
Unplugging makes the tty hang up (reads fail with EIO or return nothing):
the driver reports ``disconnected`` and reopens the same path every
``retry_s`` seconds; use a ``/dev/serial/by-id/...`` path, which survives
re-plugging when ``ttyACM0`` may come back as ``ttyACM1``.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Mapping
from typing import Any

import serial

from drivers.base import ScanSink, State

from .common import FdReader, ScannerBase, SerialSettings, StateListener, parse_settings


def _open_failure(port: str, exc: serial.SerialException) -> tuple[State, str]:
    """(state, detail) for a port that would not open."""
    code = getattr(exc, "errno", None)
    if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO, errno.EIO):
        return "disconnected", f"not plugged in (no {port})"
    if code in (errno.EACCES, errno.EPERM):
        return "error", f"no permission to open {port}: add the service user to the dialout group"
    if code in (errno.EAGAIN, errno.EWOULDBLOCK):
        return "error", f"{port} is in use by another program"
    return "error", f"cannot open {port}: {exc}"


class SerialScanner(ScannerBase):
    """A scanner on a serial port; each line it sends goes to ``sink`` as a ScanEvent."""

    def __init__(
        self,
        sink: ScanSink,
        *,
        port: str,
        baudrate: int = 9600,
        debounce_ms: int = 1000,
        retry_s: float = 1.0,
        name: str | None = None,
        on_state: StateListener | None = None,
    ) -> None:
        super().__init__(
            sink,
            unique_id=f"serial:{port}",
            name=name or f"QR scanner (serial {port})",
            debounce_ms=debounce_ms,
            retry_s=retry_s,
            on_state=on_state,
        )
        self.port = port
        self.baudrate = baudrate

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], sink: ScanSink, *, on_state: StateListener | None = None
    ) -> SerialScanner:
        s = parse_settings(settings, SerialSettings)
        return cls(
            sink,
            port=s.port,
            baudrate=s.baudrate,
            debounce_ms=s.debounce_ms,
            retry_s=s.retry_s,
            name=s.name,
            on_state=on_state,
        )

    def _open(self) -> serial.Serial:
        port = serial.Serial(baudrate=self.baudrate, timeout=0, exclusive=True)
        port.port = self.port
        port.open()
        return port

    async def _session(self) -> bool:
        try:
            port = self._open()
        except serial.SerialException as exc:
            self._set_state(*_open_failure(self.port, exc))
            return False
        reader: FdReader | None = None
        try:
            self._splitter.reset()
            self._connected(f"{self.port} at {self.baudrate} baud")
            reader = FdReader(port.fileno())
            while True:
                await reader.wait()
                data = port.read(4096)  # non-blocking (timeout=0): what is there now
                if data:
                    await self._feed_bytes(data)
        except serial.SerialException as exc:
            self._set_state("disconnected", f"unplugged ({exc})")
            return False
        finally:
            if reader is not None:
                reader.close()
            with contextlib.suppress(OSError, serial.SerialException):
                port.close()
