"""QR scanners: key decoding, the evdev keyboard wedge, serial over a real pty, and the line reader.

This machine has no /dev/input and no /dev/uinput, so the wedge driver reads
a pipe-backed stand-in for a scanner's event node: real ``struct
input_event`` bytes go through evdev's own asyncio reader, and unplugging
fails reads with ENODEV as the kernel does.  Where /dev/uinput is writable
(CI with the uinput module), a real virtual keyboard runs the same checks.
Serial scanners are real pseudo-terminals behind a symlink that plays the
``/dev/serial/by-id`` path: closing the master is unplugging it.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import json
import os
import struct
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path

import evdev
import msgspec
import pytest
from evdev import ecodes
from evdev.eventio_async import EventIO

from drivers.base import DeviceState, ScanEvent
from drivers.scanner import MANIFEST, LineScanner, SerialScanner, from_settings, keymap
from drivers.scanner.common import Debouncer, LineSplitter
from drivers.scanner.keymap import KeyDecoder, decode
from drivers.scanner.wedge import DeviceMatch, DeviceNotFound, HidScanner

REPO = Path(__file__).resolve().parents[2]
CODE = "KB1:6BFA81 $%*+-./:QZ0"  # the badge prefix plus every base45 character class

# --- typing text as a scanner does (built from evdev's names, independent of the decoder's table) ----

_PUNCT = {
    ":": ("KEY_SEMICOLON", True), "$": ("KEY_4", True), "%": ("KEY_5", True), "*": ("KEY_8", True),
    "+": ("KEY_EQUAL", True), "-": ("KEY_MINUS", False), ".": ("KEY_DOT", False), "/": ("KEY_SLASH", False),
    " ": ("KEY_SPACE", False), "!": ("KEY_1", True), "]": ("KEY_RIGHTBRACE", False),
}  # fmt: skip


def _key(ch: str) -> tuple[int, bool]:
    if ch.isalpha():
        return ecodes.ecodes[f"KEY_{ch.upper()}"], ch.isupper()
    if ch.isdigit():
        return ecodes.ecodes[f"KEY_{ch}"], False
    name, shift = _PUNCT[ch]
    return ecodes.ecodes[name], shift


def keystrokes(text: str, end: int = ecodes.KEY_ENTER) -> list[tuple[int, int, int]]:
    """(type, code, value) as a USB scanner sends them: scan code, key down, sync, key up, sync."""
    out: list[tuple[int, int, int]] = []

    def press(code: int) -> None:
        out.extend([(ecodes.EV_MSC, ecodes.MSC_SCAN, 0x70000 + code), (ecodes.EV_KEY, code, 1)])
        out.extend([(ecodes.EV_SYN, 0, 0), (ecodes.EV_KEY, code, 0), (ecodes.EV_SYN, 0, 0)])

    for ch in text:
        code, shift = _key(ch)
        if shift:
            out.append((ecodes.EV_KEY, ecodes.KEY_LEFTSHIFT, 1))
        press(code)
        if shift:
            out.append((ecodes.EV_KEY, ecodes.KEY_LEFTSHIFT, 0))
    press(end)
    return out


def key_pairs(text: str, end: int = ecodes.KEY_ENTER) -> list[tuple[int, int]]:
    return [(code, value) for etype, code, value in keystrokes(text, end) if etype == ecodes.EV_KEY]


# --- a scanner's event node, for a machine that has none -------------------------------------------

_INPUT_EVENT = struct.Struct("llHHi")  # struct input_event on 64-bit Linux: timeval, type, code, value


class PipeKeyboard(EventIO):
    """Stands in for ``evdev.InputDevice``: the driver reads kernel-format events through evdev's reader."""

    def __init__(self, name: str = "Test Barcode Scanner", phys: str = "usb-0000:00:14.0-2/input0") -> None:
        self.fd, self._writer = os.pipe()
        os.set_blocking(self.fd, False)
        # Room for floods: the test and the driver share one thread, so a full pipe would deadlock.
        fcntl.fcntl(self._writer, fcntl.F_SETPIPE_SZ, 1 << 20)
        self.name, self.phys, self.path = name, phys, "/dev/input/event7"
        self.grabbed = self.unplugged = self.busy = False
        self.closed = True  # no handle open yet
        self.consumed = 0
        self._read = asyncio.Event()
        self.clock = 1_700_000_000.0

    def grab(self) -> None:
        if self.busy:
            raise OSError(errno.EBUSY, "Device or resource busy")
        self.grabbed = True

    def read(self):
        if self.unplugged:
            raise OSError(errno.ENODEV, "No such device")  # what the kernel answers after unplugging
        batch = list(super().read())
        self.consumed += len(batch)
        self._read.set()
        return iter(batch)

    async def until_consumed(self, n: int, within: float = 5) -> None:
        """Until the driver has read ``n`` events in all."""
        async with asyncio.timeout(within):
            while self.consumed < n:
                self._read.clear()
                await self._read.wait()

    def open(self) -> PipeKeyboard:
        """A fresh handle on the node (one device object stands for both the hardware and its handle)."""
        assert self.closed, "opened twice without closing"
        self.closed, self.grabbed = False, False
        return self

    def close(self) -> None:
        super().close()  # removes the loop reader, as evdev's InputDevice.close does
        self.closed, self.grabbed = True, False

    def destroy(self) -> None:
        os.close(self.fd)
        os.close(self._writer)

    def send(self, events: list[tuple[int, int, int]], at: float | None = None) -> None:
        if at is not None:
            self.clock = at
        sec, usec = int(self.clock), round((self.clock % 1) * 1_000_000)
        os.write(self._writer, b"".join(_INPUT_EVENT.pack(sec, usec, t, c, v) for t, c, v in events))

    def type(self, text: str, at: float | None = None, end: int = ecodes.KEY_ENTER) -> None:
        self.send(keystrokes(text, end), at)

    def unplug(self) -> None:
        self.unplugged = True
        os.write(self._writer, b"\0")  # wakes the reader, which then gets ENODEV


