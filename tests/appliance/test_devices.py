"""Devices on a real appliance process: a serial scanner's scans are decided like API scans."""

from __future__ import annotations

import csv
import os
import sqlite3
import tty
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.helpers import ApplianceProcess, konferenco, wait_for


@dataclass
class Door:
    data: Path
    process: ApplianceProcess
    master: int  # our end of the scanner's serial line
    badges: list[dict[str, str]]
    token: str

    def devices(self) -> dict[str, dict[str, object]]:
        response = httpx.get(
            f"{self.process.url}/api/v1/devices", headers={"Authorization": f"Bearer {self.token}"}, timeout=5
        )
        assert response.status_code == 200, response.text
        return {d["id"]: d for d in response.json()}

    def scans_by(self, staff: str) -> list[tuple[str, str, str]]:
        conn = sqlite3.connect(f"file:{self.data / 'appliance.db'}?mode=ro", uri=True)
        try:
            return conn.execute(
                "SELECT attendee_id, gate, result FROM checkin WHERE staff = ? ORDER BY at", (staff,)
            ).fetchall()
        finally:
            conn.close()


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Door]:
    root = tmp_path_factory.mktemp("door")
    data = root / "data"
    konferenco("demo", "seed", "--data", str(data), "--attendees", "50", "--seed", "3")
    master, slave = os.openpty()
    tty.setraw(slave)
    port = root / "ttyScanner"
    port.symlink_to(os.ttyname(slave))
    konferenco(
        "appliance", "devices", "add", "--data", str(data), "--id", "north-scanner", "--domain", "scanner",
        "--kind", "serial", "--name", "North door scanner", "--gate", "north", "--set", f"port={port}",
    )  # fmt: skip
    out = root / "badges.csv"
    konferenco("appliance", "badges", "--data", str(data), "--out", str(out))
    token = konferenco("appliance", "issue-token", "--data", str(data), "--role", "door").stdout.strip()
    with out.open(encoding="utf-8", newline="") as f:
        badges = list(csv.DictReader(f))
    with ApplianceProcess(data) as process:
        yield Door(data, process, master, badges, token)
    os.close(master)
    os.close(slave)


def test_a_serial_scanner_is_listed_connected_at_its_gate(door: Door) -> None:
    scanner = wait_for(
        lambda: (d := door.devices()["north-scanner"])["state"]["state"] == "connected" and d,
        what="the scanner to connect",
    )
    assert scanner["domain"] == "scanner" and scanner["gate"] == "north"
    listed = konferenco("appliance", "devices", "--data", str(door.data), "--port", str(door.process.port))
    assert "north-scanner" in listed.stdout and "connected" in listed.stdout


def test_a_code_from_the_scanner_is_decided_and_recorded_like_an_api_scan(door: Door) -> None:
    badge = door.badges[0]
    wait_for(lambda: door.devices()["north-scanner"]["state"]["state"] == "connected", what="the scanner")
    os.write(door.master, badge["badge_code"].encode() + b"\r\n")
    rows = wait_for(lambda: door.scans_by("north-scanner"), what="the scan to be recorded")
    assert rows == [(badge["attendee_id"], "north", "admitted")]
    # The same person at the API afterwards is already inside: one path, one history.
    again = httpx.post(
        f"{door.process.url}/api/v1/scans",
        json={"nonce": "api-after-scanner", "gate": "north", "code": badge["badge_code"]},
        headers={"Authorization": f"Bearer {door.token}"},
        timeout=5,
    ).json()
    assert again["result"] == "already_admitted"
    assert again["first_admitted"]["gate"] == "north"
    assert door.devices()["north-scanner"]["scans"] == 1


def test_garbage_from_the_scanner_is_refused_and_recorded_without_stopping_it(door: Door) -> None:
    before = len(door.scans_by("north-scanner"))
    os.write(door.master, b"NOT-A-BADGE\r\n")
    rows = wait_for(lambda: (r := door.scans_by("north-scanner"))[before:] and r, what="the refused scan")
    assert rows[-1][2] == "invalid"
    badge = door.badges[1]
    os.write(door.master, badge["badge_code"].encode() + b"\r\n")
    rows = wait_for(lambda: (r := door.scans_by("north-scanner"))[before + 1 :] and r, what="the next scan")
    assert rows[-1] == (badge["attendee_id"], "north", "admitted")


async def test_a_device_that_cannot_start_is_reported_with_why_and_the_rest_run() -> None:
    from appliance.config import ApplianceConfig, DeviceConfig
    from appliance.devices.manager import DeviceManager

    config = ApplianceConfig(
        device_id="box1",
        events=["e1"],
        devices=[
            DeviceConfig(id="no-host", domain="printer", kind="network", settings={}),
            DeviceConfig(id="odd", domain="scanner", kind="telepathy"),
            DeviceConfig(
                id="dev", domain="scanner", kind="lines", gate="north", settings={"path": "/dev/null"}
            ),
        ],
    )

    async def ignore(event: object) -> None:
        pass

    printers: dict[str, object] = {}
    manager = DeviceManager(config, lambda device: ignore, printers)
    await manager.start()
    try:
        states = {c.id: manager.state_of(c) for c in config.devices}
        assert states["no-host"].state == "error" and "host" in states["no-host"].detail
        assert states["odd"].state == "error" and "no driver for scanner/telepathy" in states["odd"].detail
        assert "dev" in manager.drivers  # the broken ones do not keep the working one from starting
        assert printers == {}  # a printer that did not start is not offered to the print queue
    finally:
        await manager.stop()
