"""The badge printer driver against a real TCP "printer" on loopback, a real pty and real files.

The printer stand-in is a thread with a listening socket: it keeps every
byte it receives and answers ``DLE EOT n`` like an ESC/POS printer (or
stays silent, or closes the connection part-way through a job).  What it
received is decoded by ``escpos_decode`` back into the raster image, and
zxing-cpp must read the badge's code from that image: the test sees what
the paper would show.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import socket
import threading
import time
import tty
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image, ImageChops, ImageDraw

from drivers.base import load_manifest
from drivers.printer import (
    BadgeLayout,
    BadgePrinter,
    PrintedBadge,
    PrinterSettings,
    ProfileError,
    badge_bytes,
    load_layout,
    media,
    render,
)
from drivers.printer.fonts import FontChain
from drivers.printer.layout import DEFAULT_BOLD_FONTS, fit_text
from tests.drivers.escpos_decode import DecodeError, decode

CODE = "KB1:" + "6BFOXN*TS0BI+3ZR.E0Q-JD4I7O:3WQ0HCS6P$9KV/A:BU %3RT*.$" * 3
ALL_WELL = {1: 0x12, 2: 0x12, 4: 0x12}
PAPER_OUT = {1: 0x1A, 2: 0x32, 4: 0x72}  # an Epson with an empty roll: offline, stopped at paper end
COVER_OPEN = {1: 0x1A, 2: 0x16, 4: 0x12}
NEAR_END = {1: 0x12, 2: 0x12, 4: 0x1E}
PROFILES = {"58 mm": "POS-5890", "80 mm": "TM-T20II"}
HARD_NAMES = [
    "Zoë Ångström-Łukasiewicz",
    "山田太郎",
    "Александра Константинопольская",
    "Maximiliane Donaudampfschifffahrtsgesellschaftskapitänswitwe",
]


class FakePrinter:
    """An ESC/POS network printer on 127.0.0.1: one client at a time, like most of them."""

    def __init__(
        self, status: dict[int, int] | None = None, close_after: int | None = None, port: int = 0
    ) -> None:
        self.status: dict[int, int] | None = dict(ALL_WELL if status is None else status)
        self.status_after_job: dict[int, int] | None = None  # e.g. the paper ran out during the job
        self.silent_after_job = False
        self.close_after = close_after  # drop the connection once this many bytes came in
        self.connections: list[bytearray] = []
        self._server = socket.create_server(("127.0.0.1", port))  # SO_REUSEADDR: same port again
        self._server.settimeout(0.05)
        self.port: int = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-printer", daemon=True)
        self._thread.start()

    def silence(self) -> None:
        self.status = None

    @property
    def received(self) -> bytes:
        return b"".join(self.connections)

    def jobs(self) -> list[bytes]:
        """What each connection carried, status requests and all."""
        return [bytes(c) for c in self.connections]

    def stop(self) -> None:
        """Power off: no more connections (refused)."""
        self._stop.set()
        self._thread.join(5)
        self._server.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            with conn:
                self._handle(conn)

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(0.05)
        buf = bytearray()
        self.connections.append(buf)
        while not self._stop.is_set():
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            start = len(buf)
            buf += chunk
            if self.close_after is not None and len(buf) >= self.close_after:
                del buf[self.close_after :]
                return  # the with-block closes it, with unread bytes: the client sees a reset
            # Real-time commands are acted on wherever they appear in the stream.
            at = buf.find(b"\x10\x04", max(0, start - 2))
            while at != -1 and at + 2 < len(buf):
                status = self.status
                if b"\x1dv0" in buf:  # the job has come in
                    status = None if self.silent_after_job else self.status_after_job or status
                if status is not None:
                    try:
                        conn.sendall(bytes((status.get(buf[at + 2], 0x12),)))
                    except OSError:
                        return
                at = buf.find(b"\x10\x04", at + 3)


@pytest.fixture
def printer_factory() -> Iterator[Callable[..., FakePrinter]]:
    made: list[FakePrinter] = []

    def make(**kwargs: object) -> FakePrinter:
        fake = FakePrinter(**kwargs)  # type: ignore[arg-type]
        made.append(fake)
        return fake

    yield make
    for fake in made:
        fake.stop()


def network(port: int, **overrides: object) -> BadgePrinter:
    settings = {
        "host": "127.0.0.1",
        "port": port,
        "profile": "TM-T20II",
        "status_timeout": 0.3,
        "job_timeout": 2.0,
        "connect_timeout": 1.0,
        "poll_interval": 0,
        **overrides,
    }
    return BadgePrinter.from_settings(settings)


def badge(name: str = "Ann Lee", code: str = CODE) -> PrintedBadge:
    return PrintedBadge(name=name, company="Ångström Laboratories GmbH", ticket_type="Speaker", code=code)


def job_part(received: bytes) -> bytes:
    """The job as the printer got it: the connection's bytes from the reset on."""
    return received[received.index(b"\x1b@") :]