class UsbPort:
    """What the driver's opener finds: the keyboard plugged in now, or nothing (like /dev/input)."""

    def __init__(self) -> None:
        self.device: PipeKeyboard | None = None
        self.opened: list[PipeKeyboard] = []
        self.attempts = 0
        self._tried = asyncio.Event()
        self.made: list[PipeKeyboard] = []

    def plug(self, device: PipeKeyboard | None = None) -> PipeKeyboard:
        self.device = device or PipeKeyboard()
        self.made.append(self.device)
        return self.device

    async def until_attempts(self, n: int, within: float = 5) -> None:
        """Until the driver has looked for the device ``n`` times in all."""
        async with asyncio.timeout(within):
            while self.attempts < n:
                self._tried.clear()
                await self._tried.wait()

    def unplug(self) -> None:
        assert self.device is not None
        self.device.unplug()
        self.device = None

    def open(self, match: DeviceMatch) -> PipeKeyboard:
        self.attempts += 1
        self._tried.set()
        device = self.device
        if device is None or not match.accepts(device.name, device.phys):
            raise DeviceNotFound(f"no keyboard device {match.describe()}")
        self.opened.append(device)
        return device.open()


class Recorder:
    """The owner's side: an async sink and a state listener, with waits instead of sleeps."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[ScanEvent] = asyncio.Queue()
        self.states: list[DeviceState] = []
        self._changed = asyncio.Event()

    async def sink(self, event: ScanEvent) -> None:
        await self.events.put(event)

    def on_state(self, state: DeviceState) -> None:
        self.states.append(state)
        self._changed.set()

    async def next(self, within: float = 5) -> ScanEvent:
        return await asyncio.wait_for(self.events.get(), within)

    async def codes(self, n: int) -> list[str | None]:
        return [(await self.next()).code for _ in range(n)]

    async def until(self, pred: Callable[[DeviceState], bool], within: float = 5) -> DeviceState:
        async with asyncio.timeout(within):
            while not (self.states and pred(self.states[-1])):
                self._changed.clear()
                await self._changed.wait()
        return self.states[-1]

    async def until_state(self, state: str, within: float = 5) -> DeviceState:
        return await self.until(lambda s: s.state == state, within)


@pytest.fixture
async def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def port() -> Iterator[UsbPort]:
    usb = UsbPort()
    yield usb
    for device in usb.made:
        device.destroy()


@pytest.fixture
async def hid(rec: Recorder, port: UsbPort) -> AsyncIterator[Callable[..., HidScanner]]:
    made: list[HidScanner] = []

    def make(**kw) -> HidScanner:
        kw.setdefault("device_name", "*Barcode*")
        kw.setdefault("retry_s", 0.02)
        scanner = HidScanner(rec.sink, on_state=rec.on_state, opener=port.open, **kw)
        made.append(scanner)
        return scanner

    yield make
    for scanner in made:
        await scanner.disconnect()


# --- key decoding ----------------------------------------------------------------------------------


def test_key_codes_are_the_kernels() -> None:
    for name in ["KEY_TAB", "KEY_ENTER", "KEY_KPENTER", "KEY_LEFTCTRL", "KEY_RIGHTCTRL", "KEY_LEFTSHIFT"]:
        assert getattr(keymap, name) == ecodes.ecodes[name]
    for name in ["KEY_RIGHTSHIFT", "KEY_LEFTALT", "KEY_RIGHTALT", "KEY_CAPSLOCK", "EV_KEY"]:
        assert getattr(keymap, name) == ecodes.ecodes[name]
    for letter in "abcdefghijklmnopqrstuvwxyz":
        assert keymap.US_LAYOUT[ecodes.ecodes[f"KEY_{letter.upper()}"]] == (letter, letter.upper())
    for digit in "0123456789":
        assert keymap.US_LAYOUT[ecodes.ecodes[f"KEY_{digit}"]][0] == digit
        assert keymap.KEYPAD[ecodes.ecodes[f"KEY_KP{digit}"]] == digit


@pytest.mark.parametrize("text", [CODE, "kb1:lower case", "Mixed!Case]"])
def test_decoder_rebuilds_what_the_scanner_typed_with_shift(text: str) -> None:
    assert decode(key_pairs(text)) == [text]


def test_decoder_reads_evdev_input_events_and_skips_other_event_types() -> None:
    decoder = KeyDecoder()
    events = [evdev.InputEvent(1_700_000_000, 0, t, c, v) for t, c, v in keystrokes("KB1:AB")]
    assert any(e.type == ecodes.EV_MSC for e in events)
    out = [code for e in events if (code := decoder.feed_event(e)) is not None]
    assert out == ["KB1:AB"]


def test_decoder_ignores_key_repeat_and_releases() -> None:
    a, enter = ecodes.KEY_A, ecodes.KEY_ENTER
    assert decode([(a, 1), (a, 2), (a, 2), (a, 0), (a, 0), (enter, 1), (enter, 0)]) == ["a"]


def test_shift_only_lasts_while_held() -> None:
    shift, a = ecodes.KEY_RIGHTSHIFT, ecodes.KEY_A
    assert decode([(shift, 1), (a, 1), (a, 0), (shift, 0), (a, 1), (a, 0), (ecodes.KEY_ENTER, 1)]) == ["Aa"]


def test_caps_lock_flips_letters_but_not_digits() -> None:
    caps, shift = ecodes.KEY_CAPSLOCK, ecodes.KEY_LEFTSHIFT
    pairs = [(caps, 1), (caps, 0), *key_pairs("kb1")[:-2]]  # lower-case keys, terminator cut off
    pairs += [(shift, 1), (ecodes.KEY_A, 1), (ecodes.KEY_A, 0), (shift, 0), (ecodes.KEY_ENTER, 1)]
    assert decode(pairs) == ["KB1a"]
    pairs = [(caps, 1), (caps, 0), (caps, 1), (caps, 0), *key_pairs("x")]
    assert decode(pairs) == ["x"]


def test_tab_terminator_and_enter_ignored() -> None:
    pairs = key_pairs("ab", end=ecodes.KEY_ENTER)[:-2] + key_pairs("C", end=ecodes.KEY_TAB)
    assert decode(pairs, terminator="tab") == ["abC"]
    assert decode(key_pairs("KB1:X", end=ecodes.KEY_KPENTER)) == ["KB1:X"]
    with pytest.raises(ValueError, match="terminator"):
        KeyDecoder("space")  # type: ignore[arg-type]


def test_alt_numpad_sequences_and_ctrl_separators() -> None:
    alt, kp = ecodes.KEY_LEFTALT, {d: ecodes.ecodes[f"KEY_KP{d}"] for d in "0123456789"}

    def alt_code(digits: str) -> list[tuple[int, int]]:
        return [(alt, 1), *[(kp[d], v) for d in digits for v in (1, 0)], (alt, 0)]

    pairs = alt_code("75") + alt_code("66") + alt_code("0233") + [(ecodes.KEY_ENTER, 1)]
    assert decode(pairs) == ["KBé"]  # Alt+0233 is é in the ANSI code page
    ctrl = ecodes.KEY_LEFTCTRL
    pairs = [(ecodes.KEY_A, 1), (ctrl, 1), (ecodes.KEY_RIGHTBRACE, 1), (ctrl, 0), (ecodes.KEY_B, 1)]
    assert decode([*pairs, (ecodes.KEY_ENTER, 1)]) == ["a\x1db"]  # Ctrl+] is GS1's group separator


def test_bare_terminator_and_overlong_input_yield_nothing() -> None:
    decoder = KeyDecoder()
    assert decoder.feed(ecodes.KEY_ENTER, 1) is None
    for _ in range(keymap.MAX_CODE_CHARS + 10):
        assert decoder.feed(ecodes.KEY_A, 1) is None
    assert decoder.feed(ecodes.KEY_ENTER, 1) is None
    assert decoder.dropped == 1
    assert [decoder.feed(c, v) for c, v in key_pairs("ok")][-2] == "ok"  # and the next code is whole


def test_debouncer_window_slides_while_the_badge_stays() -> None:
    d = Debouncer(1000)
    assert d.accept("A", 0)
    assert not d.accept("A", 400)
    assert not d.accept("A", 1300)  # still in front of the scanner: 900 ms since the last read
    assert d.accept("B", 1301)
    assert d.accept("A", 2400)
    assert d.accept("A", 100)  # clock set back: a new scan, not a silent drop
    assert all(Debouncer(0).accept("A", 5) for _ in range(3))


def test_line_splitter_handles_cr_lf_crlf_split_chunks_and_floods() -> None:
    s = LineSplitter(max_bytes=16)
    assert s.feed(b"KB1:A\r\nKB1:B\rKB1") == [b"KB1:A", b"KB1:B"]
    assert s.feed(b":C\n\n\r\n") == [b"KB1:C"]
    assert s.feed(b"x" * 40) == [] and s.dropped == 1
    assert s.feed(b"yyyy\nKB1:D\n") == [b"KB1:D"]  # the flooded line is dropped whole


# --- the keyboard-wedge driver ---------------------------------------------------------------------


async def test_wedge_grabs_the_scanner_and_emits_each_code(rec: Recorder, port: UsbPort, hid) -> None:
    device = port.plug()
    scanner = hid()
    await scanner.connect()
    assert scanner.state().state == "connected"
    assert device.grabbed, "scans must not also type into the console"
    assert scanner.unique_id == "evdev:name=*Barcode*"
    device.type(CODE, at=1_700_000_123.456)
    event = await rec.next()
    assert event == ScanEvent(source="evdev:name=*Barcode*", at=1_700_000_123_456, code=CODE)
    device.type("kb1:second", at=1_700_000_130.0)
    assert (await rec.next()).code == "kb1:second"


async def test_wedge_with_tab_terminator_and_caps_lock(rec: Recorder, port: UsbPort, hid) -> None:
    device = port.plug()
    await hid(terminator="tab").connect()
    device.send([(ecodes.EV_KEY, ecodes.KEY_CAPSLOCK, 1), (ecodes.EV_KEY, ecodes.KEY_CAPSLOCK, 0)])
    device.type("kb1:abc", end=ecodes.KEY_TAB)
    assert (await rec.next()).code == "KB1:ABC"


async def test_wedge_debounces_double_reads_per_device(rec: Recorder, port: UsbPort, hid) -> None:
    device = port.plug()
    await hid(debounce_ms=1000).connect()
    t = 1_700_000_000.0
    device.type("KB1:A", at=t)
    device.type("KB1:A", at=t + 0.3)  # the scanner read the same badge twice
    device.type("KB1:B", at=t + 0.4)
    device.type("KB1:A", at=t + 1.5)  # shown again later: a new scan
    events = [await rec.next() for _ in range(3)]
    assert [e.code for e in events] == ["KB1:A", "KB1:B", "KB1:A"]
    assert [e.at for e in events] == [1_700_000_000_000, 1_700_000_000_400, 1_700_000_001_500]


async def test_wedge_unplug_then_replug(rec: Recorder, port: UsbPort, hid) -> None:
    first = port.plug()
    scanner = hid()
    await scanner.connect()
    half = keystrokes("KB1:HALF")[:-5]  # unplugged mid-code: no terminator
    first.send(half)
    await first.until_consumed(len(half))
    port.unplug()
    await rec.until_state("disconnected")
    assert any(s.detail == "unplugged" for s in rec.states)
    assert first.closed, "the dead node must be closed (and its grab released)"
    await rec.until(lambda s: s.detail.startswith("not plugged in"))  # still looking for it

    second = port.plug()
    await rec.until_state("connected")
    assert second.grabbed
    second.type("KB1:NEW")
    assert (await rec.next()).code == "KB1:NEW", "the half code from before the unplug must not leak"


async def test_wedge_absent_at_start_connects_when_plugged(rec: Recorder, port: UsbPort, hid) -> None:
    scanner = hid(device_name="*Barcode*", device_phys="usb-*-2/input0")
    await scanner.connect()  # returns: the device may be absent
    assert scanner.state().state == "disconnected"
    port.plug(PipeKeyboard(phys="usb-0000:00:14.0-3/input0"))  # same model, other USB port: not ours
    tries = port.attempts
    await port.until_attempts(tries + 3)
    assert port.opened == [] and scanner.state().state == "disconnected"
    port.plug()
    await rec.until_state("connected")


async def test_wedge_grabbed_elsewhere_is_an_error_until_released(rec: Recorder, port: UsbPort, hid) -> None:
    device = port.plug()
    device.busy = True
    await hid().connect()
    state = await rec.until_state("error")
    assert "grabbed by another program" in state.detail
    device.busy = False
    await rec.until_state("connected")


async def test_wedge_survives_a_failing_sink_and_garbage_keys(port: UsbPort) -> None:
    seen: list[ScanEvent] = []
    delivered = asyncio.Event()

    async def sink(event: ScanEvent) -> None:
        if event.code == "KB1:BOOM":
            raise RuntimeError("the appliance is having a bad day")
        seen.append(event)
        delivered.set()

    device = port.plug()
    scanner = HidScanner(sink, device_name="*", opener=port.open, retry_s=0.02)
    await scanner.connect()
    device.type("KB1:BOOM")
    stuck = [(ecodes.EV_KEY, ecodes.KEY_A, 1)] * (keymap.MAX_CODE_CHARS + 5)
    device.send([*stuck, (ecodes.EV_KEY, ecodes.KEY_ENTER, 1)])  # a stuck key: 4101 a's, then Enter
    device.type("KB1:OK")
    await asyncio.wait_for(delivered.wait(), 5)
    assert [e.code for e in seen] == ["KB1:OK"]
    assert scanner.state().state == "connected"
    assert scanner.rejected == 1
    await scanner.disconnect()


async def test_wedge_disconnect_releases_the_device_and_is_idempotent(port: UsbPort, hid) -> None:
    device = port.plug()
    scanner = hid()
    await scanner.connect()
    await scanner.connect()  # a second connect does not open it twice
    assert port.opened == [device]
    await scanner.disconnect()
    await scanner.disconnect()
    assert device.closed
    assert scanner.state().state == "disconnected" and scanner.state().detail == "stopped"


async def test_wedge_real_opener_reports_missing_and_wrong_devices(rec: Recorder, tmp_path: Path) -> None:
    missing = HidScanner(rec.sink, device=str(tmp_path / "usb-Scanner-event-kbd"), retry_s=10)
    await missing.connect()
    assert missing.state().state == "disconnected"
    assert "not plugged in" in missing.state().detail
    assert missing.unique_id == "evdev:usb-Scanner-event-kbd"
    await missing.disconnect()

    not_input = tmp_path / "not-an-event-node"
    not_input.write_bytes(b"")
    wrong = HidScanner(rec.sink, device=str(not_input), retry_s=10)
    await wrong.connect()
    assert wrong.state().state == "error"
    assert wrong.state().detail == f"{not_input} is not an input event device"
    await wrong.disconnect()

    by_name = HidScanner(rec.sink, device_name="Konferenco no such scanner*", retry_s=10)
    await by_name.connect()
    assert by_name.state().state == "disconnected"
    await by_name.disconnect()


@pytest.mark.skipif(
    not os.access("/dev/uinput", os.W_OK),
    reason="no writable /dev/uinput on this machine (no uinput module in this container); "
    "the pipe-backed event node above covers the driver",
)
async def test_wedge_end_to_end_with_a_uinput_virtual_keyboard(rec: Recorder) -> None:
    name = f"Konferenco Test Barcode {os.getpid()}"
    caps: dict[int, Sequence[int]] = {ecodes.EV_KEY: list(range(1, 128)), ecodes.EV_MSC: [ecodes.MSC_SCAN]}

    def type_into(ui, text: str) -> None:
        for etype, code, value in keystrokes(text):
            ui.write(etype, code, value)
        ui.syn()

    ui = evdev.UInput(caps, name=name)
    scanner = HidScanner(rec.sink, device_name=name, retry_s=0.05, on_state=rec.on_state)
    try:
        await scanner.connect()
        await rec.until_state("connected")  # the node may appear a moment after creation
        type_into(ui, CODE)
        assert (await rec.next()).code == CODE
        ui.close()
        await rec.until_state("disconnected")
        ui = evdev.UInput(caps, name=name)
        await rec.until_state("connected")
        type_into(ui, "KB1:AGAIN")
        assert (await rec.next()).code == "KB1:AGAIN"
    finally:
        await scanner.disconnect()
        ui.close()


# --- serial scanners over a real pseudo-terminal ---------------------------------------------------


class SerialPort:
    """A pty whose slave is reached through a stable symlink, like /dev/serial/by-id/…; master = scanner."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master = -1
        self.plug()

    def plug(self) -> None:
        self.master, slave = os.openpty()
        target = os.ttyname(slave)
        os.close(slave)  # the driver opens it by name
        tmp = self.link.with_suffix(".new")
        tmp.unlink(missing_ok=True)
        os.symlink(target, tmp)
        os.replace(tmp, self.link)

    def unplug(self) -> None:
        os.close(self.master)
        self.master = -1

    async def write(self, data: bytes) -> None:
        """From a thread: a full tty buffer blocks the writer until the driver, on this loop, reads."""
        view = memoryview(data)
        while view:
            view = view[await asyncio.to_thread(os.write, self.master, view) :]

    def close(self) -> None:
        if self.master >= 0:
            self.unplug()


