"""The desk section against a real appliance: search, the record, and each change the desk makes.

Each test drives the TUI as a person does (keys, fields, buttons) and then checks
both what the screen says and what the appliance now holds, through its API.
"""

from __future__ import annotations

import uuid
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, Static

from kiosk_ui.tui.app import StaffApp
from kiosk_ui.tui.desk import DeskScreen
from kiosk_ui.tui.desk_forms import TagForm, WalkInForm
from kiosk_ui.tui.widgets import AskReason, Confirm
from tests.tui.conftest import Venue, sign_in, staff_app, wait_until


def desk(app: StaffApp) -> DeskScreen:
    screen = app.screen_stack[0]
    assert isinstance(screen, DeskScreen)
    return screen


def said(app: StaffApp, selector: str) -> str:
    """The text a Static of the desk shows."""
    return str(desk(app).query_one(selector, Static).content)


def results(app: StaffApp) -> list[str]:
    table = desk(app).query_one("#desk-results", DataTable)
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


async def at_the_desk(pilot: Pilot[Any], venue: Venue, role: str = "desk") -> None:
    """Sign in as ROLE and wait until the desk's widgets are there (the first section shown)."""
    app: StaffApp = pilot.app  # type: ignore[assignment]
    await sign_in(pilot, venue, role)
    await wait_until(pilot, lambda: bool(app.screen_stack[0].query("#desk-search")), "the desk's search box")


async def search(pilot: Pilot[Any], text: str) -> None:
    """Type TEXT in the search box (as a paste: one change) and wait for the answer."""
    app: StaffApp = pilot.app  # type: ignore[assignment]
    box = desk(app).query_one("#desk-search", Input)
    box.focus()
    desk(app).answered = ""
    box.value = text
    await wait_until(pilot, lambda: desk(app).answered == text.strip(), f"the results of {text!r}")


async def open_person(pilot: Pilot[Any], row: dict[str, str]) -> None:
    """Find one attendee by their (unique) order code and wait until their record shows."""
    app: StaffApp = pilot.app  # type: ignore[assignment]
    await search(pilot, row["order_ref"])
    assert results(app) == [row["name"]]
    await wait_until(
        pilot, lambda: row["name"] in said(app, "#d-head") and desk(app).record is not None, "the record"
    )


async def answer_modal(pilot: Pilot[Any], kind: type, value: str | None = None) -> None:
    """Wait for a modal of KIND, type VALUE (AskReason) and press its confirm button."""
    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, kind), f"the {kind.__name__} modal")
    if value is not None:
        app.screen.query_one("#reason", Input).value = value
    await pilot.click("#confirm")
    await wait_until(pilot, lambda: not isinstance(app.screen, kind), f"the {kind.__name__} modal to close")


def take(venue: Venue) -> dict[str, str]:
    """An untouched attendee; never a Lefèvre, whom the search tests find as seeded."""
    return venue.take(where=lambda row: "Lef" not in row["name"])


def tags(venue: Venue, row: dict[str, str]) -> list[str]:
    return list(record(venue, row["attendee_id"])["attendee"]["nfc_uids"])


def record(venue: Venue, attendee_id: str) -> dict[str, Any]:
    answer = venue.desk("GET", f"/api/v1/attendees/{attendee_id}/record")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_search_as_you_type_ignores_diacritics_and_opens_the_record(venue: Venue) -> None:
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await at_the_desk(pilot, venue, "desk")
        await wait_until(pilot, lambda: desk(app).query_one("#desk-search", Input).has_focus, "focus")
        await pilot.press("l")
        await pilot.pause(0.3)
        assert "two letters" in said(app, "#desk-hint")  # one letter: a hint, no search
        await pilot.press("e", "f", "e")
        await wait_until(pilot, lambda: "Ana Lefèvre" in results(app), "Ana Lefèvre in the results")
        assert all("Lef" in name for name in results(app))
        await pilot.press("down")  # into the results
        table = desk(app).query_one("#desk-results", DataTable)
        assert table.has_focus
        table.move_cursor(row=results(app).index("Ana Lefèvre"))
        await wait_until(pilot, lambda: "ana.lefevre50@example.org" in said(app, "#d-head"), "her record")
        head = said(app, "#d-head")
        assert "Brötchen & Bytes GmbH" in head and "ORD-C8E3F" in head and "✔ valid" in head
        assert "No check-ins on any device yet." in said(app, "#d-none")
        assert desk(app).selected == "a000051"