def ink_columns(image: Image.Image) -> tuple[int, int]:
    """Leftmost and rightmost column with ink (0 = black) of a 1-bit image."""
    box = ImageChops.invert(image.convert("L")).getbbox()
    assert box is not None, "the badge has no ink at all"
    return box[0], box[2] - 1


# --- what comes out on paper ----------------------------------------------------------------


@pytest.mark.parametrize("paper", PROFILES)
async def test_printed_badge_decodes_to_the_same_image_and_code(printer_factory, paper):
    profile = PROFILES[paper]
    fake = printer_factory()
    printer = network(fake.port, profile=profile)
    data = badge_bytes(badge(), BadgeLayout(), profile)

    outcome = await printer.print_badge(data)

    assert outcome.status == "done", outcome.reason
    assert outcome.verified and outcome.sent == outcome.total == len(data)
    assert job_part(fake.received).startswith(data)
    printed = decode(job_part(fake.received))
    assert printed.resets == 1 and printed.feeds >= 6  # fed past the tear bar / cutter
    assert printed.cuts == (0 if paper == "58 mm" else 1)  # the POS-5890 profile has no cutter
    page = printed.page()
    assert page.width == media(profile).width == {"58 mm": 384, "80 mm": 576}[paper]
    expected = render(badge(), BadgeLayout(), profile)
    assert ImageChops.difference(page.convert("L"), expected.convert("L")).getbbox() is None
    codes = [r.text for r in zxingcpp.read_barcodes(page)]
    assert codes == [CODE]
    assert printer.state().state == "connected"


@pytest.mark.parametrize("paper", PROFILES)
@pytest.mark.parametrize("name", HARD_NAMES)
def test_long_and_non_latin_names_are_not_cut(paper, name):
    profile = PROFILES[paper]
    layout = BadgeLayout()
    paper_media = media(profile)
    if FontChain(DEFAULT_BOLD_FONTS).missing(name):
        pytest.skip(f"no installed font draws {name!r}: install fonts-droid-fallback (or fonts-noto-cjk)")

    page = decode(badge_bytes(badge(name), layout, profile)).page()

    margin = round(layout.margin_mm * paper_media.dots_per_mm)
    left, right = ink_columns(page)
    assert left >= margin and right < page.width - margin, "ink reaches into the margin: something was cut"
    assert [r.text for r in zxingcpp.read_barcodes(page)] == [CODE]
    avail = paper_media.width - 2 * margin
    fitted = fit_text(name, layout.name, layout, avail, paper_media.dots_per_mm)
    assert fitted.mask.width <= avail
    assert "".join(fitted.lines).replace(" ", "") == name.replace(" ", ""), "characters were dropped"
    assert len(fitted.lines) <= layout.name.max_lines


def test_characters_no_font_has_are_reported_and_the_badge_still_prints(caplog):
    name = "Ann \U00013000 Lee"  # an Egyptian hieroglyph: no Debian default font draws it
    assert FontChain(DEFAULT_BOLD_FONTS).missing(name) == "\U00013000"
    page = decode(badge_bytes(badge(name), BadgeLayout(), "POS-5890")).page()
    assert [r.text for r in zxingcpp.read_barcodes(page)] == [CODE]
    assert "no installed font has" in caplog.text


