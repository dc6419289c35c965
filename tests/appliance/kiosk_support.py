"""A real appliance set up as a venue's kiosk corner: a demo event, a network badge printer, a paired kiosk.

Shared by the kiosk API and live feed tests.  Everything is made the way an
operator makes it: ``konferenco demo seed``, ``appliance devices add`` (an
ESC/POS printer on a loopback TCP port, played by
:class:`tests.drivers.test_printer.FakePrinter`), ``appliance kiosk
pair-code`` and ``POST /api/v1/kiosk/pair``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import zxingcpp

from tests.drivers.escpos_decode import decode
from tests.drivers.test_printer import FakePrinter
from tests.helpers import ApplianceProcess, konferenco

Row = dict[str, Any]


@dataclass
class KioskCorner:
    data: Path
    process: ApplianceProcess
    kiosk_token: str
    tokens: dict[str, str]  # desk, organizer
    badges: list[Row]  # the CSV rows merged with the catalog entry (email, valid_from, ...)
    printer_port: int
    _taken: set[str] = field(default_factory=set)

    @property
    def url(self) -> str:
        return self.process.url

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=15, **kwargs)

    def kiosk(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.call(method, path, self.kiosk_token, **kwargs)

    def take(self, ticket_type: str | None = "Full pass") -> Row:
        """An attendee no other test of the module used."""
        for row in self.badges:
            if row["attendee_id"] not in self._taken and (
                ticket_type is None or row["ticket_type"] == ticket_type
            ):
                self._taken.add(row["attendee_id"])
                return row
        raise LookupError("no unused demo attendee left")

    def pair(self, name: str = "Test kiosk") -> str:
        code = konferenco(
            "appliance", "kiosk", "pair-code", "--data", str(self.data), "--name", name
        ).stdout.strip()
        paired = httpx.post(f"{self.url}/api/v1/kiosk/pair", json={"code": code}, timeout=10)
        assert paired.status_code == 200, paired.text
        return str(paired.json()["token"])

    def identify(self, row: Row, token: str | None = None) -> dict[str, Any]:
        answer = self.call(
            "POST",
            "/api/v1/kiosk/identify",
            token or self.kiosk_token,
            json={"badge": {"code": row["badge_code"]}},
        )
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def printer(self, **kwargs: Any) -> FakePrinter:
        return FakePrinter(port=self.printer_port, **kwargs)


def qr_codes_in(job_bytes: bytes) -> list[str]:
    """The QR codes on the page the ESC/POS bytes print."""
    page = decode(job_bytes).page().convert("L")
    return [r.text for r in zxingcpp.read_barcodes(page)]


@contextmanager
def kiosk_corner(
    root: Path, attendees: int = 40, seed: int = 5, without: tuple[str, ...] = ()
) -> Iterator[KioskCorner]:
    """A demo box with a kiosk paired; ``without`` names capabilities the box is enrolled without."""
    data = root / "data"
    konferenco("demo", "seed", "--data", str(data), "--attendees", str(attendees), "--seed", str(seed))
    if without:
        config = json.loads((data / "appliance.json").read_text())
        config["capabilities"] = [c for c in config["capabilities"] if c not in without]
        (data / "appliance.json").write_text(json.dumps(config))
    probe = FakePrinter()  # only to reserve a port the tests' printers then take in turn
    port = probe.port
    probe.stop()
    konferenco(
        "appliance", "devices", "add", "--data", str(data), "--id", "kiosk-printer", "--domain", "printer",
        "--kind", "network", "--set", "host=127.0.0.1", "--set", f"port={port}", "--set", "poll_interval=0",
        "--set", "status_timeout=0.5", "--set", "connect_timeout=1",
    )  # fmt: skip
    out = root / "badges.csv"
    konferenco("appliance", "badges", "--data", str(data), "--out", str(out))
    tokens = {
        role: konferenco("appliance", "issue-token", "--data", str(data), "--role", role).stdout.strip()
        for role in ("desk", "organizer")
    }
    catalog = {a["id"]: a for a in json.loads((data / "catalog.json").read_bytes())["catalog"]["attendees"]}
    with out.open(encoding="utf-8", newline="") as f:
        badges = [{**catalog[r["attendee_id"]], **r} for r in csv.DictReader(f)]
    with ApplianceProcess(data) as process:
        corner = KioskCorner(data, process, "", tokens, badges, port)
        corner.kiosk_token = corner.pair("Entrance kiosk 1")
        yield corner