async def test_a_broad_search_says_how_many_match_and_asks_for_more(venue: Venue) -> None:
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await at_the_desk(pilot, venue, "desk")
        await search(pilot, "ord")  # every order code: more than the table's 50
        matches = venue.desk("GET", "/api/v1/attendees", params={"q": "ord", "limit": 50}).json()["matches"]
        assert matches > 50
        assert said(app, "#desk-hint") == f"50 of {matches:,} matches shown: type more to narrow them."
        assert len(results(app)) == 50


async def test_odd_characters_are_searched_or_refused_never_a_crash(venue: Venue) -> None:
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await at_the_desk(pilot, venue, "desk")
        odd = ("%*", "'; DROP TABLE attendee; --", '"Ana"', "😀🎉", "مرحبا بكم", "[bold]x[/]", "a\\b", "田")
        for text in odd:
            await search(pilot, text)
            hint = said(app, "#desk-hint")
            assert "No one matches" in hint or "✖" in hint or "found" in hint, hint
            if "No one matches" in hint:
                assert text in hint  # told back as typed, never read as markup
        await search(pilot, "%*")
        assert "✖ type at least 2 letters" in said(app, "#desk-hint")  # the API's refusal, in place
        await search(pilot, "lefèvre")
        assert "Ana Lefèvre" in results(app)


async def test_a_walk_in_is_registered_and_their_badge_printed(venue: Venue) -> None:
    name = f"Zoë Walkin {uuid.uuid4().hex[:6]}"
    printed = len(venue.badge_jobs())
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await at_the_desk(pilot, venue, "desk")
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: isinstance(app.screen, WalkInForm), "the walk-in form")
        form = app.screen
        form.query_one("#wi-name", Input).value = name
        form.query_one("#wi-company", Input).value = "Walk-in Ltd"
        form.query_one("#wi-email", Input).value = "zoe@example.org"
        form.query_one("#wi-ticket_type_id", Select).value = "day"
        await pilot.click("#confirm")
        await wait_until(pilot, lambda: not isinstance(app.screen, WalkInForm), "the form to close")
        found = venue.desk("GET", "/api/v1/attendees", params={"q": name}).json()["attendees"]
        assert [(p["name"], p["company"], p["ticket_type_id"]) for p in found] == [
            (name, "Walk-in Ltd", "day")
        ]
        await wait_until(pilot, lambda: len(venue.badge_jobs()) > printed, "the badge on the printer")
        await wait_until(pilot, lambda: "✔ printed" in said(app, "#d-prints"), "the print told as done")
        assert desk(app).selected == found[0]["id"]
        await wait_until(pilot, lambda: results(app) == [name], "the walk-in found by name")
        assert f"Registered {name}" in said(app, "#d-status") or "Badge" in said(app, "#d-status")