@pytest.fixture
def tty(tmp_path: Path) -> Iterator[SerialPort]:
    port = SerialPort(tmp_path / "usb-Scanner_ACM-if00")
    yield port
    port.close()


@pytest.fixture
async def serial_scanner(rec: Recorder, tty: SerialPort) -> AsyncIterator[SerialScanner]:
    scanner = SerialScanner(rec.sink, port=str(tty.link), retry_s=0.02, on_state=rec.on_state)
    await scanner.connect()
    assert scanner.state().state == "connected"
    yield scanner
    await scanner.disconnect()


async def test_serial_lines_become_scan_events(rec: Recorder, tty: SerialPort, serial_scanner) -> None:
    await tty.write(f"{CODE}\r\n".encode())
    event = await rec.next()
    assert event.code == CODE and event.source == f"serial:{tty.link}"
    await tty.write(b"KB1:CR\rKB1:LF\nKB1:SPL")  # CR only, LF only, and a line split across writes
    await tty.write(b"IT\r\n")
    assert await rec.codes(3) == ["KB1:CR", "KB1:LF", "KB1:SPLIT"]


async def test_serial_garbage_is_reported_not_fatal(rec: Recorder, tty: SerialPort, serial_scanner) -> None:
    await tty.write(b"\xff\xfe\xc3(junk\r\n")
    state = await rec.until(lambda s: "not UTF-8" in s.detail)
    assert state.state == "connected"
    await tty.write(b"\x00\x00KB1:AFTER\x00\r\n" + b"z" * 5000 + b"\r\nKB1:NEXT\r\n")  # NUL padding, a flood
    assert await rec.codes(2) == ["KB1:AFTER", "KB1:NEXT"]
    assert serial_scanner.rejected == 2
    assert any("over-long line" in s.detail for s in rec.states)
    state = serial_scanner.state()
    assert (state.state, state.detail) == ("connected", f"{tty.link} at 9600 baud")  # complaint cleared


