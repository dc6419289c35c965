"""The stats section: the figures are the appliance's, and follow scans live."""

from __future__ import annotations

import time
import uuid
from typing import Any

from textual.widgets import DataTable, Digits, Sparkline

from kiosk_ui.tui.app import StaffApp
from kiosk_ui.tui.stats import THROTTLE_S
from tests.tui.conftest import Venue, sign_in, staff_app, wait_until


def figure(app: StaffApp, key: str) -> int:
    return int(app.screen.query_one(f"#stats-{key}", Digits).value)


def table(app: StaffApp, table_id: str) -> dict[str, list[str]]:
    found = app.screen.query_one(f"#{table_id}", DataTable)
    rows = (found.get_row_at(i) for i in range(found.row_count))
    return {str(cells[0]): [str(c) for c in cells[1:]] for cells in rows}


def scan(venue: Venue, code: str, gate: str) -> dict[str, Any]:
    answer = venue.desk("POST", "/api/v1/scans", json={"code": code, "gate": gate, "nonce": uuid.uuid4().hex})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def matches(app: StaffApp, stats: dict[str, Any]) -> bool:
    return all(figure(app, k) == stats[k] for k in ("admitted", "inside", "scans", "refused"))


async def test_the_figures_are_the_appliances_and_follow_scans_live(venue: Venue) -> None:
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await sign_in(pilot, venue, "door")
        await pilot.press("f7")
        await wait_until(pilot, lambda: app.current_mode == "stats", "the stats")
        await wait_until(pilot, lambda: matches(app, venue.stats()), "the first figures")

        for _ in range(3):
            scan(venue, venue.take()["badge_code"], "north")
        scan(venue, venue.take(ticket="Speaker")["badge_code"], "south")
        scan(venue, venue.foreign_badge, "south")
        stats = venue.stats()
        assert stats["admitted"] >= 4 and stats["refused"] >= 1
        # live: well before the 10-s timer would reload
        await wait_until(pilot, lambda: matches(app, stats), "the figures to follow the scans", within=4)

        gates = table(app, "stats-gates")
        assert gates["North entrance"] == [str(stats["per_gate"]["north"]["admitted"]), "0"]
        assert gates["South entrance"][1] == str(stats["per_gate"]["south"]["refused"])
        tickets = table(app, "stats-tickets")
        assert tickets["Speaker"] == [str(stats["per_ticket_type"]["Speaker"])]
        assert tickets["Full pass"] == [str(stats["per_ticket_type"]["Full pass"])]
        reasons = venue.desk("GET", "/api/v1/door/counts", params={"gate": "south"}).json()["refusals"]
        assert sum(int(c[0]) for c in table(app, "stats-reasons").values()) == sum(reasons.values())
        assert "Not a valid badge" in table(app, "stats-reasons")  # the foreign badge
        spark = app.screen.query_one("#stats-spark", Sparkline)
        assert list(spark.data or []) == stats["scans_per_minute"]
        assert sum(stats["scans_per_minute"]) >= 5


async def test_a_burst_of_scans_reloads_at_most_about_once_a_second(venue: Venue) -> None:
    app = staff_app(venue)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, venue, "door")
        await pilot.press("f7")
        await wait_until(pilot, lambda: app.current_mode == "stats", "the stats")
        await wait_until(pilot, lambda: matches(app, venue.stats()), "the first figures")
        screen = app.screen
        reloads: list[float] = []
        real_reload = screen.reload  # type: ignore[attr-defined]

        async def counted() -> None:
            reloads.append(time.monotonic())
            await real_reload()

        screen.reload = counted  # type: ignore[attr-defined]
        started = time.monotonic()
        for _ in range(12):  # a queue at the door: twelve scans as fast as the API takes them
            scan(venue, venue.foreign_badge, "north")
        stats = venue.stats()
        await wait_until(pilot, lambda: matches(app, stats), "the figures after the burst", within=5)
        await pilot.pause(1.5)
        elapsed = time.monotonic() - started
        assert 1 <= len(reloads) <= elapsed / THROTTLE_S + 2, (len(reloads), elapsed)