async def test_an_invalid_walk_in_is_told_beside_its_fields_and_nothing_typed_is_lost(venue: Venue) -> None:
    used = venue.take(where=lambda r: bool(r["nfc_uid"]))
    app = staff_app(venue)
    async with app.run_test(size=(80, 24)) as pilot:
        await at_the_desk(pilot, venue, "desk")
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: isinstance(app.screen, WalkInForm), "the walk-in form")
        form = app.screen
        form.query_one("#wi-company", Input).value = "Nameless GmbH"
        form.query_one("#wi-email", Input).value = "not-an-email"
        await pilot.click("#confirm")
        await pilot.pause(0.2)
        assert isinstance(app.screen, WalkInForm)
        assert "needs a name" in str(form.query_one("#wi-name-error", Static).content)
        assert "Not an e-mail" in str(form.query_one("#wi-email-error", Static).content)
        assert "Choose a ticket type" in str(form.query_one("#wi-ticket_type_id-error", Static).content)
        assert form.query_one("#wi-name", Input).has_focus
        assert form.query_one("#wi-company", Input).value == "Nameless GmbH"
        # fixed here, but the appliance refuses the tag: its sentence is shown, the form kept
        form.query_one("#wi-name", Input).value = "Refused Tagholder"
        form.query_one("#wi-email", Input).value = "ok@example.org"
        form.query_one("#wi-ticket_type_id", Select).value = "full"
        form.query_one("#wi-nfc_uid", Input).value = used["nfc_uid"].lower()
        await pilot.click("#confirm")
        await wait_until(
            pilot, lambda: "already belongs" in str(form.query_one("#wi-error", Static).content), "refusal"
        )
        assert isinstance(app.screen, WalkInForm)
        assert not str(form.query_one("#wi-name-error", Static).content)
        assert form.query_one("#wi-name", Input).value == "Refused Tagholder"
        found = venue.desk("GET", "/api/v1/attendees", params={"q": "Refused Tagholder"}).json()
        assert found["count"] == 0
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, DeskScreen), "the desk again")


async def test_a_reprint_with_a_reason_makes_a_new_job_on_the_printer(venue: Venue) -> None:
    row = take(venue)
    first = venue.desk("POST", "/api/v1/print-jobs", json={"attendee_id": row["attendee_id"]})
    assert first.status_code == 202, first.text
    await_done = lambda: [j["status"] for j in venue.jobs_of(row["attendee_id"])] == ["done"]  # noqa: E731
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, await_done, "the first badge")
        printed = len(venue.badge_jobs())
        await at_the_desk(pilot, venue, "desk")
        await open_person(pilot, row)
        await wait_until(
            pilot, lambda: "✔ printed" in said(app, "#d-prints"), "the first print in the record"
        )
        await pilot.press("ctrl+r")
        await answer_modal(pilot, AskReason, "coffee on it")
        await wait_until(pilot, lambda: len(venue.badge_jobs()) > printed, "the reprint on the printer")
        jobs = venue.jobs_of(row["attendee_id"])
        assert len(jobs) == 2
        reprint = next(j for j in jobs if j["kind"] == "reprint")
        assert reprint["reprint_of"] == first.json()["id"]
        assert record(venue, row["attendee_id"])["prints"][0]["reason"] == "coffee on it"
        await wait_until(
            pilot, lambda: "reprint: coffee on it" in said(app, "#d-prints"), "the reprint shown"
        )


async def test_a_name_is_corrected_on_the_appliance(venue: Venue) -> None:
    row = take(venue)
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await at_the_desk(pilot, venue, "desk")
        await open_person(pilot, row)
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: isinstance(app.screen, AskReason), "the name form")
        assert app.screen.query_one("#reason", Input).value == row["name"]  # the current value to edit
        await answer_modal(pilot, AskReason, "Corrected Ñame")
        await wait_until(
            pilot, lambda: venue.attendee(row["attendee_id"])["name"] == "Corrected Ñame", "new name"
        )
        await wait_until(
            pilot, lambda: "Corrected Ñame" in said(app, "#d-head"), "the new name in the record"
        )
        assert "name → Corrected Ñame" in said(app, "#d-more")


