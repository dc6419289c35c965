"""What the three scanner drivers share: settings, debounce, line splitting and the reconnect loop.

Every scanner is a background task that opens its device, reads codes and
hands them to the owner's sink; when the device goes away the task marks it
``disconnected`` and tries again every ``retry_s`` seconds, so a scanner
that is unplugged and plugged back in just works again.  Nothing raised by
the device or by the sink escapes the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from drivers.base import DeviceState, Manifest, ScanEvent, ScanSink, State, load_manifest
from konferenco.types import now_ms

from .keymap import Terminator

log = logging.getLogger("drivers.scanner")

MANIFEST: Manifest = load_manifest(__file__)

#: Longest line a serial or line scanner may send before its terminator; longer input is dropped.
MAX_LINE_BYTES = 4096

StateListener = Callable[[DeviceState], None]


# --- settings ---------------------------------------------------------------------------------------


class CommonSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str | None = None
    debounce_ms: Annotated[int, msgspec.Meta(ge=0)] = 1000
    retry_s: Annotated[float, msgspec.Meta(gt=0)] = 1.0


class HidSettings(CommonSettings, kw_only=True):
    kind: Literal["hid"] = "hid"
    device: str | None = None
    device_name: str | None = None
    device_phys: str | None = None
    terminator: Terminator = "enter"


class SerialSettings(CommonSettings, kw_only=True):
    kind: Literal["serial"] = "serial"
    port: str
    baudrate: Annotated[int, msgspec.Meta(gt=0)] = 9600


class LineSettings(CommonSettings, kw_only=True):
    kind: Literal["lines"] = "lines"
    path: str = "-"


S = TypeVar("S", bound=CommonSettings)


def parse_settings(settings: Mapping[str, Any], kind: type[S]) -> S:
    """Settings as stored or typed by staff (strings allowed) → a checked struct, or a ValueError."""
    try:
        return msgspec.convert(dict(settings), kind, strict=False)
    except msgspec.ValidationError as exc:
        raise ValueError(f"scanner settings: {exc}") from None


# --- pure helpers -----------------------------------------------------------------------------------


class Debouncer:
    """Collapses a scanner's double reads: the same code again within ``window_ms`` is not a new scan.

    The window slides: a badge held in front of a scanner in continuous mode
    is read again and again, and stays one scan until it has been away for
    ``window_ms``.  Times going backwards (clock set back) count as new.
    """

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        self._last_seen: dict[str, int] = {}

    def accept(self, code: str, at_ms: int) -> bool:
        if self.window_ms <= 0:
            return True
        last = self._last_seen.get(code)
        self._last_seen[code] = at_ms
        if len(self._last_seen) > 64:
            self._last_seen = {c: t for c, t in self._last_seen.items() if 0 <= at_ms - t < self.window_ms}
            self._last_seen[code] = at_ms
        return last is None or not 0 <= at_ms - last < self.window_ms


_LINE_END = re.compile(rb"[\r\n]")


class LineSplitter:
    """Cuts a byte stream into lines ended by CR, LF or CRLF; empty lines are skipped.

    A line longer than ``max_bytes`` is dropped whole (``dropped`` counts them)
    rather than buffered without bound: that is noise, not a badge.
    """

    def __init__(self, max_bytes: int = MAX_LINE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.dropped = 0
        self.reset()

    def reset(self) -> None:
        self._buf = bytearray()
        self._overflow = False

    def feed(self, data: bytes) -> list[bytes]:
        lines: list[bytes] = []
        parts = _LINE_END.split(data)
        for i, part in enumerate(parts):
            ended = i < len(parts) - 1
            if not self._overflow:
                self._buf += part
                if len(self._buf) > self.max_bytes:
                    self._buf.clear()
                    self._overflow = True
                    self.dropped += 1
            if ended:
                if self._buf:
                    lines.append(bytes(self._buf))
                self._buf.clear()
                self._overflow = False
        return lines


# --- the driver skeleton ----------------------------------------------------------------------------


class ScannerBase:
    """Lifecycle, state, debounce and delivery shared by the scanner drivers.

    Subclasses implement :meth:`_session`: open the device, call
    :meth:`_connected`, read until it goes away, set the state saying why,
    and return ``True`` only when the input has ended for good (end of a file).
    """

    manifest: Manifest = MANIFEST

    def __init__(
        self,
        sink: ScanSink,
        *,
        unique_id: str,
        name: str,
        debounce_ms: int = 1000,
        retry_s: float = 1.0,
        on_state: StateListener | None = None,
    ) -> None:
        self._sink = sink
        self._unique_id = unique_id
        self._debouncer = Debouncer(debounce_ms)
        self._splitter = LineSplitter()
        self.retry_s = retry_s
        self._on_state = on_state
        self._state = DeviceState(
            unique_id=unique_id, domain=MANIFEST.domain, name=name, state="unknown", since=now_ms()
        )
        self._task: asyncio.Task[None] | None = None
        self._connected_detail = ""
        self._attempted = asyncio.Event()
        #: Scans handed to the sink, and inputs thrown away as unreadable (for the device list).
        self.delivered = 0
        self.rejected = 0

    @property
    def unique_id(self) -> str:
        return self._unique_id

    def state(self) -> DeviceState:
        return self._state

    async def connect(self) -> None:
        """Start reading; returns after the first attempt to open the device, whatever its outcome."""
        if self._task is not None and not self._task.done():
            return
        self._attempted = asyncio.Event()
        self._task = asyncio.create_task(self._supervise(), name=f"scanner {self._unique_id}")
        await self._attempted.wait()

    async def disconnect(self) -> None:
        """Stop reading and release the device (and its grab); idempotent."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._set_state("disconnected", "stopped")

    # --- for subclasses ---

    async def _session(self) -> bool:
        raise NotImplementedError

    def _connected(self, detail: str = "") -> None:
        self._connected_detail = detail
        self._set_state("connected", detail)
        self._attempted.set()

    def _set_state(self, state: State, detail: str = "") -> None:
        old = self._state
        if (old.state, old.detail) == (state, detail):
            return
        since = old.since if old.state == state else now_ms()
        self._state = DeviceState(
            unique_id=old.unique_id, domain=old.domain, name=old.name, state=state, detail=detail, since=since
        )
        if old.state != state:
            log.info("%s: %s%s", self._unique_id, state, f" ({detail})" if detail else "")
        if self._on_state is not None:
            try:
                self._on_state(self._state)
            except Exception:
                log.exception("%s: state listener failed", self._unique_id)

    def _reject(self, why: str) -> None:
        """Input that is not a code: say so in the device list and the log, and carry on."""
        self.rejected += 1
        log.warning("%s: %s", self._unique_id, why)
        self._set_state(self._state.state, why)

    async def _emit(self, code: str, at_ms: int) -> None:
        """Debounce, then hand the scan to the sink; a failing sink is logged, never fatal."""
        if not self._debouncer.accept(code, at_ms):
            log.debug("%s: double read of %r ignored", self._unique_id, code)
            return
        if self._state.state == "connected" and self._state.detail != self._connected_detail:
            self._set_state("connected", self._connected_detail)  # a good scan clears an earlier complaint
        event = ScanEvent(source=self._unique_id, at=max(at_ms, 0), code=code)
        try:
            await self._sink(event)
        except Exception:
            log.exception("%s: the scan sink failed on %r", self._unique_id, code)
            return
        self.delivered += 1

    async def _emit_line(self, raw: bytes, at_ms: int) -> None:
        """One line from a serial or line scanner: NULs (HID-POS padding) dropped, must be UTF-8."""
        data = raw.replace(b"\0", b"")
        if not data:
            return
        try:
            code = data.decode("utf-8")
        except UnicodeDecodeError:
            self._reject(f"ignored unreadable input ({len(data)} bytes, not UTF-8): {data[:24]!r}")
            return
        await self._emit(code, at_ms)

    async def _feed_bytes(self, data: bytes) -> None:
        """Bytes from a line-oriented device (serial, stdin, FIFO): every completed line is a code."""
        dropped = self._splitter.dropped
        lines = self._splitter.feed(data)
        if self._splitter.dropped != dropped:
            self._reject(
                f"ignored an over-long line (over {self._splitter.max_bytes} bytes without CR or LF)"
            )
        at = now_ms()
        for line in lines:
            await self._emit_line(line, at)

    async def _supervise(self) -> None:
        try:
            while True:
                try:
                    finished = await self._session()
                except Exception as exc:  # background work never raises (drivers/base.py)
                    log.exception("%s: reader failed", self._unique_id)
                    self._set_state("error", f"reader failed: {exc!r}")
                    finished = False
                self._attempted.set()
                if finished:
                    return
                await asyncio.sleep(self.retry_s)
        finally:
            self._attempted.set()


class FdReader:
    """Awaitable readiness of a non-blocking file descriptor, via the loop's ``add_reader``.

    Used by the serial and line scanners: no thread, and cancelling the
    reading task is enough to stop (the reader is removed on close).
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._loop = asyncio.get_running_loop()
        self._ready = asyncio.Event()
        self._loop.add_reader(fd, self._ready.set)

    async def wait(self) -> None:
        await self._ready.wait()
        self._ready.clear()

    def close(self) -> None:
        self._loop.remove_reader(self._fd)
