"""Talking to a printer: python-escpos' Network/Usb/Serial/File for the transport, our rules for the rest.

python-escpos opens the device and writes bytes; what it does not do is
tell a silent printer from a fine one (``paper_status()`` says "plenty" on
an empty reply, ``Network._read`` blocks for the whole socket timeout) or
say how much of a job went out before a connection died.  So each
transport here is a :class:`Link` around the python-escpos printer object
with bounded reads, chunked writes that count what was taken, and two
errors: :class:`Unreachable` (nothing could be opened, nothing sent) and
:class:`ConnectionLost` (the link died while in use).

Everything here blocks; :class:`~drivers.printer.driver.BadgePrinter` runs it in a thread.
A connection is opened per operation (a status reading, a job) and closed
after it: many network printers serve one TCP client at a time, and a
connection kept open across a printer's restart would fail silently.
"""

from __future__ import annotations

import contextlib
import os
import socket
from abc import ABC, abstractmethod
from typing import Any

from escpos.exceptions import DeviceNotFoundError
from escpos.printer import File, Network, Serial, Usb

from drivers.printer.status import QUERIES, PrinterStatus, PrintOutcome, is_status_byte, parse, query

#: Bytes per write: small enough that a dead connection shows before the whole job is in the buffer.
CHUNK = 4096


class Unreachable(OSError):
    """The printer could not be opened: nothing was sent."""


class ConnectionLost(OSError):
    """The connection failed while in use."""


class Link(ABC):
    """One transport to one printer (see the module docstring)."""

    #: Whether the printer can answer on this transport (``DLE EOT``); a plain file cannot.
    can_read = True

    @property
    @abstractmethod
    def describe(self) -> str:
        """Where the printer is, for messages ("127.0.0.1:9100", "/dev/ttyUSB0")."""

    @abstractmethod
    def open(self) -> None:
        """Open the transport; :class:`Unreachable` if it cannot be."""

    @abstractmethod
    def write(self, data: bytes) -> None:
        """Hand bytes to the transport; :class:`ConnectionLost` on any failure."""

    @abstractmethod
    def read_byte(self, timeout: float) -> int | None:
        """The next byte the printer sent (the last, if several came), None after ``timeout``."""

    def drain(self) -> None:  # noqa: B027 - most transports have nothing to drop
        """Drop bytes that arrived unasked (late answers), so replies pair with requests."""

    def probe(self) -> None:
        """Can the printer be opened?  :class:`Unreachable` if not (used where nothing can be read)."""
        self.open()
        self.close()

    @abstractmethod
    def close(self) -> None:
        """Close; never raises."""


class NetworkLink(Link):
    """Raw TCP, usually port 9100 (python-escpos ``Network``)."""

    def __init__(
        self, host: str, port: int = 9100, connect_timeout: float = 3.0, write_timeout: float = 20.0
    ):
        self.host, self.port = host, port
        self.write_timeout = write_timeout
        self.printer = Network(host, port, timeout=connect_timeout, profile="default")

    @property
    def describe(self) -> str:
        return f"{self.host}:{self.port}"

    def _socket(self) -> socket.socket:
        sock = self.printer.device
        if not isinstance(sock, socket.socket):
            raise ConnectionLost("not connected")
        return sock

    def open(self) -> None:
        try:
            self.printer.open()
        except DeviceNotFoundError as exc:
            cause = exc.__context__ or exc
            raise Unreachable(f"cannot connect to {self.describe} ({_why(cause)})") from exc
        self._socket().settimeout(self.write_timeout)

    def write(self, data: bytes) -> None:
        try:
            self._socket().settimeout(self.write_timeout)
            self.printer._raw(data)
        except OSError as exc:
            raise ConnectionLost(_why(exc)) from exc

    def read_byte(self, timeout: float) -> int | None:
        sock = self._socket()
        try:
            sock.settimeout(timeout)
            data = sock.recv(16)
        except TimeoutError:
            return None
        except OSError as exc:
            raise ConnectionLost(_why(exc)) from exc
        if not data:
            raise ConnectionLost("the printer closed the connection")
        return data[-1]

    def drain(self) -> None:
        sock = self._socket()
        try:
            sock.setblocking(False)
            while True:
                if not sock.recv(4096):
                    raise ConnectionLost("the printer closed the connection")
        except BlockingIOError:
            pass
        except ConnectionLost:
            raise
        except OSError as exc:
            raise ConnectionLost(_why(exc)) from exc

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.printer.close()
        self.printer.device = False


