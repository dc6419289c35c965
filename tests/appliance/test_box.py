"""The composition root: parts built in order, the first device scan prints, stop runs in reverse.

Runs a real :class:`~appliance.box.Box` in this process (no HTTP): a serial
scanner on a pty, a network ESC/POS printer on loopback, the demo catalog.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import msgspec
import pytest

from appliance.box import Box
from appliance.config import DataDir, DeviceConfig
from appliance.demo import seed
from tests.drivers.test_printer import FakePrinter
from tests.helpers import until


def _first_badge(data: DataDir) -> tuple[str, str]:
    conn = sqlite3.connect(data.database)
    try:
        row = conn.execute(
            "SELECT id, badge_code FROM attendee WHERE badge_code != '' ORDER BY name, id LIMIT 1"
        ).fetchone()
    finally:
        conn.close()
    return str(row[0]), str(row[1])


@pytest.fixture
async def printing_gate(tmp_path: Path) -> tuple[DataDir, int, FakePrinter]:
    """A gate that prints on first admission; the int is our end of the scanner's pipe."""
    data = DataDir(tmp_path / "box")
    await seed(data, "demo", count=20, rng_seed=7)
    printer = FakePrinter()
    line = tmp_path / "scanner.fifo"  # a "lines" scanner: what waits in the pipe is read on connect
    os.mkfifo(line)
    master = os.open(line, os.O_RDWR | os.O_NONBLOCK)
    config = data.load()
    # The scanner is listed first on purpose: inputs must still start after the printer.
    devices = [
        DeviceConfig(
            id="north-scanner", domain="scanner", kind="lines", gate="north", settings={"path": str(line)}
        ),
        DeviceConfig(
            id="north-printer",
            domain="printer",
            kind="network",
            settings={"host": "127.0.0.1", "port": printer.port, "poll_interval": 0},
        ),
    ]
    data.save(msgspec.structs.replace(config, devices=devices, auto_print={"north": "north-printer"}))
    return data, master, printer


async def test_the_first_scan_from_a_device_right_after_start_prints_its_badge(
    printing_gate: tuple[DataDir, int, FakePrinter],
) -> None:
    data, master, printer = printing_gate
    attendee, code = _first_badge(data)
    # The badge is at the scanner before the box starts: it is decided while the box is starting.
    os.write(master, code.encode() + b"\n")
    box = Box(data)
    await box.start()
    try:
        await until(lambda: box.checkin.results.get("admitted", 0) == 1, what="the scan to be admitted")
        await until(lambda: any(j.status == "done" for j in box.prints.jobs(None)), what="the badge to print")
        jobs = box.prints.jobs(None)
        assert [(j.attendee_id, j.printer, j.kind) for j in jobs] == [(attendee, "north-printer", "auto")]
        assert b"\x1dv0" in printer.received  # a raster image went to the printer, not just status polls
    finally:
        await box.stop()
        printer.stop()
        os.close(master)


async def test_a_box_stops_its_parts_in_reverse_and_can_be_built_again(
    printing_gate: tuple[DataDir, int, FakePrinter],
) -> None:
    data, master, printer = printing_gate
    box = Box(data)
    await box.start()
    assert set(box.devices.drivers) == {"north-scanner", "north-printer"}
    assert set(box.prints.printers) == {"north-printer"}
    await box.stop()
    assert box.devices.drivers == {} and box.prints.printers == {}  # the printer table was emptied
    again = Box(data)  # the database and the devices were released: a restart gets them back
    await again.start()
    try:
        assert set(again.devices.drivers) == {"north-scanner", "north-printer"}
    finally:
        await again.stop()
        printer.stop()
        os.close(master)


async def test_a_part_that_fails_to_start_stops_what_was_started(tmp_path: Path) -> None:
    data = DataDir(tmp_path / "box")
    await seed(data, "demo", count=5, rng_seed=7)
    config = data.load()
    data.save(msgspec.structs.replace(config, events=[*config.events, "../escape"]))

    def writers() -> list[str]:
        return [t.name for t in threading.enumerate() if t.name.startswith("sqlite-writer:")]

    before = writers()
    box = Box(data)
    with pytest.raises(ValueError, match="escape"):  # the bad event id, said when opening its document
        await box.start()
    # The store had started (its writer thread ran) and was stopped again: nothing is left running.
    assert writers() == before
    assert box.sync.connected() == {}
    data.save(config)
    healthy = Box(data)
    await healthy.start()
    await healthy.stop()
