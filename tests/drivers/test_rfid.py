"""The NFC badge reader against a real pcscd, vpcd's virtual readers and virtual badges on vpcd's socket.

A "barrier" badge tapped last proves that nothing was emitted for what came
before it: the driver handles taps in order, so once the barrier's event has
arrived, an event for an earlier badge would already be there.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from drivers.base import ScanEvent
from drivers.rfid import MANIFEST, NfcReader
from drivers.rfid.debounce import Debouncer
from drivers.rfid.pcsc import (
    SCARD_E_NO_SERVICE,
    SCARD_W_UNPOWERED_CARD,
    UidError,
    describe,
    new_tap,
    parse_uid,
)
from tests.drivers.vcard import SLOT0, SLOT1, PcscDaemon, VirtualCard, pcscd_or_skip

BARRIER_UID = "B0B1B2B3"
Start = Callable[..., Awaitable[NfcReader]]  # the `start` fixture: connects an NfcReader


# --- pure parts: no pcscd needed ---


def test_uid_is_upper_case_hex_of_the_data_before_90_00() -> None:
    assert parse_uid([0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6, 0x90, 0x00]) == "04A1B2C3D4E5F6"
    assert parse_uid([0xDE, 0xAD, 0xBE, 0xEF, 0x90, 0x00]) == "DEADBEEF"


@pytest.mark.parametrize(
    ("response", "why"),
    [
        ([0x6A, 0x81], "6A 81"),  # the reader cannot read a UID from this card
        ([], "taken away mid-read"),  # what pcscd hands back when the badge vanished mid-APDU
        ([0x90], "taken away mid-read"),
        ([0x01, 0x90, 0x00], "implausible UID of 1 bytes"),
        ([0x00] * 11 + [0x90, 0x00], "implausible UID of 11 bytes"),
    ],
)
def test_an_answer_without_a_uid_says_why(response: list[int], why: str) -> None:
    with pytest.raises(UidError, match=why):
        parse_uid(response)


def test_pcsc_codes_read_as_words() -> None:
    assert describe(SCARD_E_NO_SERVICE) == "PC/SC service (pcscd) is not running"
    assert "unpowered" in describe(SCARD_W_UNPOWERED_CARD)
    assert describe(-2146435043) == describe(SCARD_E_NO_SERVICE)  # the same code as a signed int
    assert describe(0x80100099) == "PC/SC error 0x80100099"


def test_only_a_badge_newly_on_the_reader_is_a_tap() -> None:
    empty, present, mute, in_use = 0x10, 0x20, 0x200, 0x100
    assert new_tap(0, present) == "tap"  # already lying there when we started
    assert new_tap(empty, present | 0x10000) == "tap"
    assert new_tap(present | 0x10000, present | in_use | 0x10000) is None  # our own connection
    assert new_tap(present | 0x10000, present | 0x30000) == "tap"  # away and back between two polls
    assert new_tap(present | 0x10000, empty | 0x20000) is None  # taken away
    assert new_tap(empty, present | mute | 0x10000) == "mute"


def test_debounce_window_restarts_at_every_sighting() -> None:
    seen: Debouncer[str] = Debouncer(2000)
    assert seen.accept("A", 0)
    assert seen.accept("B", 100)  # another badge is not held back
    assert not seen.accept("A", 1500)
    assert not seen.accept("A", 3000)  # 1500 ms after the last sighting
    assert seen.accept("A", 5000)
    assert Debouncer[str](0).accept("A", 0) and Debouncer[str](0).accept("A", 0)
    with pytest.raises(ValueError):
        Debouncer[str](-1)


def test_manifest_and_settings() -> None:
    assert MANIFEST.domain == "rfid"
    assert {s.name: s.default for s in MANIFEST.settings} == {"reader": "*", "debounce_ms": 2000}

    async def sink(event: ScanEvent) -> None: ...

    reader = NfcReader.from_settings({"reader": "ACS ACR122U*"}, sink)
    assert reader.unique_id == "pcsc:ACS ACR122U*"
    assert reader.state().state == "unknown"
    with pytest.raises(ValueError, match="unknown rfid settings: port"):
        NfcReader.from_settings({"port": 1}, sink)
    with pytest.raises(ValueError):
        NfcReader(sink, reader="")


# --- against pcscd + vpcd ---


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PcscDaemon]:
    with pcscd_or_skip(tmp_path_factory.mktemp("pcscd")) as daemon:
        yield daemon


@pytest.fixture
def pcsc(daemon: PcscDaemon) -> Iterator[PcscDaemon]:
    """The daemon, running at the start of every test (a test may have stopped it)."""
    yield daemon.start()
    daemon.start()
    for reader in (SLOT0, SLOT1):
        daemon.wait_card(reader, present=False)  # no badge left over for the next test


@pytest.fixture
def own_pcsc(pcsc: PcscDaemon) -> PcscDaemon:
    if not pcsc.owned:
        pytest.skip("a pcscd was already running here; stopping it is not ours to do")
    return pcsc


class Badges:
    """Virtual badges for one test, all taken off the readers at the end."""

    def __init__(self, pcsc: PcscDaemon) -> None:
        self.pcsc = pcsc
        self.cards: list[VirtualCard] = []
        self.leaving: set[str] = set()  # readers a badge was just taken from

    def card(self, uid: str = "04A1B2C3D4E5F6", slot: int = 0, **kw: Any) -> VirtualCard:
        card = VirtualCard(self.pcsc.port + slot, uid, **kw)
        self.cards.append(card)
        return card

    def barrier(self) -> VirtualCard:
        """A good badge on the other slot, so it need not wait for slot 0 to see its badge go."""
        return self.card(BARRIER_UID, slot=1)

    async def tap(self, card: VirtualCard, read: bool = True) -> None:
        """Put the badge on, wait until the driver has read it (or only pcscd has seen it), take it away."""
        reader = SLOT1 if card.address[1] == self.pcsc.port + 1 else SLOT0
        if reader in self.leaving:
            # vpcd takes the next badge at once: unless pcscd saw the last one go, it sees no new tap.
            await asyncio.to_thread(self.pcsc.wait_card, reader, False)
            self.leaving.discard(reader)
        card.tap()
        try:
            await asyncio.to_thread(self.pcsc.wait_card, reader, True)
            if read:
                await until(lambda: bool(card.apdus), 5, f"the driver to read {card.uid.hex()}")
        finally:
            card.remove()
            self.leaving.add(reader)

    def close(self) -> None:
        for card in self.cards:
            card.remove()


@pytest.fixture
def badges(pcsc: PcscDaemon) -> Iterator[Badges]:
    b = Badges(pcsc)
    yield b
    b.close()


class Sink:
    """Collects events, checking each arrives on the loop that owns the reader."""

    def __init__(self, fail_first: bool = False) -> None:
        self.events: list[ScanEvent] = []
        self.fail_first = fail_first
        self.loop = asyncio.get_running_loop()

    async def __call__(self, event: ScanEvent) -> None:
        assert asyncio.get_running_loop() is self.loop  # delivered on the owner's loop
        if self.fail_first:
            self.fail_first = False
            raise RuntimeError("sink is down")
        self.events.append(event)

    @property
    def uids(self) -> list[str | None]:
        return [e.nfc_uid for e in self.events]

    async def wait(self, count: int, within: float = 10) -> list[str | None]:
        await until(lambda: len(self.events) >= count, within, f"{count} events, got {self.uids}")
        return self.uids


async def until(condition: Callable[[], bool], within: float = 10, what: str = "condition") -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
async def sink() -> Sink:
    return Sink()


@pytest.fixture
async def start(sink: Sink) -> AsyncIterator[Start]:
    """Connect NfcReaders on this test's loop; all are disconnected at the end."""
    started: list[NfcReader] = []

    async def _start(**kw: Any) -> NfcReader:
        reader = NfcReader(sink, retry_s=0.1, **kw)
        started.append(reader)
        await reader.connect()
        return reader

    yield _start
    for reader in started:
        await reader.disconnect()