class SerialLink(Link):
    """RS-232 or a USB-serial adapter (python-escpos ``Serial``, pyserial)."""

    def __init__(self, device: str, baudrate: int = 19200, write_timeout: float = 20.0, dsrdtr: bool = True):
        self.device = device
        self.write_timeout = write_timeout
        self.printer = Serial(devfile=device, baudrate=baudrate, timeout=1, dsrdtr=dsrdtr, profile="default")

    @property
    def describe(self) -> str:
        return self.device

    def _port(self) -> Any:
        port = self.printer.device
        if port is None or port is False:
            raise ConnectionLost("not open")
        return port

    def open(self) -> None:
        try:
            self.printer.open()
        except DeviceNotFoundError as exc:
            raise Unreachable(f"cannot open {self.device} ({_why(exc.__context__ or exc)})") from exc
        self._port().write_timeout = self.write_timeout

    def write(self, data: bytes) -> None:
        try:
            self.printer._raw(data)
            self._port().flush()
        except Exception as exc:  # pyserial: SerialException, SerialTimeoutException, OSError
            raise ConnectionLost(_why(exc)) from exc

    def read_byte(self, timeout: float) -> int | None:
        port = self._port()
        try:
            port.timeout = timeout
            data: bytes = port.read(1)
            if data and port.in_waiting:
                data += port.read(port.in_waiting)
        except Exception as exc:
            raise ConnectionLost(_why(exc)) from exc
        return data[-1] if data else None  # a serial line has no "closed": silence is all we see

    def drain(self) -> None:
        with contextlib.suppress(Exception):
            self._port().reset_input_buffer()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.printer.close()
        self.printer.device = False


class UsbLink(Link):
    """USB printer class device through pyusb (python-escpos ``Usb``); needs ``pyusb`` and libusb."""

    def __init__(
        self, vendor: int, product: int, in_ep: int = 0x82, out_ep: int = 0x01, write_timeout: float = 20.0
    ):
        self.vendor, self.product = vendor, product
        self.in_ep, self.out_ep = in_ep, out_ep
        self.write_timeout = write_timeout
        self.printer: Usb | None = None  # made in open(): without pyusb, even its __del__ raises

    @property
    def describe(self) -> str:
        return f"USB {self.vendor:04x}:{self.product:04x}"

    def open(self) -> None:
        if not Usb.is_usable():
            raise Unreachable("USB printing needs the pyusb package (pip install pyusb) and libusb")
        timeout_ms = int(self.write_timeout * 1000)
        self.printer = Usb(
            self.vendor, self.product, timeout=timeout_ms, in_ep=self.in_ep, out_ep=self.out_ep
        )
        try:
            self.printer.open()
        except DeviceNotFoundError as exc:
            raise Unreachable(f"{self.describe} is not plugged in or not accessible") from exc

    def _usb(self) -> Usb:
        if self.printer is None:
            raise ConnectionLost("not open")
        return self.printer

    def write(self, data: bytes) -> None:
        try:
            self._usb()._raw(data)
        except Exception as exc:  # usb.core.USBError, USBTimeoutError
            raise ConnectionLost(_why(exc)) from exc

    def read_byte(self, timeout: float) -> int | None:
        try:
            data = self._usb().device.read(self.in_ep, 16, int(timeout * 1000))
        except Exception as exc:
            if type(exc).__name__ == "USBTimeoutError":
                return None
            raise ConnectionLost(_why(exc)) from exc
        return int(data[-1]) if len(data) else None

    def close(self) -> None:
        if self.printer is not None:
            with contextlib.suppress(Exception):
                self.printer.close()
            self.printer = None


class FileLink(Link):
    """A device node such as ``/dev/usb/lp0`` (python-escpos ``File``): write only, no status.

    python-escpos opens it with ``"wb"``: a regular file holds the last job.
    """

    can_read = False

    def __init__(self, path: str) -> None:
        self.path = path
        self.printer = File(devfile=path, profile="default")

    @property
    def describe(self) -> str:
        return self.path

    def open(self) -> None:
        try:
            self.printer.open()
        except DeviceNotFoundError as exc:
            raise Unreachable(f"cannot open {self.path} ({_why(exc.__context__ or exc)})") from exc

    def probe(self) -> None:
        """Can it be opened for writing?  Checked without truncating it (``open`` would)."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK | os.O_APPEND)
        except OSError as exc:
            raise Unreachable(f"cannot open {self.path} ({_why(exc)})") from exc
        os.close(fd)

    def write(self, data: bytes) -> None:
        try:
            self.printer._raw(data)
        except OSError as exc:
            raise ConnectionLost(_why(exc)) from exc

    def read_byte(self, timeout: float) -> int | None:
        return None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.printer.close()
        self.printer.device = False


def _why(exc: BaseException) -> str:
    """An OS error in words ("connection refused"), not a traceback."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__