async def test_a_check_in_is_annulled_after_a_confirmation(venue: Venue) -> None:
    row = take(venue)
    assert venue.door_says(row["badge_code"])["result"] == "admitted"
    admitted = venue.admitted()
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await at_the_desk(pilot, venue, "desk")
        await open_person(pilot, row)
        table = desk(app).query_one("#d-checkins", DataTable)
        await wait_until(pilot, lambda: table.row_count == 1, "the check-in in the record")
        assert "✔ admitted" in str(table.get_row_at(0)[1])
        await pilot.press("ctrl+y")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm), "the confirmation")
        await pilot.press("escape")  # cancelled: nothing happens
        await pilot.pause(0.2)
        assert venue.admitted() == admitted
        await pilot.press("ctrl+y")
        await answer_modal(pilot, Confirm)
        await wait_until(pilot, lambda: venue.admitted() == admitted - 1, "the admitted count to go down")
        await wait_until(pilot, lambda: "↩ annulled" in str(table.get_row_at(0)[1]), "the annulment shown")
        assert record(venue, row["attendee_id"])["checkins"][0]["annulled"] is True
        # twice is refused by the appliance, and told in place
        await pilot.press("ctrl+y")
        await answer_modal(pilot, Confirm)
        await wait_until(pilot, lambda: "✖ Annul" in said(app, "#d-status"), "the refusal")


async def test_revoke_is_not_offered_to_the_desk_and_works_for_an_organizer(venue: Venue) -> None:
    row = take(venue)
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await at_the_desk(pilot, venue, "desk")
        await open_person(pilot, row)
        keys = {b.binding.id for b in desk(app).active_bindings.values()}
        assert "desk.reprint" in keys and "desk.revoke" not in keys
        await pilot.press("ctrl+b")
        await pilot.pause(0.2)
        assert isinstance(app.screen, DeskScreen)
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await at_the_desk(pilot, venue, "organizer")
        await open_person(pilot, row)
        assert "desk.revoke" in {b.binding.id for b in desk(app).active_bindings.values()}
        await pilot.press("ctrl+b")
        await answer_modal(pilot, AskReason, "badge reported stolen")
        await answer_modal(pilot, Confirm)
        await wait_until(pilot, lambda: "✖ Revoked" in said(app, "#d-more"), "the revocation in the record")
        assert "badge reported stolen" in said(app, "#d-more")
    assert venue.door_says(row["badge_code"])["result"] != "admitted"


async def test_an_nfc_tag_is_linked_by_typing_its_uid_and_moved_after_asking(venue: Venue) -> None:
    first, second = take(venue), take(venue)
    uid = uuid.uuid4().hex[:14].upper()
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await at_the_desk(pilot, venue, "desk")
        await open_person(pilot, first)
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: isinstance(app.screen, TagForm), "the tag form")
        box = app.screen.query_one("#tag-uid", Input)
        await pilot.pause(0.5)  # the form listens to the desk reader: the appliance accepts the topic
        assert "Waiting for a tap" in str(app.screen.query_one("#tag-reader", Static).content)
        box.value = "not hex!"
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert "hex" in str(app.screen.query_one("#tag-error", Static).content)
        box.value = ":".join(uid[i : i + 2] for i in range(0, len(uid), 2)).lower()  # as a reader prints it
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: uid in record(venue, first["attendee_id"])["attendee"]["nfc_uids"], "tag"
        )
        await wait_until(pilot, lambda: uid in said(app, "#d-head"), "the tag in the record")
        await open_person(pilot, second)
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: isinstance(app.screen, TagForm), "the tag form")
        app.screen.query_one("#tag-uid", Input).value = uid
        await pilot.press("enter")
        await answer_modal(pilot, Confirm)  # it belongs to the first: move it?
        await wait_until(
            pilot, lambda: uid in record(venue, second["attendee_id"])["attendee"]["nfc_uids"], "moved"
        )
        assert uid not in tags(venue, first)