async def connected(reader: NfcReader) -> None:
    await until(lambda: reader.state().state == "connected", 10, f"connected, is {reader.state()}")


async def test_a_tap_emits_the_uid_once(start: Start, sink: Sink, badges: Badges) -> None:
    reader = await start(debounce_ms=0)
    await connected(reader)
    assert reader.state().detail == f"{SLOT0}, {SLOT1}"  # the default glob watches every reader
    badge = badges.card("04a1b2c3d4e5f6")
    before = int(time.time() * 1000)
    await badges.tap(badge)
    assert await sink.wait(1) == ["04A1B2C3D4E5F6"]
    event = sink.events[0]
    assert event.source == f"pcsc:{SLOT0}" and event.code is None
    assert before <= event.at <= int(time.time() * 1000)
    assert badge.apdus == [bytes.fromhex("FFCA000000")]  # read once, with GET DATA

    await asyncio.to_thread(badges.pcsc.wait_card, SLOT0, False)
    await badges.tap(badges.barrier())  # taking the badge away emitted nothing
    assert await sink.wait(2) == ["04A1B2C3D4E5F6", BARRIER_UID]


async def test_several_badges_in_a_row(start: Start, sink: Sink, badges: Badges) -> None:
    reader = await start()
    await connected(reader)
    uids = ["DEADBEEF", "04112233445566", "04112233445566778899"]  # 4, 7 and 10 bytes
    for uid in uids:
        await badges.tap(badges.card(uid))
    assert await sink.wait(3) == uids