async def test_serial_debounces_double_reads(rec: Recorder, tty: SerialPort, serial_scanner) -> None:
    await tty.write(b"KB1:TWICE\r\nKB1:TWICE\r\nKB1:OTHER\r\n")
    assert await rec.codes(2) == ["KB1:TWICE", "KB1:OTHER"]


async def test_serial_unplug_and_replug(rec: Recorder, tty: SerialPort, serial_scanner) -> None:
    await tty.write(b"KB1:BEFORE\r\n")
    assert (await rec.next()).code == "KB1:BEFORE"
    tty.unplug()
    await rec.until_state("disconnected")
    assert any(s.detail.startswith("unplugged") for s in rec.states)
    await rec.until(lambda s: s.detail.startswith("not plugged in"))

    tty.plug()  # a new pty behind the same by-id path
    await rec.until_state("connected")
    await tty.write(b"KB1:AFTER\r\n")
    assert (await rec.next()).code == "KB1:AFTER"


async def test_serial_port_absent_at_start_then_plugged(rec: Recorder, tmp_path: Path) -> None:
    link = tmp_path / "later"
    scanner = SerialScanner(rec.sink, port=str(link), retry_s=0.02, on_state=rec.on_state)
    await scanner.connect()
    try:
        assert scanner.state().state == "disconnected"
        port = SerialPort(link)
        await rec.until_state("connected")
        await port.write(b"KB1:LATE\n")
        assert (await rec.next()).code == "KB1:LATE"
        port.close()
    finally:
        await scanner.disconnect()