async def test_a_printer_fault_is_told_with_its_reason_and_the_badge_prints_when_it_is_back(
    venue: Venue,
) -> None:
    row = take(venue)
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await at_the_desk(pilot, venue, "desk")
        await open_person(pilot, row)
        venue.printer_off()
        try:
            await pilot.press("ctrl+r")  # no badge yet: a first print
            await answer_modal(pilot, AskReason, "never got one")
            told = lambda: "waiting to print: " in said(app, "#d-status")  # noqa: E731
            await wait_until(pilot, told, "the printer's reason", 20)
            assert [j["status"] for j in venue.jobs_of(row["attendee_id"])] == ["queued"]
        finally:
            venue.printer_on()
        await wait_until(pilot, lambda: "✔ printed" in said(app, "#d-status"), "the badge printed", 40)
        await wait_until(pilot, lambda: "✔ printed" in said(app, "#d-prints"), "the record re-read")


async def test_the_desk_keeps_what_it_shows_while_the_appliance_restarts(venue: Venue) -> None:
    app = staff_app(venue)
    async with app.run_test(size=(120, 40)) as pilot:
        await at_the_desk(pilot, venue, "desk")
        await search(pilot, "lefe")
        shown = results(app)
        assert "Ana Lefèvre" in shown
        venue.stop()
        try:
            box = desk(app).query_one("#desk-search", Input)
            box.value = "lefèv"
            await wait_until(
                pilot, lambda: "does not answer" in said(app, "#desk-hint"), "the fault told", 20
            )
            assert str(app.link) == "down"
            assert results(app) == shown  # the last results stay on screen
        finally:
            venue.start()
        await wait_until(pilot, lambda: app.link == "up", "the link back", 20)
        await wait_until(pilot, lambda: desk(app).answered == "lefèv", "the search asked again", 20)
        assert "Ana Lefèvre" in results(app)


async def test_desk_actions_are_in_the_command_palette_and_keys_can_be_rebound(venue: Venue) -> None:
    app = staff_app(venue, keymap={"desk.walk_in": "f9"})
    async with app.run_test(size=(120, 40)) as pilot:
        await at_the_desk(pilot, venue, "desk")
        await pilot.press("f9")  # rebound through Textual's keymap, by the binding's id
        await wait_until(pilot, lambda: isinstance(app.screen, WalkInForm), "the walk-in form on F9")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, DeskScreen), "the desk again")
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: bool(app.screen.query("CommandInput")), "the command palette")
        await pilot.press(*"walk-in")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, WalkInForm), "the form from the palette")


async def test_a_walk_in_typed_while_the_appliance_restarts_is_kept_and_sent_when_it_is_back(
    venue: Venue,
) -> None:
    name = f"Restart Walkin {uuid.uuid4().hex[:6]}"
    app = staff_app(venue)
    async with app.run_test(size=(80, 24)) as pilot:
        await at_the_desk(pilot, venue, "desk")
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: isinstance(app.screen, WalkInForm), "the walk-in form")
        form = app.screen
        form.query_one("#wi-name", Input).value = name
        form.query_one("#wi-ticket_type_id", Select).value = "expo"
        await pilot.press("ctrl+o")  # sign-out would drop what is typed: refused
        await pilot.pause(0.2)
        assert app.current_mode == "desk" and app.screen is form
        venue.stop()
        try:
            await pilot.click("#confirm")
            message = form.query_one("#wi-error", Static)
            await wait_until(pilot, lambda: "does not answer" in str(message.content), "the fault told", 20)
            assert app.screen is form and form.query_one("#wi-name", Input).value == name
        finally:
            venue.start()
        await wait_until(pilot, lambda: app.link == "up", "the link back", 20)
        await pilot.click("#confirm")
        await wait_until(pilot, lambda: not isinstance(app.screen, WalkInForm), "the form to close", 20)
        found = venue.desk("GET", "/api/v1/attendees", params={"q": name}).json()["attendees"]
        assert [(p["name"], p["ticket_type_id"]) for p in found] == [(name, "expo")]
