"""A venue's entrance for the kiosk tests: a demo appliance, its badge printer and a paired kiosk.

Real parts only: ``konferenco appliance serve`` on data from ``konferenco demo
seed`` (60 attendees, seed 7), an ESC/POS "printer" on a loopback socket added
with ``konferenco appliance devices add`` (switched off and on by stopping and
starting it on the same port), the attendees' badge codes from ``konferenco
appliance badges``, a desk token to check what the kiosk did through the API,
and a kiosk paired with a short code the way a venue pairs one.  One appliance
per test module: a module leaves its traces (check-ins, print jobs) behind, so
each test takes attendees no other test of its module uses.
"""

from __future__ import annotations

import csv
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from konferenco.badges import BadgePayload, BadgeSigner
from tests.browser import CHROMIUM, CHROMIUM_ARGS, playwright_driver
from tests.drivers.escpos_decode import decode
from tests.drivers.test_printer import FakePrinter
from tests.helpers import ApplianceProcess, konferenco, wait_for

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Playwright

PRINTER_ID = "kiosk-printer"
SPARE_PRINTER_ID = "spare-printer"
LOCALES = Path(__file__).resolve().parents[2] / "kiosk_ui" / "locale"
COOKIE = "konferenco_kiosk"
LANGUAGES = ("en", "de", "fr", "es", "ja")
PORTRAIT = {"width": 1080, "height": 1920}
LANDSCAPE = {"width": 1920, "height": 1080}