def test_name_is_as_large_as_it_fits_and_wraps_before_shrinking_below_the_minimum():
    layout = BadgeLayout()
    paper = media("TM-T20II")
    dpm = paper.dots_per_mm
    avail = paper.width - 2 * round(layout.margin_mm * dpm)
    largest, smallest = round(layout.name.size_mm * dpm), round(layout.name.min_size_mm * dpm)

    short = fit_text("Ann Lee", layout.name, layout, avail, dpm)
    assert short.size == largest and short.lines == ("Ann Lee",)
    two = fit_text("Zoë Ångström-Łukasiewicz", layout.name, layout, avail, dpm)
    assert two.lines == ("Zoë Ångström-", "Łukasiewicz") and smallest <= two.size <= largest
    # One unbreakable word longer than the paper at the minimum: smaller, but whole.
    word = fit_text("Donaudampfschifffahrtsgesellschaft", layout.name, layout, avail, dpm)
    assert word.size < smallest and "".join(word.lines) == "Donaudampfschifffahrtsgesellschaft"


def test_a_profile_without_a_paper_width_is_refused():
    with pytest.raises(ProfileError, match="width"):
        render(badge(), BadgeLayout(), "default")
    with pytest.raises(ProfileError, match="unknown"):
        media("no-such-printer")
    with pytest.raises(ValueError, match="width"):
        BadgePrinter.from_settings({"host": "127.0.0.1", "profile": "default"})


def test_layout_file_overrides_defaults_draws_the_logo_and_rejects_typos(tmp_path):
    logo = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    ImageDraw.Draw(logo).rectangle((20, 20, 180, 80), fill=(10, 10, 10, 255))
    logo.save(tmp_path / "logo.png")
    (tmp_path / "layout.json").write_text(
        json.dumps({"logo": "logo.png", "logo_height_mm": 10, "name": {"size_mm": 8, "min_size_mm": 5}})
    )
    layout = load_layout(tmp_path / "layout.json")
    assert layout.logo == str(tmp_path / "logo.png") and layout.name.size_mm == 8

    with_logo = render(badge(), layout, "POS-5890")
    without = render(badge(), BadgeLayout(), "POS-5890")
    assert with_logo.height > without.height
    top = with_logo.crop((0, 0, with_logo.width, 100))
    assert ImageChops.invert(top.convert("L")).getbbox() is not None, "no logo ink at the top"

    (tmp_path / "typo.json").write_text(json.dumps({"nmae": {"size_mm": 8, "min_size_mm": 5}}))
    with pytest.raises(Exception, match="nmae"):
        load_layout(tmp_path / "typo.json")
    (tmp_path / "bad.json").write_text(json.dumps({"name": {"size_mm": 4, "min_size_mm": 9}}))
    with pytest.raises(Exception, match="min_size_mm"):
        load_layout(tmp_path / "bad.json")