async def test_serial_port_that_is_not_a_tty_is_an_error(rec: Recorder, tmp_path: Path) -> None:
    plain = tmp_path / "ttyUSB0"
    plain.write_bytes(b"")
    scanner = SerialScanner(rec.sink, port=str(plain), retry_s=10)
    await scanner.connect()
    assert scanner.state().state == "error"
    assert "Could not configure port" in scanner.state().detail
    await scanner.disconnect()


# --- the line reader --------------------------------------------------------------------------------


async def test_lines_from_a_fifo_with_writers_coming_and_going(rec: Recorder, tmp_path: Path) -> None:
    fifo = tmp_path / "scans"
    os.mkfifo(fifo)
    scanner = LineScanner(rec.sink, path=str(fifo), on_state=rec.on_state)
    await scanner.connect()
    try:
        for payload in (b"KB1:A\nKB1:B\n", b"KB1:C\r\n"):
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.write(fd, payload)
            os.close(fd)
        assert await rec.codes(3) == ["KB1:A", "KB1:B", "KB1:C"]
        assert scanner.state().state == "connected"
    finally:
        await scanner.disconnect()


async def test_lines_from_a_file_that_appears_later(rec: Recorder, tmp_path: Path) -> None:
    path = tmp_path / "codes.txt"
    scanner = LineScanner(rec.sink, path=str(path), retry_s=0.02, on_state=rec.on_state)
    await scanner.connect()
    assert scanner.state().state == "disconnected"
    path.write_bytes(b"KB1:ONE\n\xff\xff\nKB1:TWO")  # garbage in the middle, no final newline
    state = await rec.until(lambda s: s.detail == "end of input")
    assert state.state == "disconnected"
    assert await rec.codes(2) == ["KB1:ONE", "KB1:TWO"]
    assert scanner.rejected == 1
    await scanner.disconnect()


