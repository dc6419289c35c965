"""The door section: wedge scans at a chosen gate, the door's answers, annul, and scans kept while offline."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, Static

from kiosk_ui.tui.app import StaffApp
from kiosk_ui.tui.door import DoorScreen
from tests.tui.conftest import Venue, sign_in, staff_app, wait_until


def said(app: StaffApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def door(app: StaffApp) -> DoorScreen:
    screen = app.screen
    assert isinstance(screen, DoorScreen)
    return screen


async def open_door(pilot: Pilot[Any], venue: Venue, gate: str = "south", role: str = "door") -> StaffApp:
    """Sign in, open the door section and choose GATE (its usual list comes with it)."""
    app: StaffApp = pilot.app  # type: ignore[assignment]
    await sign_in(pilot, venue, role)
    if app.current_mode != "door":
        await pilot.press("f3")
    await wait_until(pilot, lambda: app.current_mode == "door" and door(app).setup is not None, "the gates")
    door(app).query_one("#door-gate", Select).value = gate
    await wait_until(
        pilot,
        lambda: f"This gate: {door(app)._name_of('gates', gate)}" in said(app, "#door-counts"),
        "the gate's figures",
    )
    return app


async def wedge(pilot: Pilot[Any], code: str) -> None:
    """What a keyboard-wedge scanner does: type the code into the focused field, then Enter."""
    app = pilot.app
    field = app.screen.query_one("#door-code", Input)
    assert app.focused is field, "the scan field must have the focus for a wedge scanner"
    field.value = code
    await pilot.press("enter")


def rows(app: StaffApp) -> list[list[str]]:
    table = app.screen.query_one("#door-recent", DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def counts(venue: Venue, gate: str, list_id: str = "") -> dict[str, Any]:
    params = {"gate": gate, **({"list": list_id} if list_id else {})}
    answer = venue.desk("GET", "/api/v1/door/counts", params=params)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_a_wedge_scan_admits_and_the_second_scan_gets_the_doors_second_answer(venue: Venue) -> None:
    person = venue.take()
    before = venue.admitted()
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_door(pilot, venue)
        await wedge(pilot, person["badge_code"])
        await wait_until(pilot, lambda: "ADMITTED" in said(app, "#door-word"), "the answer")
        assert said(app, "#door-word") == "✔ ADMITTED"
        assert person["name"] in said(app, "#door-who")
        assert "Full pass" in said(app, "#door-who")
        assert venue.admitted() == before + 1
        assert rows(app)[0][2] == person["name"]
        assert app.focused is app.screen.query_one("#door-code")  # ready for the next person

        await wedge(pilot, person["badge_code"])
        await wait_until(pilot, lambda: len(rows(app)) == 2, "the second answer")
        second = rows(app)[0]
        assert second[1] in ("✖ REFUSED", "! ADMITTED — NOTE")
        assert second[4], "the door's sentence is shown"
        assert said(app, "#door-word") == second[1]
        assert venue.admitted() == before + 1  # a second scan is never a second person

        other = venue.take()
        venue.door_says(other["badge_code"])  # another device at this gate: the figures follow live
        admitted = counts(venue, "south")["admitted"]
        followed = lambda: f"Admitted here   {admitted}" in said(app, "#door-counts")  # noqa: E731
        await wait_until(pilot, followed, "the figures to follow live")
        assert rows(app)[0][2] == person["name"]  # the last answers are this door's own


async def test_a_foreign_badge_is_refused_with_the_doors_sentence(venue: Venue) -> None:
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_door(pilot, venue, gate="north")
        before = counts(venue, "north")["refused"]
        await wedge(pilot, venue.foreign_badge)
        await wait_until(pilot, lambda: "REFUSED" in said(app, "#door-word"), "the refusal")
        assert said(app, "#door-word") == "✖ REFUSED"
        sentence = said(app, "#door-reason")
        assert sentence and rows(app)[0][4] == sentence
        assert counts(venue, "north")["refused"] == before + 1
        await wait_until(
            pilot,
            lambda: f"Refused         {before + 1}" in said(app, "#door-counts"),
            "the gate's refusals to count it",
        )


async def test_the_chosen_gate_list_and_direction_are_the_ones_used(venue: Venue) -> None:
    person = venue.take(ticket="Speaker")
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_door(pilot, venue, gate="dinner", role="desk")
        screen = door(app)
        assert screen.list_id == "party"  # the gate's usual list came with it
        before = counts(venue, "dinner")
        await wedge(pilot, person["badge_code"])
        await wait_until(pilot, lambda: "ADMITTED" in said(app, "#door-word"), "the admission")
        after = counts(venue, "dinner")
        assert after["admitted"] == before["admitted"] + 1
        assert after["inside"] == before["inside"] + 1
        await wait_until(
            pilot,
            lambda: f"Admitted here   {after['admitted']}" in said(app, "#door-counts"),
            "the figures to follow",
        )

        await pilot.press("ctrl+t")  # now an exit at the same gate
        assert screen.direction == "exit"
        await wedge(pilot, person["badge_code"])
        await wait_until(pilot, lambda: said(app, "#door-word") == "✔ EXIT RECORDED", "the exit")
        assert counts(venue, "dinner")["inside"] == before["inside"]


async def test_annul_the_last_admission_after_confirming(venue: Venue) -> None:
    person = venue.take()
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_door(pilot, venue)
        before = venue.admitted()
        await wedge(pilot, person["badge_code"])
        await wait_until(pilot, lambda: said(app, "#door-word") == "✔ ADMITTED", "the admission")
        assert venue.admitted() == before + 1
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: bool(app.screen.query("#confirm")), "the question")
        await pilot.click("#confirm")
        await wait_until(pilot, lambda: "Annulled" in said(app, "#door-last"), "the annulment")
        assert venue.admitted() == before
        assert said(app, "#door-word") == "↺ ANNULLED"
        assert not app.screen.check_action("annul", ())  # nothing left to annul


async def test_no_gate_is_assumed_and_the_keyboard_chooses_one(venue: Venue) -> None:
    app = staff_app(venue)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, venue, "door")
        assert app.current_mode == "door"  # a door account lands on the door
        await wait_until(pilot, lambda: door(app).setup is not None, "the gates")
        gate = app.screen.query_one("#door-gate", Select)
        await wait_until(pilot, lambda: app.focused is gate, "the gate to be asked for first")
        assert said(app, "#door-word") == "Choose the gate (Ctrl+G), then scan."
        app.screen.query_one("#door-code", Input).focus()
        await pilot.pause()
        await wedge(pilot, venue.foreign_badge)
        assert said(app, "#door-word") == "✖ NOT RECORDED" and "Choose the gate" in said(app, "#door-reason")
        assert app.focused is gate and not door(app).pending
        await pilot.press("enter", "down", "enter")  # open the list, the first gate (by name), choose it
        await wait_until(pilot, lambda: door(app).gate == "dinner", "the gate chosen")
        assert door(app).list_id == "party"
        assert app.focused is app.screen.query_one("#door-code")
        await wait_until(pilot, lambda: "This gate: Dinner" in said(app, "#door-counts"), "its figures")


async def test_typed_rubbish_is_refused_in_place_and_the_field_is_ready_again(venue: Venue) -> None:
    app = staff_app(venue)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_door(pilot, venue, gate="south")
        await wedge(pilot, "hello ' OR 1=1; ✓ 名前")
        await wait_until(pilot, lambda: said(app, "#door-word") == "✖ REFUSED", "the refusal")
        assert said(app, "#door-reason")
        await wedge(pilot, "x" * 3000)  # longer than any badge: the appliance refuses the request itself
        await wait_until(pilot, lambda: said(app, "#door-word") == "✖ NOT RECORDED", "the refused request")
        assert said(app, "#door-reason") and rows(app)[0][1] == "✖ NOT RECORDED"
        assert not door(app).pending  # a request the appliance refused is not retried for ever
        assert app.focused is app.screen.query_one("#door-code")


async def test_offline_scans_are_kept_and_replayed_once_when_the_appliance_is_back(venue: Venue) -> None:
    """Last in the module: it restarts the module's appliance."""
    person = venue.take()
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_door(pilot, venue, gate="north")
        before = venue.admitted()
        venue.stop()
        try:
            await wedge(pilot, person["badge_code"])
            await wait_until(pilot, lambda: "SAVED" in said(app, "#door-word"), "the saved answer")
            assert said(app, "#door-pending") == "◷ saved, not yet confirmed (1)"
            assert app.link == "down"
            await pilot.press("ctrl+o")  # sign-out must not drop the scan
            await pilot.pause(0.3)
            assert app.current_mode == "door"
            assert door(app).pending and door(app).pending[0].code == person["badge_code"]
        finally:
            venue.start()
        await wait_until(
            pilot, lambda: said(app, "#door-word") == "✔ ADMITTED", "the replayed scan", within=20
        )
        assert not door(app).pending
        assert not app.screen.query_one("#door-pending").display
        assert person["name"] in said(app, "#door-who")
        assert "(saved)" in rows(app)[0][1]
        assert venue.admitted() == before + 1
        await pilot.pause(2.5)  # another retry round must not send it again
        assert venue.admitted() == before + 1
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: app.current_mode == "signin", "the sign-out")
