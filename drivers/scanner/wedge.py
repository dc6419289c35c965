"""USB keyboard-wedge scanners, read straight from their evdev node.

The scanner "types" each code.  Reading it as a keyboard through the
console would depend on focus, so we open its ``/dev/input/event*`` node,
*grab* it (its keys no longer reach the console or any other program),
decode the keys ourselves (:mod:`.keymap`) and emit a :class:`ScanEvent`
per code.  Unplugging it makes reads fail with ENODEV: the driver reports
``disconnected`` and looks for it again by path, name or USB port every
``retry_s`` seconds, so plugging it back in is all staff need to do.
"""

from __future__ import annotations

import errno
import fnmatch
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Protocol

import evdev
import msgspec

from drivers.base import ScanSink, State
from konferenco.types import now_ms

from .common import HidSettings, ScannerBase, StateListener, parse_settings
from .keymap import EV_KEY, KeyDecoder, Terminator

#: A node must be able to type this key to count as a keyboard (not the scanner's mouse or media-key node).
_KEY_A = 30


class DeviceMatch(msgspec.Struct, frozen=True, kw_only=True):
    """Which input device is the scanner: a path, and/or globs on its name and physical (USB port) path."""

    path: str | None = None
    name: str | None = None
    phys: str | None = None

    def __post_init__(self) -> None:
        if not (self.path or self.name or self.phys):
            raise ValueError("a HID scanner needs a device path, a device name or a phys path to find it by")

    def describe(self) -> str:
        parts = [f"at {self.path}"] if self.path else []
        parts += [f"named {self.name!r}"] if self.name else []
        parts += [f"on {self.phys!r}"] if self.phys else []
        return " ".join(parts)

    def accepts(self, name: str, phys: str) -> bool:
        return (self.name is None or fnmatch.fnmatchcase(name, self.name)) and (
            self.phys is None or fnmatch.fnmatchcase(phys or "", self.phys)
        )


class InputDeviceLike(Protocol):
    """The part of ``evdev.InputDevice`` the driver uses (tests stand in for absent hardware with it)."""

    @property
    def path(self) -> str | bytes: ...
    @property
    def name(self) -> str: ...
    @property
    def phys(self) -> str: ...
    def grab(self) -> None: ...
    def close(self) -> None: ...
    def async_read_loop(self) -> AsyncIterator[evdev.InputEvent]: ...


Opener = Callable[[DeviceMatch], InputDeviceLike]


class DeviceNotFound(LookupError):
    """No input device matches (yet): the scanner is not plugged in."""


def _is_keyboard(device: evdev.InputDevice[str]) -> bool:
    return _KEY_A in device.capabilities().get(EV_KEY, [])


def open_input_device(match: DeviceMatch, input_dir: str = "/dev/input") -> evdev.InputDevice[str]:
    """Open the device ``match`` names, or raise DeviceNotFound / OSError (ENOENT, EACCES, ENOTTY...).

    Matching by name or phys only considers keyboard nodes, because one
    scanner often shows up as a keyboard, a mouse and a media-key device
    with the same name.
    """
    if match.path:
        device = evdev.InputDevice(match.path)
        if not match.accepts(device.name, device.phys):
            device.close()
            raise DeviceNotFound(
                f"{match.path} is {device.name!r} on {device.phys!r}, not {match.describe()}"
            )
        return device
    for path in sorted(evdev.list_devices(input_dir, writable=False)):
        try:
            device = evdev.InputDevice(path)
        except OSError:
            continue  # vanished meanwhile, or not ours to read
        if match.accepts(device.name, device.phys) and _is_keyboard(device):
            return device
        device.close()
    raise DeviceNotFound(f"no keyboard device {match.describe()}")


def _open_failure(match: DeviceMatch, exc: OSError) -> tuple[State, str]:
    """(state, detail) for a device that would not open, in words for whoever set it up."""
    where = match.path or match.describe()
    if exc.errno in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
        return "disconnected", f"not plugged in (no {where})"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "error", f"no permission to read {where}: run as root or add a udev rule (docs/hardware.md)"
    if exc.errno in (errno.ENOTTY, errno.EINVAL):
        return "error", f"{where} is not an input event device"
    return "error", f"cannot open {where}: {exc.strerror or exc}"


class HidScanner(ScannerBase):
    """A keyboard-wedge QR scanner; its codes go to ``sink`` as ScanEvent(code, source=unique_id, at).

    ``opener`` finds and opens the device; it defaults to the real evdev one
    and exists so tests can stand in for hardware this machine lacks.
    """

    def __init__(
        self,
        sink: ScanSink,
        *,
        device: str | None = None,
        device_name: str | None = None,
        device_phys: str | None = None,
        terminator: Terminator = "enter",
        debounce_ms: int = 1000,
        retry_s: float = 1.0,
        name: str | None = None,
        on_state: StateListener | None = None,
        opener: Opener = open_input_device,
    ) -> None:
        self.match = DeviceMatch(path=device, name=device_name, phys=device_phys)
        self._decoder = KeyDecoder(terminator)
        if device:
            key = device.rstrip("/").rsplit("/", 1)[-1]
        else:
            key = ",".join(f"{k}={v}" for k, v in (("name", device_name), ("phys", device_phys)) if v)
        super().__init__(
            sink,
            unique_id=f"evdev:{key}",
            name=name or f"QR scanner (USB keyboard {self.match.describe()})",
            debounce_ms=debounce_ms,
            retry_s=retry_s,
            on_state=on_state,
        )
        self._opener = opener

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], sink: ScanSink, *, on_state: StateListener | None = None
    ) -> HidScanner:
        s = parse_settings(settings, HidSettings)
        return cls(
            sink,
            device=s.device,
            device_name=s.device_name,
            device_phys=s.device_phys,
            terminator=s.terminator,
            debounce_ms=s.debounce_ms,
            retry_s=s.retry_s,
            name=s.name,
            on_state=on_state,
        )

    async def _session(self) -> bool:
        try:
            device = self._opener(self.match)
        except DeviceNotFound as exc:
            self._set_state("disconnected", f"not plugged in ({exc})")
            return False
        except OSError as exc:
            self._set_state(*_open_failure(self.match, exc))
            return False
        try:
            try:
                device.grab()
            except OSError as exc:
                if exc.errno == errno.EBUSY:
                    self._set_state("error", f"{device.path!s} is grabbed by another program")
                else:
                    self._set_state("error", f"cannot grab {device.path!s}: {exc.strerror or exc}")
                return False
            self._decoder.reset()
            self._connected(f"{device.name} at {device.path!s}")
            try:
                await self._read(device)
            except OSError as exc:
                if exc.errno == errno.ENODEV:
                    self._set_state("disconnected", "unplugged")
                else:
                    self._set_state("error", f"read failed: {exc.strerror or exc}")
            return False
        finally:
            device.close()

    async def _read(self, device: InputDeviceLike) -> None:
        async for event in device.async_read_loop():
            dropped = self._decoder.dropped
            code = self._decoder.feed_event(event)
            if self._decoder.dropped != dropped:
                self._reject("ignored an over-long input without a terminator (check the scanner's suffix)")
            if code is not None:
                at = event.sec * 1000 + event.usec // 1000 if event.sec > 0 else now_ms()
                await self._emit(code, at)