# --- status and jobs over a link (blocking) ---------------------------------------------------


def read_status(link: Link, timeout: float, first_timeout: float | None = None) -> PrinterStatus:
    """Ask ``DLE EOT 1, 2, 4`` on an open link; stops at the first silence.  Raises ConnectionLost."""
    if not link.can_read:
        return PrinterStatus(reachable=True, detail="this connection cannot report the printer's status")
    link.drain()
    replies: dict[int, int] = {}
    for n in QUERIES:
        wait = first_timeout if first_timeout is not None and not replies else timeout
        link.write(query(n))
        value = link.read_byte(wait)
        if value is None:
            if not replies:
                return PrinterStatus(
                    reachable=True, detail=f"no answer to a status request within {wait:g} s"
                )
            break
        replies[n] = value
        if not is_status_byte(value):
            break
    return parse(replies)


def probe_status(link: Link, timeout: float) -> PrinterStatus:
    """Open, read the status, close: what ``BadgePrinter.status()`` does in its thread."""
    try:
        if not link.can_read:
            link.probe()
            return read_status(link, timeout)
        link.open()
    except Unreachable as exc:
        return PrinterStatus(reachable=False, detail=str(exc))
    try:
        return read_status(link, timeout)
    except ConnectionLost as exc:
        return PrinterStatus(reachable=False, detail=f"the connection to {link.describe} failed ({exc})")
    finally:
        link.close()


def send_job(
    link: Link, data: bytes, *, status_timeout: float, job_timeout: float, expect_status: bool
) -> PrintOutcome:
    """One badge: status, the bytes, status again; the outcome says what a person must do.

    ``failed`` only when certainly nothing was sent; ``uncertain`` as soon as
    a write was attempted and anything afterwards went wrong or stayed
    silent.  A printer expected to report its status that stays silent
    before the job gets nothing: sending blind could only end "uncertain"
    (a person checks, maybe a second badge), waiting ends in a clean retry.
    """
    total = len(data)
    try:
        link.open()
    except Unreachable as exc:
        return PrintOutcome(status="failed", reason=f"offline: {exc}; nothing was sent", total=total)
    try:
        return _send_open(link, data, status_timeout, job_timeout, expect_status and link.can_read)
    finally:
        link.close()


def _send_open(
    link: Link, data: bytes, status_timeout: float, job_timeout: float, expect_status: bool
) -> PrintOutcome:
    total = len(data)
    before: PrinterStatus | None = None
    if expect_status:
        try:
            before = read_status(link, status_timeout)
        except ConnectionLost as exc:
            reason = (
                f"offline: the connection to {link.describe} failed before the job ({exc}); nothing was sent"
            )
            return PrintOutcome(status="failed", reason=reason, total=total)
        if before.blocks_printing:
            return PrintOutcome(
                status="failed", reason=f"{before.describe()}; nothing was sent", total=total, before=before
            )
        if before.online is None:  # busy with another client, hung, or off (serial): wait and retry
            reason = (
                f"the printer does not answer ({before.describe()}); nothing was sent. "
                "If this model never answers status requests, set reports_status to false"
            )
            return PrintOutcome(status="failed", reason=reason, total=total, before=before)
    sent = 0
    try:
        for at in range(0, total, CHUNK):
            link.write(data[at : at + CHUNK])
            sent = min(total, at + CHUNK)
    except ConnectionLost as exc:
        reason = (
            f"the connection to {link.describe} died after {sent} of {total} bytes ({exc}); "
            "check whether the badge came out, reprint if not"
        )
        return PrintOutcome(status="uncertain", reason=reason, sent=sent, total=total, before=before)
    if not expect_status:
        return PrintOutcome(status="done", sent=sent, total=total, before=before)
    try:
        after = read_status(link, status_timeout, first_timeout=job_timeout)
    except ConnectionLost as exc:
        reason = (
            f"the connection to {link.describe} died after the job was sent ({exc}); "
            "check whether the badge came out, reprint if not"
        )
        return PrintOutcome(status="uncertain", reason=reason, sent=sent, total=total, before=before)
    if after.online is None:
        reason = f"the printer did not confirm the job ({after.detail}); check the badge, reprint if needed"
    elif not after.ready:
        reason = f"{after.describe()} after the job; check the badge, reprint if needed"
    else:
        note = "paper near its end" if after.paper == "near_end" else ""
        return PrintOutcome(
            status="done", reason=note, verified=True, sent=sent, total=total, before=before, after=after
        )
    return PrintOutcome(status="uncertain", reason=reason, sent=sent, total=total, before=before, after=after)