async def test_a_badge_lying_on_the_reader_at_start_is_read_once(
    start: Start, sink: Sink, badges: Badges
) -> None:
    badge = badges.card("CAFEF00D").tap()
    await asyncio.to_thread(badges.pcsc.wait_card, SLOT0, True)
    await start(debounce_ms=0)
    assert await sink.wait(1) == ["CAFEF00D"]
    badge.remove()
    await badges.tap(badges.barrier())
    assert await sink.wait(2) == ["CAFEF00D", BARRIER_UID]
    assert len(badge.apdus) == 1


async def test_the_same_badge_again_within_the_window_counts_once(
    start: Start, sink: Sink, badges: Badges
) -> None:
    reader = await start(debounce_ms=60_000)
    await connected(reader)
    for badge in (badges.card("DEADBEEF"), badges.card("DEADBEEF"), badges.barrier()):
        await badges.tap(badge)
    assert await sink.wait(2) == ["DEADBEEF", BARRIER_UID]


async def test_the_same_badge_after_the_window_counts_again(start: Start, sink: Sink, badges: Badges) -> None:
    reader = await start(debounce_ms=300)
    await connected(reader)
    await badges.tap(badges.card("DEADBEEF"))
    await sink.wait(1)
    await until(lambda: time.time() * 1000 > sink.events[0].at + 300, what="the window to pass")
    await badges.tap(badges.card("DEADBEEF"))
    assert await sink.wait(2) == ["DEADBEEF", "DEADBEEF"]


@pytest.mark.parametrize(
    ("kw", "logged"),
    [
        ({"reply": bytes.fromhex("6A81")}, "no UID: status 6A 81"),
        ({"reply": b"\x90"}, "no answer from the badge"),
        ({"vanish_on_apdu": True}, "taken away mid-read"),
    ],
    ids=["no-uid-6A81", "garbage", "removed-mid-read"],
)
async def test_a_badge_that_gives_no_uid_is_logged_not_emitted(
    start: Start,
    sink: Sink,
    badges: Badges,
    caplog: pytest.LogCaptureFixture,
    kw: dict[str, Any],
    logged: str,
) -> None:
    caplog.set_level(logging.WARNING, logger="drivers.rfid")
    reader = await start(debounce_ms=0)
    await connected(reader)
    bad = badges.card("DEADBEEF", **kw)
    await badges.tap(bad)
    await badges.tap(badges.barrier())
    assert await sink.wait(1) == [BARRIER_UID]  # the reader kept going
    assert bad.apdus == [bytes.fromhex("FFCA000000")]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"NFC badge on {SLOT0} not read" in w and logged in w for w in warnings), warnings
    assert reader.state().state == "connected"


