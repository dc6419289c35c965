"""An NFC tap at a real appliance process: pcscd + vpcd + a virtual badge, decided like an API scan."""

from __future__ import annotations

import csv
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

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