@dataclass
class Venue:
    """The appliance, its printer and the people on its roster, as the tests reach them."""

    root: Path
    data: Path
    process: ApplianceProcess
    printer_port: int
    badges: list[dict[str, str]]
    desk_token: str
    kiosk_token: str = ""
    printer: FakePrinter | None = None
    foreign_badge: str = ""
    _taken: set[str] = field(default_factory=set)

    @property
    def url(self) -> str:
        return self.process.url

    # --- the API, as the desk sees it ------------------------------------------------------

    def desk(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.desk_token}"}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=15, **kwargs)

    def as_kiosk(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if not self.kiosk_token:
            self.kiosk_token = self.pair()
        headers = {"Authorization": f"Bearer {self.kiosk_token}"}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=15, **kwargs)

    def attendee(self, attendee_id: str) -> dict[str, Any]:
        response = self.desk("GET", f"/api/v1/attendees/{attendee_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def jobs_of(self, attendee_id: str) -> list[dict[str, Any]]:
        jobs = self.desk("GET", "/api/v1/print-jobs").json()
        return [j for j in jobs if j["attendee_id"] == attendee_id]

    def stats(self) -> dict[str, Any]:
        response = self.desk("GET", "/api/v1/stats")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def admitted(self) -> int:
        """How many people the appliance counts as checked in (the desk's dashboard figure)."""
        return int(self.stats()["admitted"])

    def door_says(self, code: str) -> dict[str, Any]:
        """What the south door answers for this badge now (a desk scan): who was admitted where, and when."""
        response = self.desk(
            "POST", "/api/v1/scans", json={"code": code, "gate": "south", "nonce": uuid.uuid4().hex}
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    # --- the roster ---------------------------------------------------------------------------

    def take(
        self, *, ticket: str = "Full pass", where: Callable[[dict[str, str]], bool] | None = None
    ) -> dict[str, str]:
        """An attendee no other test of this module has used: a clean slate for what a test checks."""
        for row in self.badges:
            if row["attendee_id"] in self._taken or row["ticket_type"] != ticket:
                continue
            if where is not None and not where(row):
                continue
            self._taken.add(row["attendee_id"])
            return row
        raise LookupError(f"no unused attendee with a {ticket} left in the demo roster")

    # --- the printer ---------------------------------------------------------------------------

    def printer_on(self, **kwargs: Any) -> FakePrinter:
        self.printer_off()
        self.printer = FakePrinter(port=self.printer_port, **kwargs)
        return self.printer

    def printer_ready(self) -> None:
        """Wait until the kiosk sees a printer that can print (its reading of a printer lasts 3 s)."""

        def ready() -> bool:
            answer = self.as_kiosk("GET", "/api/v1/kiosk/status")
            return answer.status_code == 200 and bool(answer.json()["can_print"])

        wait_for(ready, timeout=15, what="the kiosk to see a ready printer")

    def printer_off(self) -> None:
        if self.printer is not None:
            self.printer.stop()
            self.printer = None

    def printer_gone(self) -> None:
        """Wait until the kiosk sees no printer that can print (not a fixed sleep: a busy machine)."""

        def gone() -> bool:
            answer = self.as_kiosk("GET", "/api/v1/kiosk/status")
            return answer.status_code == 200 and not answer.json()["can_print"]

        wait_for(gone, timeout=15, what="the kiosk to see that no printer can print")

    def printed_codes(self, job_bytes: bytes) -> list[str]:
        """The QR codes on the paper those bytes make (decoded from ESC/POS, read by zxing-cpp)."""
        page = decode(job_bytes).page().convert("L")
        return [r.text for r in zxingcpp.read_barcodes(page)]

    def badge_jobs(self) -> list[bytes]:
        """Each connection to the printer that carried a raster image: one per badge on paper."""
        assert self.printer is not None
        return [job for job in self.printer.jobs() if b"\x1dv0" in job]

    # --- the kiosk's credential -----------------------------------------------------------------

    def pairing_code(self, name: str = "Entrance kiosk") -> str:
        response = self.desk("POST", "/api/v1/kiosk/pairing-codes", json={"name": name})
        assert response.status_code == 201, response.text
        return str(response.json()["code"])

    def pair(self, name: str = "Entrance kiosk") -> str:
        """A kiosk token, paired as a kiosk machine pairs (the short code made at the desk)."""
        response = httpx.post(
            f"{self.url}/api/v1/kiosk/pair", json={"code": self.pairing_code(name)}, timeout=15
        )
        assert response.status_code == 200, response.text
        return str(response.json()["token"])

    def context(
        self,
        browser: Browser,
        viewport: dict[str, int] | None = None,
        *,
        paired: bool = True,
        token: str = "",
        **kwargs: Any,
    ) -> BrowserContext:
        """A fresh browser profile on the kiosk machine: paired (its cookie set) unless told otherwise.

        TOKEN: another kiosk's token (a second kiosk at the same entrance); default the module's kiosk.
        """
        context = browser.new_context(viewport=viewport or PORTRAIT, **kwargs)  # type: ignore[arg-type]
        if paired:
            if not token and not self.kiosk_token:
                self.kiosk_token = self.pair()
            context.add_cookies(
                [
                    {
                        "name": COOKIE,
                        "value": token or self.kiosk_token,
                        "url": self.url,
                        "httpOnly": True,
                        "sameSite": "Strict",
                    }
                ]
            )
        return context

    def stop(self) -> None:
        self.process.stop()

    def start(self) -> None:
        """The appliance again, on the same port and data (a restart as the kiosk sees it)."""
        self.process = ApplianceProcess(self.data, self.process.port).start()


def translated(lang: str, message: str) -> str:
    """``message`` as the kiosk's catalog for ``lang`` says it (read with Babel from the .po file).

    The tests read the catalogs themselves, so a screen that shows the English source where a
    translation exists fails; a message with no translation yet is the source itself.
    """
    from babel.messages.pofile import read_po

    if lang == "en":
        return message
    for po in sorted(LOCALES.glob(f"{lang}/LC_MESSAGES/*.po")):
        with po.open("rb") as f:
            catalog = read_po(f, locale=lang)
        found = catalog.get(message)
        if found is not None and found.string:
            return str(found.string if isinstance(found.string, str) else found.string[0])
    raise LookupError(f"no {lang} translation of {message!r} in {LOCALES}")


def foreign_badge() -> str:
    """A well-formed, signed badge of another organizer's event: the kiosk must refuse it."""
    return BadgeSigner(Ed25519PrivateKey.generate()).sign(BadgePayload("elsewhere-2026", "a000001", "full"))


def open_proposals(url: str, organizer: str) -> None:
    """The organizers take grassroots proposals, in a lounge open to them (as the schedule issue set up)."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {organizer}"}, timeout=15) as client:
        room = {"name": "Grassroots Lounge", "capacity": 40, "grassroots": True}
        for answer in (
            client.put("/api/v1/rooms/gr-lounge", json=room),
            client.put("/api/v1/schedule/settings", json={"grassroots": {"enabled": True}}),
        ):
            assert answer.status_code == 200, answer.text


def _add_printer(data: Path, printer_id: str) -> int:
    probe = FakePrinter()  # only to reserve a port; the tests' printers then take it in turn
    port = probe.port
    probe.stop()
    konferenco(
        "appliance", "devices", "add", "--data", str(data), "--id", printer_id, "--domain", "printer",
        "--kind", "network", "--set", "host=127.0.0.1", "--set", f"port={port}", "--set", "poll_interval=0",
    )  # fmt: skip
    return port


def make_venue(
    root: Path, attendees: int = 60, seed: int = 7, *, spare_printer: bool = False
) -> Iterator[Venue]:
    """SPARE_PRINTER: a second printer that is never switched on, where a job waits for good."""
    data = root / "data"
    konferenco("demo", "seed", "--data", str(data), "--attendees", str(attendees), "--seed", str(seed))
    port = _add_printer(data, PRINTER_ID)
    if spare_printer:
        _add_printer(data, SPARE_PRINTER_ID)
    exported = root / "badges.csv"
    konferenco("appliance", "badges", "--data", str(data), "--out", str(exported))
    with exported.open(encoding="utf-8", newline="") as f:
        badges = list(csv.DictReader(f))
    desk = konferenco("appliance", "issue-token", "--data", str(data), "--role", "desk").stdout.strip()
    organizer = konferenco(
        "appliance", "issue-token", "--data", str(data), "--role", "organizer"
    ).stdout.strip()
    process = ApplianceProcess(data).start()
    venue = Venue(root, data, process, port, badges, desk, foreign_badge=foreign_badge())
    try:
        open_proposals(process.url, organizer)
        venue.printer_on()
        yield venue
    finally:
        venue.printer_off()
        venue.process.stop()


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venue]:
    """The module's appliance, printer on, started before any browser (Playwright owns the loop then)."""
    yield from make_venue(tmp_path_factory.mktemp("venue"))


@pytest.fixture(scope="module")
def driver(venue: Venue) -> Iterator[Playwright]:
    """Playwright, once per module and after the appliance."""
    yield from playwright_driver()


@pytest.fixture(scope="module")
def browser(driver: Playwright) -> Iterator[Browser]:
    browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


def wait_until(check: Callable[[], Any], what: str, timeout: float = 10) -> Any:
    """``tests.helpers.wait_for`` under a name that reads well in a kiosk test."""
    return wait_for(check, timeout=timeout, what=what)


def settle(seconds: float = 0.3) -> None:
    """Give a socket or a queue a moment where there is nothing to wait *for* (no second badge)."""
    time.sleep(seconds)