async def test_the_glob_picks_the_reader(start: Start, sink: Sink, badges: Badges) -> None:
    reader = await start(reader="*00 01")
    await connected(reader)
    assert reader.unique_id == "pcsc:*00 01"
    assert reader.state().detail == SLOT1
    ignored = badges.card("DEADBEEF", slot=0)  # on a reader this driver does not watch
    await badges.tap(ignored, read=False)
    await badges.tap(badges.barrier())
    assert await sink.wait(1) == [BARRIER_UID]
    assert sink.events[0].source == f"pcsc:{SLOT1}"
    assert ignored.apdus == []


async def test_no_matching_reader_is_disconnected_and_says_so(start: Start, pcsc: PcscDaemon) -> None:
    reader = await start(reader="ACS ACR122U*")
    await until(lambda: reader.state().state == "disconnected")
    assert reader.state().detail == "no reader matching 'ACS ACR122U*'"


async def test_pcscd_gone_and_back(start: Start, sink: Sink, badges: Badges, own_pcsc: PcscDaemon) -> None:
    reader = await start()
    await connected(reader)
    since = reader.state().since
    await asyncio.to_thread(own_pcsc.stop)
    gone = ("disconnected", "PC/SC service (pcscd) is not running")
    await until(lambda: (reader.state().state, reader.state().detail) == gone, what=f"{gone}")
    assert reader.state().since >= since

    await asyncio.to_thread(own_pcsc.start)
    await connected(reader)
    await badges.tap(badges.card("DEADBEEF"))
    assert await sink.wait(1) == ["DEADBEEF"]


async def test_started_before_pcscd(start: Start, sink: Sink, badges: Badges, own_pcsc: PcscDaemon) -> None:
    await asyncio.to_thread(own_pcsc.stop)
    reader = await start()
    await until(lambda: reader.state().state == "disconnected", what="disconnected")
    assert "pcscd" in reader.state().detail
    await asyncio.to_thread(own_pcsc.start)
    await connected(reader)
    assert reader.state().detail == f"{SLOT0}, {SLOT1}"


async def test_a_failing_sink_is_logged_and_reading_goes_on(
    badges: Badges, caplog: pytest.LogCaptureFixture
) -> None:
    sink = Sink(fail_first=True)
    reader = NfcReader(sink, debounce_ms=0)
    try:
        await reader.connect()
        await connected(reader)
        await badges.tap(badges.card("DEADBEEF"))
        await badges.tap(badges.barrier())
        assert await sink.wait(1) == [BARRIER_UID]
    finally:
        await reader.disconnect()
    assert any("scan sink failed on NFC badge DEADBEEF" in r.getMessage() for r in caplog.records)


async def test_disconnect_is_prompt_idempotent_and_reconnectable(
    start: Start, sink: Sink, badges: Badges
) -> None:
    reader = await start(debounce_ms=0)
    await connected(reader)
    began = time.monotonic()
    await reader.disconnect()
    assert time.monotonic() - began < 1.0  # the blocking status wait is cancelled, not waited out
    await reader.disconnect()
    assert (reader.state().state, reader.state().detail) == ("disconnected", "stopped")

    await reader.connect()
    await reader.connect()  # already running: no second thread
    await connected(reader)
    await badges.tap(badges.card("DEADBEEF"))
    assert await sink.wait(1) == ["DEADBEEF"]


async def test_without_pyscard_the_reader_reports_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "smartcard", None)  # pyscard is an optional extra
    reader = NfcReader(Sink())
    await reader.connect()
    try:
        await until(lambda: reader.state().state == "error", 5, "error state")
        assert reader.state().detail == "pyscard is not installed (pip install 'konferenco[pcsc]')"
    finally:
        await reader.disconnect()
