"""The print queue section: jobs follow the printer live; retry and cancel after a confirmation."""

from __future__ import annotations

from typing import Any

import httpx
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from kiosk_ui.tui.app import StaffApp
from kiosk_ui.tui.prints import PrintsScreen
from tests.tui.conftest import Venue, sign_in, staff_app, wait_until


class NoPrinter(httpx.AsyncHTTPTransport):
    """The real appliance, answering the print queue as one with no printer configured does."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/print-jobs":
            body = {"code": "no_printer", "message": "no printer is configured on this appliance"}
            return httpx.Response(404, json=body, request=request)
        return await super().handle_async_request(request)


def prints(app: StaffApp) -> PrintsScreen:
    screen = app.screen
    assert isinstance(screen, PrintsScreen)
    return screen


def row(app: StaffApp, job_id: str) -> list[str]:
    table = app.screen.query_one("#prints-jobs", DataTable)
    if job_id not in {key.value for key in table.rows}:
        return []
    return [str(cell) for cell in table.get_row(job_id)]


def said(app: StaffApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def new_job(venue: Venue, attendee_id: str) -> dict[str, Any]:
    answer = venue.desk("POST", "/api/v1/print-jobs", json={"attendee_id": attendee_id})
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


def job(venue: Venue, job_id: str) -> dict[str, Any]:
    return dict(venue.desk("GET", f"/api/v1/print-jobs/{job_id}").json())


async def open_queue(pilot: Pilot[Any], venue: Venue) -> StaffApp:
    app: StaffApp = pilot.app  # type: ignore[assignment]
    await sign_in(pilot, venue, "desk")
    await pilot.press("f4")
    await wait_until(pilot, lambda: app.current_mode == "prints", "the print queue")
    await wait_until(pilot, lambda: "kiosk-printer" in said(app, "#prints-printers"), "the printers")
    return app


async def select(pilot: Pilot[Any], job_id: str) -> None:
    table = pilot.app.screen.query_one("#prints-jobs", DataTable)
    table.focus()
    table.move_cursor(row=table.get_row_index(job_id))
    await pilot.pause()


async def confirm(pilot: Pilot[Any], key: str) -> None:
    await pilot.press(key)
    await wait_until(pilot, lambda: bool(pilot.app.screen.query("#confirm")), "the question")
    await pilot.click("#confirm")


async def test_a_job_appears_live_with_the_name_and_reaches_printed(venue: Venue) -> None:
    person = venue.take()
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_queue(pilot, venue)
        await wait_until(pilot, lambda: "✔ ready" in said(app, "#prints-printers"), "the printer's reading")
        made = new_job(venue, person["attendee_id"])
        who = f"{person['name']} ({person['attendee_id']})"
        await wait_until(pilot, lambda: "✔ printed" in row(app, made["id"]), "the job to print")
        await wait_until(pilot, lambda: row(app, made["id"])[0] == who, "the attendee's name")
        cells = row(app, made["id"])
        assert cells[5] == "requested" and cells[6] == "kiosk-printer" and cells[3] == "0 s ago"
        assert job(venue, made["id"])["status"] == "done"
        await select(pilot, made["id"])
        assert not prints(app).check_action("retry", ())  # printed: nothing to retry
        assert not prints(app).check_action("cancel_job", ())


async def test_printer_off_the_reason_is_shown_and_retry_prints_once_it_is_back(venue: Venue) -> None:
    person = venue.take()
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_queue(pilot, venue)
        venue.printer_off()
        try:
            made = new_job(venue, person["attendee_id"])
            refused = lambda: job(venue, made["id"])["detail"] != ""  # noqa: E731
            await wait_until(pilot, refused, "the printer's refusal")
            reason = job(venue, made["id"])["detail"]
            await wait_until(pilot, lambda: reason in row(app, made["id"]), "the reason on screen")
            assert "◷ waiting" in row(app, made["id"])
            off = lambda: "✖ unreachable" in said(app, "#prints-printers")  # noqa: E731
            await wait_until(pilot, off, "the printer shown off")
            # the queue tries again by itself (after 1, 2, 5, 10, 30 s): after its fourth try it waits
            # 10 s, time enough for staff to retry it first once the printer is back
            tried = lambda: job(venue, made["id"])["attempts"] >= 4  # noqa: E731
            await wait_until(pilot, tried, "the printer's fourth refusal", within=30)
        finally:
            printer = venue.printer_on()
        before = len(venue.badge_jobs())
        await select(pilot, made["id"])
        assert prints(app).check_action("retry", ())
        await confirm(pilot, "r")
        await wait_until(pilot, lambda: "A new job prints" in said(app, "#prints-message"), "the new job")
        assert job(venue, made["id"])["status"] == "cancelled"  # the waiting job gave way to the new one
        again = [j for j in venue.jobs_of(person["attendee_id"]) if j["kind"] == "reprint"]
        assert len(again) == 1 and again[0]["reprint_of"] == made["id"]
        await wait_until(pilot, lambda: "✔ printed" in row(app, again[0]["id"]), "the new job to print")
        assert len(venue.badge_jobs()) > before
        assert printer is venue.printer


async def test_cancel_a_waiting_job_after_confirming(venue: Venue) -> None:
    person = venue.take()
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_queue(pilot, venue)
        venue.printer_off()
        try:
            made = new_job(venue, person["attendee_id"])
            await wait_until(pilot, lambda: "◷ waiting" in row(app, made["id"]), "the waiting job")
            await select(pilot, made["id"])
            assert prints(app).check_action("cancel_job", ())
            await pilot.press("x")
            await wait_until(pilot, lambda: bool(app.screen.query("#cancel")), "the question")
            await pilot.press("escape")  # changed her mind: nothing happens
            await pilot.pause(0.2)
            assert job(venue, made["id"])["status"] == "queued"
            await confirm(pilot, "x")
            await wait_until(pilot, lambda: "⊘ cancelled" in row(app, made["id"]), "the cancelled job")
            assert job(venue, made["id"])["status"] == "cancelled"
            assert "was cancelled" in said(app, "#prints-message")
            assert not prints(app).check_action("cancel_job", ())
        finally:
            venue.printer_on()


async def test_an_appliance_without_a_printer_says_so_in_place(venue: Venue) -> None:
    app = staff_app(venue, transport=NoPrinter())
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, venue, "organizer")
        await pilot.press("f4")
        await wait_until(pilot, lambda: app.current_mode == "prints", "the print queue")
        refused = lambda: "No printer is configured" in said(app, "#prints-message")  # noqa: E731
        await wait_until(pilot, refused, "the refusal")
        assert said(app, "#prints-message") == "✖ No printer is configured on this appliance."
        assert app.screen.query_one("#prints-message").display
        assert app.screen.query_one("#prints-jobs", DataTable).row_count == 0
        assert not prints(app).check_action("retry", ())