_STDIN_SCRIPT = """
import asyncio, msgspec
from drivers.scanner import LineScanner

async def main():
    done = asyncio.Event()
    async def sink(event):
        print(msgspec.json.encode(event).decode(), flush=True)
    scanner = LineScanner(sink, on_state=lambda s: s.detail == "end of input" and done.set())
    await scanner.connect()
    await done.wait()
    print(msgspec.json.encode(scanner.state()).decode())
    await scanner.disconnect()

asyncio.run(main())
"""


def test_lines_from_stdin_in_a_real_process() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _STDIN_SCRIPT],
        input=b"KB1:STDIN\r\nKB1:PIPE\n",
        capture_output=True,
        cwd=REPO,
        timeout=20,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    *events, state = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [e["code"] for e in events] == ["KB1:STDIN", "KB1:PIPE"]
    assert {e["source"] for e in events} == {"lines:stdin"}
    assert (state["state"], state["detail"]) == ("disconnected", "end of input")


# --- settings and manifest -------------------------------------------------------------------------


def test_manifest_lists_exactly_the_settings_the_factories_take() -> None:
    from drivers.scanner.common import HidSettings, LineSettings, SerialSettings

    assert MANIFEST.domain == "scanner"
    fields = {f for s in (HidSettings, SerialSettings, LineSettings) for f in s.__struct_fields__}
    assert {s.name for s in MANIFEST.settings} == fields
    defaults = {s.name: s.default for s in MANIFEST.settings if s.default is not None}
    assert defaults["debounce_ms"] == HidSettings(device="x").debounce_ms
    assert defaults["baudrate"] == SerialSettings(port="x").baudrate


