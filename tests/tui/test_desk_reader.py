"""An NFC tag handed out at the help desk: tapped on the desk's real reader, linked from the TUI.

pcscd with vpcd's virtual reader and a virtual card (tests/drivers/vcard.py), a reader added
with ``devices add --desk`` to a real appliance process, and the TUI's desk signed in as the
demo desk: the tap reaches the open "Link tag" form through the live feed, the tag is linked,
and the tap itself admitted no one.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from textual.widgets import DataTable, Input

from kiosk_ui.tui.app import StaffApp
from kiosk_ui.tui.desk import DeskScreen
from kiosk_ui.tui.desk_forms import TagForm
from tests.drivers.vcard import SLOT0, PcscDaemon, VirtualCard, pcscd_or_skip
from tests.helpers import ApplianceProcess, konferenco, wait_for
from tests.tui.conftest import wait_until

NEW_TAG = "04A1B2C3D4E5F6"


@pytest.fixture(scope="module")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PcscDaemon]:
    with pcscd_or_skip(tmp_path_factory.mktemp("pcscd")) as daemon:
        yield daemon


def _checkins_by(data: Path, device: str) -> int:
    conn = sqlite3.connect(f"file:{data / 'appliance.db'}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM checkin WHERE staff = ?", (device,)).fetchone()[0])
    finally:
        conn.close()


async def test_a_tag_tapped_on_the_desk_reader_is_linked_to_the_chosen_attendee(
    pcscd: PcscDaemon, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    konferenco("demo", "seed", "--data", str(data), "--attendees", "60", "--seed", "7")
    konferenco(
        "appliance", "devices", "add", "--data", str(data), "--id", "desk-reader", "--domain", "rfid",
        "--desk", "--set", f"reader={SLOT0}", "--set", "debounce_ms=1500",
    )  # fmt: skip
    pin = json.loads((data / "secrets" / "demo-staff.json").read_text())["Desk"]["pin"]
    with ApplianceProcess(data) as box:

        def listed() -> str:
            return konferenco("appliance", "devices", "--data", str(data), "--port", str(box.port)).stdout

        wait_for(lambda: "desk-reader" in listed() and "connected" in listed(), what="the desk reader")
        app = StaffApp(box.url, heartbeat_s=0.5, state_dir=tmp_path / "state")
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: bool(app.screen.query("#name")), "the sign-in screen")
            app.screen.query_one("#name", Input).value = "Desk"
            app.screen.query_one("#pin", Input).value = pin
            app.screen.query_one("#pin", Input).focus()
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, DeskScreen), "the desk")
            desk = app.screen
            assert isinstance(desk, DeskScreen)
            desk.query_one("#desk-search", Input).value = "lefèvre"
            await wait_until(pilot, lambda: desk.answered == "lefèvre", "the results")
            table = desk.query_one("#desk-results", DataTable)
            names = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
            table.focus()
            table.move_cursor(row=names.index("Ana Lefèvre"))
            await wait_until(
                pilot, lambda: desk.selected == "a000051" and desk.record is not None, "her record"
            )
            await pilot.press("ctrl+t")
            await wait_until(pilot, lambda: isinstance(app.screen, TagForm), "the tag form")
            await pilot.pause(0.5)  # the form has subscribed to the desk reader's taps
            card = VirtualCard(pcscd.port, NEW_TAG)
            card.tap()
            try:
                pcscd.wait_card(SLOT0, present=True)
                await wait_until(pilot, lambda: app.screen is desk, "the tap to close the form", within=15)
            finally:
                card.remove()
            await wait_until(
                pilot,
                lambda: NEW_TAG in ((desk.record or {}).get("attendee") or {}).get("nfc_uids", []),
                "the tag in her record",
            )
        # the appliance agrees, over its API, as any client would see it
        token = konferenco("appliance", "issue-token", "--data", str(data), "--role", "desk").stdout.strip()
        async with httpx.AsyncClient(base_url=box.url, headers={"Authorization": f"Bearer {token}"}) as api:
            answer = await api.get("/api/v1/attendees/a000051/record")
        assert NEW_TAG in answer.json()["attendee"]["nfc_uids"]
        assert _checkins_by(data, "desk-reader") == 0  # the desk's reader opened no door