def test_decoder_refuses_truncated_and_garbage_bytes():
    data = badge_bytes(badge(), BadgeLayout(), "POS-5890")
    with pytest.raises(DecodeError, match="cut short"):
        decode(data[: len(data) // 2])
    with pytest.raises(DecodeError, match="unexpected control byte"):
        decode(b"\x1b@\x07hello")


# --- failures the door must not mistake for a printed badge ------------------------------------


async def test_printer_off_before_the_job_fails_offline_and_sends_nothing(printer_factory):
    fake = printer_factory()
    fake.stop()  # switched off: the port refuses connections
    printer = network(fake.port)

    outcome = await printer.print_badge(badge_bytes(badge(), BadgeLayout(), "TM-T20II"))

    assert outcome.status == "failed"
    assert "offline" in outcome.reason and "refused" in outcome.reason
    assert outcome.sent == 0 and fake.received == b""
    assert printer.state().state == "disconnected"


async def test_printer_reporting_offline_gets_no_job(printer_factory):
    fake = printer_factory(status={1: 0x1A, 2: 0x12, 4: 0x12})
    printer = network(fake.port)

    outcome = await printer.print_badge(badge_bytes(badge(), BadgeLayout(), "TM-T20II"))

    assert outcome.status == "failed" and "offline" in outcome.reason
    assert decode(fake.received).rasters == [], "job bytes reached a printer that said it is offline"
    assert printer.state().state == "error"


@pytest.mark.parametrize(("status", "word"), [(PAPER_OUT, "paper"), (COVER_OPEN, "cover")])
async def test_no_paper_or_open_cover_fails_before_sending(printer_factory, status, word):
    fake = printer_factory(status=status)
    printer = network(fake.port)

    outcome = await printer.print_badge(badge_bytes(badge(), BadgeLayout(), "TM-T20II"))

    assert outcome.status == "failed" and word in outcome.reason
    assert outcome.sent == 0 and b"\x1dv0" not in fake.received
    reading = await printer.status()
    assert not reading.ready and word in reading.describe()


async def test_connection_closed_mid_job_is_uncertain_never_done(printer_factory):
    data = badge_bytes(badge(), BadgeLayout(), "TM-T20II")
    fake = printer_factory(close_after=5000)
    printer = network(fake.port)

    outcome = await printer.print_badge(data)

    assert outcome.status == "uncertain", outcome
    assert "reprint" in outcome.reason
    assert 0 < len(fake.received) < len(data), "the printer got part of the job"
    assert printer.state().state == "error"


async def test_paper_running_out_during_the_job_is_uncertain(printer_factory):
    fake = printer_factory()
    fake.status_after_job = PAPER_OUT
    outcome = await network(fake.port).print_badge(badge_bytes(badge(), BadgeLayout(), "TM-T20II"))
    assert outcome.status == "uncertain" and "paper" in outcome.reason
    assert outcome.sent == outcome.total


async def test_paper_near_end_still_prints_and_says_so(printer_factory):
    fake = printer_factory(status=NEAR_END)
    outcome = await network(fake.port).print_badge(badge_bytes(badge(), BadgeLayout(), "TM-T20II"))
    assert outcome.status == "done" and "near" in outcome.reason


async def test_silent_printer_is_unknown_not_fine_and_gets_no_job(printer_factory):
    fake = printer_factory()
    fake.silence()
    printer = network(fake.port, status_timeout=0.3, job_timeout=0.5)

    started = time.monotonic()
    reading = await printer.status()
    assert time.monotonic() - started < 3, "a silent printer must not hang the status check"
    assert reading.reachable and reading.online is None and reading.paper is None
    assert reading.state == "unknown" and not reading.ready
    assert printer.state().state == "unknown"

    outcome = await printer.print_badge(badge_bytes(badge(), BadgeLayout(), "TM-T20II"))
    assert outcome.status == "failed" and "does not answer" in outcome.reason
    assert b"\x1dv0" not in fake.received, "a silent printer got the job: it could only end uncertain"


async def test_printer_silent_after_the_job_is_uncertain(printer_factory):
    fake = printer_factory()
    fake.silent_after_job = True
    printer = network(fake.port, job_timeout=0.5)
    outcome = await printer.print_badge(badge_bytes(badge(), BadgeLayout(), "TM-T20II"))
    assert outcome.status == "uncertain" and "did not confirm" in outcome.reason
    assert outcome.sent == outcome.total
    assert printer.state().state == "unknown"


async def test_printer_without_status_support_prints_unverified(printer_factory):
    fake = printer_factory()
    fake.silence()
    data = badge_bytes(badge(), BadgeLayout(), "TM-T20II")
    outcome = await network(fake.port, reports_status=False).print_badge(data)
    assert outcome.status == "done" and not outcome.verified
    await _until(lambda: fake.received == data)  # no status requests: just the job


async def test_garbage_status_answer_is_unknown(printer_factory):
    fake = printer_factory(status={1: 0xFF, 2: 0xFF, 4: 0xFF})
    reading = await network(fake.port).status()
    assert reading.state == "unknown" and "not a status byte" in reading.detail


# --- other connections and the lifecycle ----------------------------------------------------------


async def test_file_connection_writes_the_job(tmp_path):
    target = tmp_path / "lp0"
    target.touch()
    printer = BadgePrinter.from_settings({"connection": "file", "device": str(target), "profile": "POS-5890"})
    data = badge_bytes(badge(), BadgeLayout(), "POS-5890")

    outcome = await printer.print_badge(data)

    assert outcome.status == "done" and not outcome.verified
    assert target.read_bytes() == data
    assert [r.text for r in zxingcpp.read_barcodes(decode(target.read_bytes()).page())] == [CODE]
    reading = await printer.status()
    assert reading.reachable and reading.state == "unknown"
    assert target.read_bytes() == data, "a status check must not truncate the device file"

    gone = BadgePrinter.from_settings({"connection": "file", "device": str(tmp_path / "no" / "lp0")})
    failed = await gone.print_badge(data)
    assert failed.status == "failed" and "offline" in failed.reason
    assert (await gone.status()).state == "unreachable"


@pytest.fixture
def serial_printer() -> Iterator[tuple[str, bytearray]]:
    """A printer on the far end of a pseudo-terminal: answers DLE EOT like the TCP one."""
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    got = bytearray()
    stop = threading.Event()

    def serve() -> None:
        import select

        while not stop.is_set():
            if not select.select([master], [], [], 0.05)[0]:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            start = len(got)
            got.extend(chunk)
            at = got.find(b"\x10\x04", max(0, start - 2))
            while at != -1 and at + 2 < len(got):
                os.write(master, b"\x12")
                at = got.find(b"\x10\x04", at + 3)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield path, got
    stop.set()
    thread.join(5)
    os.close(master)
    os.close(slave)


async def test_serial_printer_over_a_pty(serial_printer):
    path, got = serial_printer
    printer = BadgePrinter.from_settings(
        {"connection": "serial", "device": path, "profile": "POS-5890", "status_timeout": 0.5}
    )
    assert (await printer.status()).ready
    data = badge_bytes(badge(), BadgeLayout(), "POS-5890")
    outcome = await printer.print_badge(data)
    assert outcome.status == "done" and outcome.verified, outcome.reason
    assert data in bytes(got)


async def test_polling_follows_the_printer_going_off_and_on(printer_factory):
    fake = printer_factory()
    printer = network(fake.port, poll_interval=0.1)
    await printer.connect()
    try:
        await _until(lambda: printer.state().state == "connected")
        fake.stop()
        await _until(lambda: printer.state().state == "disconnected")
        assert "offline" in printer.state().detail
        printer_factory(port=fake.port)  # switched on again at the same address
        await _until(lambda: printer.state().state == "connected")
    finally:
        await printer.disconnect()
        await printer.disconnect()  # idempotent


async def _until(predicate: Callable[[], bool]) -> None:
    """Wait for the poller's view to change (it runs on this loop: yield to it between looks)."""
    async with asyncio.timeout(5):
        for _ in itertools.count():
            if predicate():
                return
            await asyncio.sleep(0.02)


def test_settings_and_manifest():
    manifest = load_manifest(str(Path(__file__).resolve().parents[2] / "drivers" / "printer" / "__init__.py"))
    assert manifest.domain == "printer"
    assert [m.type for m in manifest.zeroconf] == ["_pdl-datastream._tcp.local."]
    names = {s.name for s in manifest.settings}
    assert names == set(PrinterSettings.__struct_fields__)
    assert BadgePrinter.from_settings({"host": "10.0.0.7"}).unique_id == "escpos:tcp:10.0.0.7:9100"
    usb = BadgePrinter.from_settings({"connection": "usb", "usb_vendor": "04B8", "usb_product": "0202"})
    assert usb.unique_id == "escpos:usb:04b8:0202"
    for bad in ({"connection": "network"}, {"connection": "usb", "usb_vendor": "xyz"}, {"port": "nine"}):
        with pytest.raises(ValueError):
            BadgePrinter.from_settings({"host": "h", **bad} if "connection" not in bad else bad)


async def test_usb_without_pyusb_fails_with_a_reason():
    printer = BadgePrinter.from_settings({"connection": "usb", "usb_vendor": "04b8", "usb_product": "0202"})
    outcome = await printer.print_badge(b"\x1b@")
    assert outcome.status == "failed" and outcome.sent == 0
    assert "USB" in outcome.reason