async def test_from_settings_builds_each_kind(rec: Recorder) -> None:
    hid = from_settings({"device_name": "*Barcode*", "debounce_ms": "250", "terminator": "tab"}, rec.sink)
    assert isinstance(hid, HidScanner) and hid.unique_id == "evdev:name=*Barcode*"
    assert hid._debouncer.window_ms == 250
    ser = from_settings({"kind": "serial", "port": "/dev/ttyACM0", "baudrate": "115200"}, rec.sink)
    assert isinstance(ser, SerialScanner) and (ser.baudrate, ser.unique_id) == (115200, "serial:/dev/ttyACM0")
    lines = LineScanner.from_settings({"kind": "lines", "name": "Desk"}, rec.sink)
    assert lines.state().name == "Desk" and lines.unique_id == "lines:stdin"
    assert SerialScanner.from_settings({"port": "/dev/ttyS0"}, rec.sink).port == "/dev/ttyS0"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"kind": "hid"}, "device path, a device name or a phys path"),
        ({"kind": "serial"}, "port"),
        ({"kind": "serial", "port": "/dev/ttyACM0", "baud": 9600}, "baud"),
        ({"kind": "hid", "device": "/dev/input/event3", "terminator": "space"}, "terminator"),
        ({"kind": "lines", "debounce_ms": -1}, "debounce_ms"),
        ({"kind": "bluetooth"}, "kind must be"),
    ],
)
async def test_bad_settings_say_what_is_wrong(
    rec: Recorder, settings: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        from_settings(settings, rec.sink)


def test_scan_events_round_trip_as_json() -> None:
    event = ScanEvent(source="serial:/dev/ttyACM0", at=1, code=CODE)
    assert msgspec.json.decode(msgspec.json.encode(event), type=ScanEvent) == event
