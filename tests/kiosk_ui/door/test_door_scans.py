"""Scanning at the door in real Chromium against a real appliance: the three answers, annul, the
camera (Chromium's fake capture device playing a ``.y4m`` of a badge QR) and the gate's counts
following the live feed when another device scans at the same gate."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from playwright.sync_api import expect

from tests.browser import CHROMIUM
from tests.kiosk_ui.conftest import Venue
from tests.kiosk_ui.door.conftest import PHONE, counts, door_page, result, scan_by_desk, wedge
from tests.kiosk_ui.qr_video import badge_video, camera_args

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright


def test_a_valid_badge_is_green_with_the_name_and_ticket_and_counts_on_the_api(
    venue: Venue, browser: Browser
) -> None:
    context = browser.new_context(viewport=PHONE)
    page = door_page(context, venue)
    row = venue.take()
    before = venue.admitted()
    wedge(page, row["badge_code"])
    answer = result(page)
    expect(answer).to_be_visible()
    expect(answer).to_have_attribute("data-kind", "admitted")
    expect(answer.locator("[data-result-word]")).to_have_text("Admitted")
    expect(answer.locator("[data-result-symbol]")).to_have_text("✔")
    expect(answer.locator("[data-result-name]")).to_have_text(row["name"])
    expect(answer.locator("[data-result-ticket]")).to_have_text("Full pass")
    assert venue.admitted() == before + 1
    assert venue.door_says(row["badge_code"])["first_admitted"]["gate"] == "south"
    # the answer goes by itself (the next person is scanned without touching the screen)
    expect(answer).to_be_hidden(timeout=6000)
    expect(page.locator("[data-last-text]")).to_have_text(f"Last admitted: {row['name']}")
    context.close()


def test_a_refused_badge_is_red_with_the_doors_sentence(venue: Venue, browser: Browser) -> None:
    context = browser.new_context(viewport=PHONE)
    page = door_page(context, venue)
    wedge(page, venue.foreign_badge)
    answer = result(page)
    expect(answer).to_have_attribute("data-kind", "refused")
    expect(answer.locator("[data-result-word]")).to_have_text("Refused")
    expect(answer.locator("[data-result-symbol]")).to_have_text("✖")
    expect(answer.locator("[data-result-reason]")).not_to_be_empty()
    expect(answer.get_by_role("button", name="Annul")).to_be_hidden()
    page.get_by_role("button", name="Next").click()
    expect(answer).to_be_hidden()
    # the same badge twice: the second is refused, and says the person is in already
    row = venue.take()
    wedge(page, row["badge_code"])
    expect(answer).to_have_attribute("data-kind", "admitted")
    page.get_by_role("button", name="Next").click()
    wedge(page, row["badge_code"])
    expect(answer).to_have_attribute("data-kind", "refused")
    expect(answer.locator("[data-result-name]")).to_have_text(row["name"])
    context.close()


def test_a_re_entry_after_an_exit_is_yellow_with_a_note(venue: Venue, browser: Browser) -> None:
    context = browser.new_context(viewport=PHONE)
    page = door_page(context, venue)
    row = venue.take()
    wedge(page, row["badge_code"])
    answer = result(page)
    expect(answer).to_have_attribute("data-kind", "admitted")
    page.get_by_role("button", name="Next").click()
    left = venue.desk(
        "POST",
        "/api/v1/scans",
        json={"code": row["badge_code"], "gate": "south", "nonce": uuid.uuid4().hex, "direction": "exit"},
    )
    assert left.json()["result"] == "admitted"
    wedge(page, row["badge_code"])
    expect(answer).to_have_attribute("data-kind", "note")
    expect(answer.locator("[data-result-word]")).to_have_text("Admitted – note")  # noqa: RUF001
    expect(answer.locator("[data-result-symbol]")).to_have_text("!")
    expect(answer.locator("[data-result-note]")).to_contain_text("Came in before at")
    expect(answer.locator("[data-result-note]")).to_contain_text("a re-entry")
    context.close()


def test_annul_undoes_the_last_admission_on_the_appliance(venue: Venue, browser: Browser) -> None:
    context = browser.new_context(viewport=PHONE)
    page = door_page(context, venue)
    row = venue.take()
    before = venue.admitted()
    wedge(page, row["badge_code"])
    answer = result(page)
    expect(answer).to_have_attribute("data-kind", "admitted")
    assert venue.admitted() == before + 1
    answer.get_by_role("button", name="Annul").click()
    expect(answer).to_have_attribute("data-kind", "annulled")
    expect(answer.locator("[data-result-reason]")).to_have_text(
        f"{row['name']}'s admission no longer counts."
    )
    assert venue.admitted() == before
    expect(page.locator("[data-last]")).to_be_hidden()
    # the person may come in again: the annulled scan does not count as "already admitted"
    assert venue.door_says(row["badge_code"])["result"] == "admitted"
    context.close()


def test_the_gate_counts_follow_another_device_scanning_at_the_same_gate(
    venue: Venue, browser: Browser
) -> None:
    context = browser.new_context(viewport=PHONE)
    page = door_page(context, venue, gate="North entrance")
    admitted = page.locator('[data-count="admitted"]')
    refused = page.locator('[data-count="refused"]')
    start = counts(venue, "north")
    expect(admitted).to_have_text(str(start["admitted"]))
    page.wait_for_timeout(500)  # the page's feed is open (it re-reads the counts when it connects)
    scan_by_desk(venue, venue.take()["badge_code"], "north")
    expect(admitted).to_have_text(str(start["admitted"] + 1), timeout=5000)
    scan_by_desk(venue, venue.foreign_badge, "north")
    expect(refused).to_have_text(str(start["refused"] + 1), timeout=5000)
    expect(page.locator("[data-refusals]")).to_contain_text(": 1")
    # a scan at another gate is not this gate's
    scan_by_desk(venue, venue.take()["badge_code"], "south")
    page.wait_for_timeout(1000)
    expect(admitted).to_have_text(str(start["admitted"] + 1))
    context.close()


def test_the_camera_reads_a_badge_held_up_to_it_and_the_door_admits_it(
    venue: Venue, driver: Playwright, tmp_path: Path
) -> None:
    row = venue.take()
    video = badge_video(tmp_path / "badge.y4m", row["badge_code"], lead_in=5, showing=40)
    camera = driver.chromium.launch(executable_path=str(CHROMIUM), args=camera_args(video))
    try:
        context = camera.new_context(viewport=PHONE)
        page = door_page(context, venue)
        before = venue.admitted()
        page.get_by_role("button", name="Use the camera").click()
        answer = result(page)
        expect(answer).to_have_attribute("data-kind", "admitted", timeout=20_000)
        expect(answer.locator("[data-result-name]")).to_have_text(row["name"])
        assert venue.admitted() == before + 1
        assert venue.door_says(row["badge_code"])["first_admitted"]["gate"] == "south"
        # the badge stays in view (the video loops): it is one scan, not a stream of refusals
        page.wait_for_timeout(3000)
        expect(answer).not_to_have_attribute("data-kind", "refused")
        assert venue.admitted() == before + 1
        page.get_by_role("button", name="Stop the camera").click()
        context.close()
    finally:
        camera.close()
