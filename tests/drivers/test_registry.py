"""The driver registry: every kind a manifest declares builds a driver, families load only when asked."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from drivers.base import ScanEvent
from drivers.registry import DriverRegistry, UnknownDriver

REPO = Path(__file__).resolve().parents[2]

#: The least each (domain, kind) needs to be built (nothing is connected: no hardware is touched).
SAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("scanner", "hid"): {"device": "/dev/input/by-id/usb-scanner-event-kbd"},
    ("scanner", "serial"): {"port": "/dev/ttyACM0"},
    ("scanner", "lines"): {"path": "-"},
    ("printer", "network"): {"host": "10.0.0.7"},
    ("printer", "usb"): {"usb_vendor": "04b8", "usb_product": "0202"},
    ("printer", "serial"): {"device": "/dev/ttyUSB0"},
    ("printer", "file"): {"device": "/dev/usb/lp0"},
    ("rfid", ""): {"reader": "ACS ACR122U*"},
    ("signage", ""): {"venue": "hall-1"},
    ("discovery", ""): {"interfaces": "lo"},
}

#: What each kind's driver calls itself: proof the kind reached the family, not just the domain.
UNIQUE_IDS = {
    ("scanner", "hid"): "evdev:usb-scanner-event-kbd",
    ("scanner", "serial"): "serial:/dev/ttyACM0",
    ("scanner", "lines"): "lines:stdin",
    ("printer", "network"): "escpos:tcp:10.0.0.7:9100",
    ("printer", "usb"): "escpos:usb:04b8:0202",
    ("printer", "serial"): "escpos:serial:/dev/ttyUSB0",
    ("printer", "file"): "escpos:file:/dev/usb/lp0",
    ("rfid", ""): "pcsc:ACS ACR122U*",
}


async def ignore(event: ScanEvent) -> None:
    return None


def test_every_kind_of_every_manifest_builds_a_driver_of_its_family() -> None:
    registry = DriverRegistry.load()
    assert set(registry.manifests) == {"scanner", "rfid", "printer", "signage", "discovery"}
    assert set(registry.kinds()) == set(SAMPLES), "a kind was added or dropped: give it a sample here"
    for domain, kind in registry.kinds():
        create = registry.factory(domain, kind)
        driver = create(SAMPLES[(domain, kind)], ignore)
        assert driver.manifest.domain == domain, (domain, kind)
        if (domain, kind) in UNIQUE_IDS:
            assert driver.unique_id == UNIQUE_IDS[(domain, kind)]
        assert driver.state().domain == domain


def test_an_unknown_kind_or_family_names_what_is_known() -> None:
    registry = DriverRegistry.load()
    with pytest.raises(UnknownDriver) as bad_kind:
        registry.factory("scanner", "telepathy")
    message = "no scanner driver of kind 'telepathy'; scanner kinds are: 'hid', 'serial', 'lines'"
    assert str(bad_kind.value) == message
    with pytest.raises(UnknownDriver, match=r"of kind \(no kind\).*'network', 'usb', 'serial', 'file'"):
        registry.factory("printer", "")
    with pytest.raises(UnknownDriver, match="discovery, printer, rfid, scanner, signage"):
        registry.factory("fax", "")


def test_input_devices_need_a_sink() -> None:
    registry = DriverRegistry.load()
    for domain, kind in [("scanner", "serial"), ("rfid", "")]:
        with pytest.raises(ValueError, match="sink"):
            registry.create(domain, kind, SAMPLES[(domain, kind)], None)
    printer = registry.create("printer", "file", SAMPLES[("printer", "file")])  # an output needs none
    assert printer.unique_id.startswith("escpos:file")


def test_bad_settings_are_refused_by_the_family() -> None:
    registry = DriverRegistry.load()
    with pytest.raises(ValueError, match="host"):
        registry.create("printer", "network", {})
    with pytest.raises(ValueError, match="unknown rfid settings: colour"):
        registry.create("rfid", "", {"colour": "red"}, ignore)


async def test_a_scanner_built_from_the_registry_delivers_its_scans_under_its_name(tmp_path: Path) -> None:
    codes = tmp_path / "codes.txt"
    codes.write_text("KB1:6BFA81\n", encoding="utf-8")
    seen: list[ScanEvent] = []
    got = asyncio.Event()

    async def sink(event: ScanEvent) -> None:
        seen.append(event)
        got.set()

    scanner = DriverRegistry.load().create("scanner", "lines", {"path": str(codes)}, sink, name="North door")
    await scanner.connect()
    try:
        await asyncio.wait_for(got.wait(), 5)
    finally:
        await scanner.disconnect()
    assert [e.code for e in seen] == ["KB1:6BFA81"]
    assert seen[0].source == f"lines:{codes}"
    assert scanner.state().name == "North door"


def test_a_printer_gets_its_name_and_its_connection_from_the_kind() -> None:
    printer = DriverRegistry.load().create(
        "printer", "file", {"device": "/dev/usb/lp0", "connection": "network"}, name="Desk printer"
    )
    assert printer.state().name == "Desk printer"
    assert printer.unique_id == "escpos:file:/dev/usb/lp0", "the configured kind wins over a stray setting"


def test_families_and_their_hardware_libraries_are_imported_only_when_asked() -> None:
    script = """
import json, sys
from drivers.registry import DriverRegistry

def loaded():
    names = ("evdev", "smartcard", "drivers.scanner", "drivers.rfid", "drivers.printer", "escpos", "paho")
    return sorted(n for n in names if n in sys.modules)

async def sink(event):
    pass

registry = DriverRegistry.load()
kinds = registry.kinds()
steps = {"listed": loaded()}
registry.factory("scanner", "serial")({"port": "/dev/ttyACM0"}, sink)
steps["serial scanner"] = loaded()
registry.factory("scanner", "hid")({"device": "/dev/input/event3"}, sink)
steps["hid scanner"] = loaded()
print(json.dumps(steps))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True, timeout=60
    )
    steps = json.loads(out.stdout)
    assert steps["listed"] == [], "reading the manifests imports no family"
    assert steps["serial scanner"] == ["drivers.scanner"], "a serial scanner needs neither evdev nor pyscard"
    assert steps["hid scanner"] == ["drivers.scanner", "evdev"], "evdev comes with the first USB wedge"


def test_a_bad_manifest_is_reported_with_its_file(tmp_path: Path) -> None:
    family = tmp_path / "fax"
    family.mkdir()
    (family / "manifest.json").write_text(json.dumps({"domain": "fax", "name": "Fax", "kinds": []}))
    with pytest.raises(ValueError, match=r"fax/manifest.json: kinds must list each kind once"):
        DriverRegistry.load(tmp_path)
    (family / "manifest.json").write_text(json.dumps({"domain": "telex", "name": "Fax"}))
    with pytest.raises(ValueError, match="differs from its folder"):
        DriverRegistry.load(tmp_path)
