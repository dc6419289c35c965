"""An NFC tap at a real appliance process: pcscd + vpcd + a virtual badge, decided like an API scan."""

from __future__ import annotations

import csv
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.drivers.vcard import SLOT0, PcscDaemon, VirtualCard, pcscd_or_skip
from tests.helpers import ApplianceProcess, konferenco, wait_for


@pytest.fixture(scope="module")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PcscDaemon]:
    with pcscd_or_skip(tmp_path_factory.mktemp("pcscd")) as daemon:
        yield daemon


def _scans_by(data: Path, staff: str) -> list[tuple[str, str]]:
    conn = sqlite3.connect(f"file:{data / 'appliance.db'}?mode=ro", uri=True)
    try:
        return conn.execute(
            "SELECT attendee_id, result FROM checkin WHERE staff = ? ORDER BY at", (staff,)
        ).fetchall()
    finally:
        conn.close()


def test_a_tap_on_the_reader_admits_the_badges_owner(pcscd: PcscDaemon, tmp_path: Path) -> None:
    data = tmp_path / "data"
    konferenco("demo", "seed", "--data", str(data), "--attendees", "60", "--seed", "4")
    konferenco(
        "appliance", "devices", "add", "--data", str(data), "--id", "nfc-door", "--domain", "rfid",
        "--gate", "south", "--set", f"reader={SLOT0}", "--set", "debounce_ms=1500",
    )  # fmt: skip
    out = tmp_path / "badges.csv"
    konferenco("appliance", "badges", "--data", str(data), "--out", str(out))
    with out.open(encoding="utf-8", newline="") as f:
        holder = next(row for row in csv.DictReader(f) if row["nfc_uid"])
    with ApplianceProcess(data) as door:

        def listed() -> str:
            return konferenco("appliance", "devices", "--data", str(data), "--port", str(door.port)).stdout

        wait_for(
            lambda: "rfid/ at gate south: connected" in listed(), what="the reader to be listed connected"
        )
        card = VirtualCard(pcscd.port, holder["nfc_uid"])
        card.tap()
        try:
            pcscd.wait_card(SLOT0, present=True)
            rows = wait_for(lambda: _scans_by(data, "nfc-door"), timeout=15, what="the tap to be decided")
        finally:
            card.remove()
        assert rows == [(holder["attendee_id"], "admitted")]
        time.sleep(0.2)
        assert len(_scans_by(data, "nfc-door")) == 1  # one tap, one scan


def _first_tap(url: str, token: str, got: list[dict[str, object]]) -> None:
    """Follow the live feed's ``tap`` topic until one event arrives (run on a thread)."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.stream(
        "GET", f"{url}/api/v1/live", params={"topics": "tap,scan"}, headers=headers, timeout=30
    ) as s:
        event = ""
        for line in s.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event:
                got.append({"topic": event, **json.loads(line[5:])})
                return


def test_a_tap_on_the_desk_reader_admits_no_one_and_tells_the_desk_whose_tag_it_is(
    pcscd: PcscDaemon, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    konferenco("demo", "seed", "--data", str(data), "--attendees", "60", "--seed", "4")
    konferenco(
        "appliance", "devices", "add", "--data", str(data), "--id", "desk-reader", "--domain", "rfid",
        "--desk", "--set", f"reader={SLOT0}", "--set", "debounce_ms=1500",
    )  # fmt: skip
    out = tmp_path / "badges.csv"
    konferenco("appliance", "badges", "--data", str(data), "--out", str(out))
    with out.open(encoding="utf-8", newline="") as f:
        holder = next(row for row in csv.DictReader(f) if row["nfc_uid"])
    desk = konferenco("appliance", "issue-token", "--data", str(data), "--role", "desk").stdout.strip()
    with ApplianceProcess(data) as box:

        def listed() -> str:
            return konferenco("appliance", "devices", "--data", str(data), "--port", str(box.port)).stdout

        wait_for(lambda: "desk-reader" in listed() and "connected" in listed(), what="the desk reader")
        got: list[dict[str, object]] = []
        follower = threading.Thread(target=_first_tap, args=(box.url, desk, got), daemon=True)
        follower.start()
        time.sleep(0.5)  # subscribed before the tap (the feed keeps no history)
        card = VirtualCard(pcscd.port, holder["nfc_uid"])
        card.tap()
        try:
            pcscd.wait_card(SLOT0, present=True)
            follower.join(timeout=15)
        finally:
            card.remove()
        assert got, "no tap reached the live feed"
        (tap,) = got
        assert tap["topic"] == "tap"
        assert tap["device"] == "desk-reader"
        assert tap["nfc_uid"] == holder["nfc_uid"]
        assert tap["attendee_id"] == holder["attendee_id"]
        time.sleep(0.3)
        assert _scans_by(data, "desk-reader") == []  # the desk's reader opened no door


def test_a_desk_device_needs_to_be_a_scanner_or_reader_without_a_gate(tmp_path: Path) -> None:
    data = tmp_path / "data"
    konferenco("demo", "seed", "--data", str(data), "--attendees", "5", "--seed", "4")
    refused = konferenco(
        "appliance", "devices", "add", "--data", str(data), "--id", "desk-reader", "--domain", "rfid",
        "--desk", "--gate", "south", "--set", f"reader={SLOT0}", check=False,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "--desk is for a scanner or reader at the help desk" in refused.stderr
