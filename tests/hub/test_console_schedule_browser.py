"""An organizer builds a schedule and decides grassroots proposals in the console, in a real browser.

Real processes only: ``konferenco hub serve`` on PostgreSQL, headless Debian
Chromium driven by Playwright, proposals arriving the way a kiosk sends them
(a ``Proposal`` in its device log, synced over ``/sync``).  The organizer
adds a room and a session through the forms (one of them with the keyboard
alone), books a room twice and approves the overlap, previews and imports a
pretalx export, saves the settings, approves a proposal with a suggested
slot (it shows in the grid and as a child event on the dashboard) and
rejects one, which needs a reason.  Every page is held to WCAG 2.2 AA with
axe-core, and one walk through all of them with the real Content-Security-
Policy enforced must log no script error and no violation.

Screenshots go to pytest's ``tmp_path``; with ``KONFERENCO_SCREENSHOTS=docs/screenshots``
they are copied there as well (``schedule-*.png``, ``proposals-*.png``)::

    KONFERENCO_SCREENSHOTS=docs/screenshots .venv/bin/python -m pytest -q -p no:cacheprovider \\
        tests/hub/test_console_schedule_browser.py
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from pycrdt import Doc

from konferenco.schedule.model import MINUTE, Session, at_local
from sync.documents import ControlDoc
from sync.names import DocName
from sync.records import Decision, Proposal
from tests.browser import chromium, wcag_violations
from tests.helpers import HubProcess, konferenco
from tests.hub.api_support import (
    PASSWORD,
    Device,
    Org,
    api_token,
    enrol_device,
    sql,
    unique,
)
from tests.hub.test_console_schedule import named_device, push_proposals, query, sync_into
from tests.hub.test_organizer_views import attendee_id

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.slow

SCREENSHOTS_ENV = "KONFERENCO_SCREENSHOTS"
EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "schedule-formats" / "examples"
PRETALX = EXAMPLES / "pretalx-democon.json"
TZ = "Europe/Berlin"
BERLIN = ZoneInfo(TZ)
DAY1, DAY2 = "2026-06-01", "2026-06-02"
EMPTY_STATE_VECTOR = b"\x00"
ROSTER = (
    "external_ref,name,company,ticket_type\n"
    "T-1,Lucía Núñez,Universidad de Sevilla,general\n"
    "T-2,Jürgen Müller,Müller & Söhne GmbH,general\n"
    "T-3,Priya Raghunathan,Infosys,general\n"
    "T-4,Ngozi Okonjo,Lagos Fintech,general\n"
)


def at(day: str, clock: str) -> int:
    return at_local(day, clock, BERLIN)


# --- set-up through the API and the sync protocol (what a kiosk does) -------------------------


@dataclass(frozen=True)
class Festival:
    org: Org
    event: str  # rooms, a few sessions, grassroots on: the proposals event
    democon: str  # empty, UTC, the pretalx example's three days
    blank: str  # empty, for the forms
    kiosk: Device
    organizer_box: Device
    people: dict[str, str]


def api(http: httpx.Client, org: Org, method: str, path: str, body: Any = None) -> Any:
    response = http.request(method, path, json=body, headers=org.auth)
    assert response.status_code < 300, (method, path, response.text)
    return response.json() if response.content else None


def dated_event(http: httpx.Client, org: Org, name: str, tz: str, first: str, last: str) -> str:
    zone = ZoneInfo(tz)
    body = {
        "name": name,
        "timezone": tz,
        "starts_at": at_local(first, "00:00", zone),
        "ends_at": at_local(last, "24:00", zone) - 1,
    }
    return str(api(http, org, "POST", "/api/v1/events", body)["id"])


def offline_approval(
    hub: HubProcess, event: str, box: Device, proposal_id: str, room: str, start: int
) -> None:
    """An organizer appliance, cut off from the hub, approved a proposal too; it syncs now."""
    doc: Doc[Any] = Doc()
    control = ControlDoc(doc)
    decision_id = f"box-{secrets.token_hex(6)}"
    session = Session(
        id=f"gr-{decision_id}", title="Rust meetup (second table)", room_id=room, starts_at=start,
        ends_at=start + 60 * MINUTE, grassroots=True, proposal_id=proposal_id, decision_id=decision_id,
        host_name="Jürgen Müller",
    )  # fmt: skip
    control.put_session(session)
    control.append(
        Decision(
            id=decision_id,
            proposal_id=proposal_id,
            decision="scheduled",
            by="staff-kim",
            session_id=session.id,
            room_id=room,
            starts_at=start,
            ends_at=session.ends_at,
        )
    )
    sync_into(
        hub,
        box,
        DocName.control(event),
        doc.get_update(),
        lambda: query(hub, "SELECT 1 FROM schedule_decision WHERE id = $1", decision_id),
        "the appliance's decision",
    )


@pytest.fixture(scope="module")
def festival(hub: HubProcess, http: httpx.Client) -> Festival:
    slug = unique("nordlicht")
    email = f"owner@{slug}.example"
    konferenco(
        "hub", "create-organization", "--database-url", hub.database_url, "--name", "Nordlicht Konferenzen",
        "--slug", slug, "--tier", "professional", "--owner-email", email, "--owner-password", PASSWORD,
    )  # fmt: skip
    org_id = str(sql(hub.database_url, "SELECT id FROM organization WHERE slug = $1", slug)[0]["id"])
    org = Org(slug, org_id, email, api_token(http, email, slug))
    event = dated_event(http, org, "Nordlicht Summit 2026", TZ, DAY1, DAY2)
    imported = http.post(
        f"/api/v1/events/{event}/attendees/import", content=ROSTER.encode(), headers=org.auth
    )
    assert imported.status_code == 200, imported.text
    hours = [{"day": d, "opens": "09:00", "closes": "18:00"} for d in (DAY1, DAY2)]
    rooms = {
        "hall-a": {"name": "Hall A", "capacity": 300, "area": "Ground floor", "buffer_min": 10, "position": 1,
                   "features": ["projector", "stream"], "hours": hours},
        "hall-b": {"name": "Hall B", "capacity": 120, "area": "First floor", "buffer_min": 5, "position": 2,
                   "features": ["projector"], "hours": hours},
        "lab": {"name": "Open Lab", "capacity": 40, "area": "Basement", "grassroots": True, "position": 3,
                "hours": hours, "accessibility": "Lift from the foyer"},
        "garden": {"name": "Garden tent", "capacity": 25, "grassroots": True, "position": 4, "hours": hours},
    }  # fmt: skip
    for room_id, body in rooms.items():
        api(http, org, "PUT", f"/api/v1/events/{event}/rooms/{room_id}", body)
    talks = [
        ("Opening keynote", "hall-a", "09:00", 60, ["Lucía Núñez"]),
        ("Offline-first at the door", "hall-a", "10:15", 45, ["Priya Raghunathan"]),
        ("CRDTs in practice", "hall-b", "10:00", 45, ["Jürgen Müller"]),
        ("Lunch", "hall-a", "12:00", 60, []),
        ("Badges that print themselves", "hall-b", "13:30", 30, ["Ngozi Okonjo"]),
        ("Closing panel", "hall-a", "16:30", 60, ["Lucía Núñez", "Priya Raghunathan"]),
    ]
    for title, room, start, minutes, speakers in talks:
        api(
            http, org, "POST", f"/api/v1/events/{event}/sessions",
            {"title": title, "room_id": room, "starts_at": at(DAY1, start),
             "ends_at": at(DAY1, start) + minutes * MINUTE, "speakers": speakers, "type": "talk"},
        )  # fmt: skip
    settings = api(http, org, "GET", f"/api/v1/events/{event}/schedule/settings")
    settings = settings.get("settings", settings)
    settings["grassroots"] = {**settings.get("grassroots", {}), "enabled": True, "min_minutes": 15,
                              "max_minutes": 120}  # fmt: skip
    api(http, org, "PUT", f"/api/v1/events/{event}/schedule/settings", settings)
    kiosk = named_device(http, org, event, "Foyer kiosk", "kiosk")
    box = enrol_device(http, org, event, ("organizer",))
    people = {n: attendee_id(hub, event, n) for n in ("Jürgen Müller", "Ngozi Okonjo", "Priya Raghunathan")}
    democon = dated_event(http, org, "DemoCon", "UTC", "2020-12-14", "2020-12-16")
    blank = dated_event(http, org, "Workshop day", TZ, DAY1, DAY1)
    return Festival(org, event, democon, blank, kiosk, box, people)


@pytest.fixture(scope="module")
def browser(festival: Festival) -> Iterator[Browser]:
    """Chromium, started after the set-up: Playwright's sync API runs an event loop in this thread."""
    with chromium() as browser:
        yield browser


def sign_in(page: Page, hub: HubProcess, org: Org) -> None:
    from playwright.sync_api import expect

    page.goto(f"{hub.url}/console/login")
    page.get_by_label("E-mail").fill(org.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{hub.url}/console/{org.slug}")


@pytest.fixture
def page(hub: HubProcess, festival: Festival, browser: Browser) -> Iterator[Page]:
    """Signed in as the owner, light mode, 1280x900; script errors fail the test."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, color_scheme="light", locale="en-GB", bypass_csp=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    sign_in(page, hub, festival.org)
    try:
        yield page
    finally:
        context.close()
    # The refusals the tests provoke on purpose arrive as 409/422 answers; nothing else may be logged.
    expected = tuple(
        f"Failed to load resource: the server responded with a status of {s}" for s in (409, 422)
    )
    assert [e for e in errors if not e.startswith(expected)] == [], errors


def accessible(page: Page, name: str) -> None:
    assert wcag_violations(page) == [], name


def screenshot(page: Page, tmp_path: Path, name: str) -> Path:
    """A full-page PNG (after the WCAG check) in ``tmp_path``, copied to ``$KONFERENCO_SCREENSHOTS``."""
    accessible(page, name)
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
    assert path.stat().st_size > 10_000, "an almost empty image"
    if target := os.environ.get(SCREENSHOTS_ENV):
        directory = Path(target)
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, directory / name)
    return path


def event_url(hub: HubProcess, festival: Festival, event: str) -> str:
    return f"{hub.url}/console/{festival.org.slug}/events/{event}"


# --- the tests ----------------------------------------------------------------------------------


def test_an_organizer_adds_a_room_and_sessions_and_approves_an_overlap(
    hub: HubProcess, festival: Festival, page: Page, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page.goto(event_url(hub, festival, festival.blank))
    page.get_by_role("link", name="Schedule", exact=True).click()
    expect(page.get_by_test_id("findings-count")).to_have_text("0")
    expect(page.get_by_text("No rooms yet.")).to_be_visible()
    accessible(page, "empty schedule")

    # A room through its form, with the keyboard alone: Tab from field to field, Space on boxes.
    page.get_by_role("navigation", name="Schedule sections").get_by_role("link", name="Rooms").click()
    accessible(page, "rooms page")
    page.get_by_label("Name", exact=True).focus()
    page.keyboard.type("Hall A")
    page.keyboard.press("Tab")  # Id: derived from the name
    page.keyboard.press("Tab")
    page.keyboard.type("80")  # Seats
    page.keyboard.press("Tab")
    page.keyboard.type("Ground floor")
    page.keyboard.press("Tab")
    page.keyboard.press("Control+a")
    page.keyboard.type("10")  # Changeover
    focused = page.evaluate("document.activeElement.name")
    assert focused == "buffer_min", focused
    for _ in range(40):  # on through accessibility, features, hours: the button is reachable
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Add room":
            break
    else:
        pytest.fail("the Add room button cannot be reached with Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("done")).to_have_text("Room saved.")
    expect(page.get_by_test_id("grid-room")).to_contain_text(["Hall A"])
    expect(page.get_by_test_id("grid-room").first).to_contain_text("80 seats")

    # A session through the form, in Berlin time.
    page.get_by_test_id("add-session").click()
    accessible(page, "new session form")
    page.get_by_label("Title").fill("Opening keynote")
    page.get_by_label(re.compile(r"^Room")).select_option(label="Hall A (80 seats)")
    page.get_by_label("Start").fill(f"{DAY1}T09:00")
    page.get_by_label("Duration").fill("60")
    page.get_by_label("Expected attendance").fill("70")
    page.get_by_label("Speakers").fill("Lucía Núñez\nGrace Hopper")
    page.get_by_role("button", name="Add session").click()
    expect(page.get_by_test_id("saved")).to_contain_text(
        "Saved “Opening keynote”: Mon 01 Jun 09:00\N{EN DASH}10:00, Hall A."
    )
    cell = page.get_by_test_id("grid-session").filter(has_text="Opening keynote")
    expect(cell).to_contain_text("09:00\N{EN DASH}10:00")
    expect(cell).to_contain_text("Lucía Núñez, Grace Hopper")

    # The same room at 09:30: the rule's sentence, and the explicit approval of the overlap.
    page.get_by_test_id("add-session").click()
    page.get_by_label("Title").fill("Press briefing")
    page.get_by_label(re.compile(r"^Room")).select_option(label="Hall A (80 seats)")
    page.get_by_label("Start").fill(f"{DAY1}T09:30")
    page.get_by_label("Duration").fill("30")
    page.get_by_role("button", name="Add session").click()
    refusal = page.get_by_test_id("refusal")
    expect(refusal).to_contain_text("Not saved: the schedule's rules refuse this change.")
    expect(refusal).to_contain_text(
        "Hall A is booked twice: “Press briefing” (Mon 01 Jun 09:30\N{EN DASH}10:00) and "
        "“Opening keynote” (Mon 01 Jun 09:00\N{EN DASH}10:00)."
    )
    expect(page.get_by_label("Title")).to_have_value("Press briefing")  # nothing typed is lost
    screenshot(page, tmp_path, "schedule-session-overlap.png")
    reason = page.get_by_label("Approve the overlap")
    expect(reason).to_be_visible()
    page.get_by_role("button", name="Save with the approved overlap").click()
    assert page.evaluate("document.activeElement.name") == "overlap_reason"  # required: the browser asks
    reason.fill("The press sits at the back of the keynote")
    page.get_by_role("button", name="Save with the approved overlap").click()
    expect(page.get_by_test_id("saved")).to_contain_text("Saved “Press briefing”")
    expect(page.get_by_test_id("saved-warnings")).to_contain_text(
        "Overlap approved by " + festival.org.email + ": The press sits at the back of the keynote"
    )
    # Side by side in Hall A's two lanes; the finding is listed above the grid as a warning.
    expect(page.get_by_test_id("grid-session")).to_have_count(2)
    expect(page.locator('[data-testid="grid-room"][colspan="2"]')).to_have_count(1)
    expect(page.get_by_test_id("finding")).to_have_count(1)
    expect(page.locator('[data-testid="finding"][data-severity="warn"]')).to_contain_text("booked twice")

    # Cancel the press briefing: it leaves the grid and is listed below it.
    page.get_by_test_id("grid-session").filter(has_text="Press briefing").get_by_role("link").click()
    expect(page.get_by_test_id("overlap-note")).to_contain_text("The press sits at the back of the keynote")
    expect(page.get_by_label("Title")).to_have_value("Press briefing")
    accessible(page, "session edit page")
    page.get_by_role("button", name="Cancel session").click()
    expect(page.get_by_test_id("done")).to_contain_text("Session cancelled")
    expect(page.get_by_test_id("grid-session")).to_have_count(1)
    expect(page.get_by_test_id("unplaced")).to_contain_text("Press briefing")
    expect(page.get_by_test_id("findings-count")).to_have_text("0")

    # The room's own page: its form filled in, the sessions that keep it from being removed.
    page.get_by_test_id("grid-room").get_by_role("link", name="Hall A").click()
    expect(page.get_by_label("Name", exact=True)).to_have_value("Hall A")
    expect(page.get_by_label("Seats")).to_have_value("80")
    expect(page.get_by_text("1 scheduled session uses this room")).to_be_visible()
    screenshot(page, tmp_path, "schedule-room.png")
    page.get_by_role("button", name="Remove room").click()
    expect(page.get_by_test_id("refusal")).to_contain_text("1 scheduled session(s) use this room")


def test_a_pretalx_export_is_previewed_then_imported_into_the_grid(
    hub: HubProcess, festival: Festival, page: Page, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    raw = json.loads(PRETALX.read_text())
    per_day = {
        day["date"]: sum(len(talks) for talks in day["rooms"].values())
        for day in raw["schedule"]["conference"]["days"]
    }
    total = sum(per_day.values())
    page.goto(f"{event_url(hub, festival, festival.democon)}/schedule/import")
    accessible(page, "import page")

    # A file that is not a schedule: refused, with where and why, and nothing imported.
    page.get_by_label("Schedule file").set_input_files(
        {"name": "notes.json", "mimeType": "application/json", "buffer": b'{"schedule": {"version": 3}}'}
    )
    page.get_by_role("button", name="Preview import").click()
    expect(page.get_by_test_id("schedule-import-refused")).to_contain_text(
        "notes.json was refused; nothing was imported."
    )
    accessible(page, "refused schedule file")

    # The real export: a preview first (nothing written), then the confirmation.
    page.get_by_label("Schedule file").set_input_files(str(PRETALX))
    page.get_by_role("button", name="Preview import").click()
    preview = page.get_by_test_id("schedule-import-preview")
    expect(preview).to_contain_text("Preview of pretalx-democon.json: nothing has been written yet.")
    expect(page.get_by_test_id("import-sessions-created")).to_have_text(str(total))
    expect(page.get_by_test_id("import-sessions-skipped")).to_have_text("0")
    expect(page.get_by_test_id("import-rooms-created")).to_have_text("2")
    assert _sessions_in(hub, festival.democon) == 0
    screenshot(page, tmp_path, "schedule-import-preview.png")
    page.get_by_role("button", name="Confirm import").click()
    expect(page.get_by_test_id("schedule-import-done")).to_contain_text("pretalx-democon.json imported.")
    assert _sessions_in(hub, festival.democon) == total

    # The grid: the file's three days, each with its sessions, in its two rooms.
    page.get_by_role("link", name="See the schedule").click()
    days = page.get_by_test_id("day")
    expect(days).to_have_count(3)
    expect(page.get_by_test_id("grid-room")).to_have_text([re.compile("Gray Room"), re.compile("Tan Room")])
    first = min(per_day)
    expect(page.get_by_test_id("grid-session")).to_have_count(per_day[first])
    expect(page.get_by_test_id("grid-session").first).to_contain_text("Focused 5thgeneration hardware")
    screenshot(page, tmp_path, "schedule-grid-import.png")

    # Importing the same file again changes nothing.
    page.goto(f"{event_url(hub, festival, festival.democon)}/schedule/import")
    page.get_by_label("Schedule file").set_input_files(str(PRETALX))
    page.get_by_role("button", name="Preview import").click()
    expect(page.get_by_test_id("import-sessions-unchanged")).to_have_text(str(total))
    expect(page.get_by_test_id("import-sessions-created")).to_have_text("0")
    expect(page.get_by_test_id("import-sentences")).to_contain_text(
        "Nothing changes: the schedule already matches the file."
    )


def _sessions_in(hub: HubProcess, event: str) -> int:
    rows = query(hub, "SELECT count(*) AS n FROM schedule_session WHERE event_id = $1", event)
    return int(rows[0]["n"])


def test_the_settings_are_saved_and_the_overlap_rule_is_fixed(
    hub: HubProcess, festival: Festival, page: Page, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{event_url(hub, festival, festival.blank)}/schedule/settings")
    overlap = page.get_by_test_id("severity-room_overlap")
    expect(overlap).to_be_disabled()
    expect(overlap).to_have_accessible_description(re.compile("double-booked room is the mistake"))
    page.get_by_label("Take session proposals from attendees").check()
    page.get_by_label("Longest session").fill("90")
    page.get_by_label("Open proposals per attendee").fill("2")
    page.get_by_test_id("severity-over_capacity").select_option("block")
    publish = page.get_by_label("Publish the schedule")
    publish.check()
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_test_id("settings-saved")).to_be_visible()
    expect(page.get_by_label("Take session proposals from attendees")).to_be_checked()
    expect(page.get_by_label("Longest session")).to_have_value("90")
    expect(page.get_by_test_id("severity-over_capacity")).to_have_value("block")
    expect(publish).to_be_checked()
    screenshot(page, tmp_path, "schedule-settings.png")


def test_a_proposal_is_approved_in_a_suggested_slot_and_becomes_a_child_event(
    hub: HubProcess, festival: Festival, page: Page, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    rust, knit, lightning = (f"p-{secrets.token_hex(6)}" for _ in range(3))
    push_proposals(
        hub,
        festival.event,
        festival.kiosk,
        [
            Proposal(
                proposal_id=rust, title="Rust meetup", host="Jürgen Müller",
                proposer=festival.people["Jürgen Müller"], duration_min=60, attendance=20,
                description="Bring a laptop; beginners welcome.\nWe pair on small crates.",
                wished_from=at(DAY1, "14:00"), wished_to=at(DAY1, "16:00"),
            ),
            Proposal(
                proposal_id=knit, title="Knitting circle", host="Ngozi Okonjo",
                proposer=festival.people["Ngozi Okonjo"], duration_min=90, attendance=8,
            ),
            Proposal(
                proposal_id=lightning, title="Lightning talks", host="Priya Raghunathan",
                proposer=festival.people["Priya Raghunathan"], duration_min=45, attendance=35,
                wished_rooms=["lab"], wished_from=at(DAY2, "11:00"), wished_to=at(DAY2, "12:00"),
            ),
        ],
    )  # fmt: skip
    page.goto(event_url(hub, festival, festival.event))
    page.get_by_role("link", name="Proposals", exact=True).click()
    expect(page.get_by_test_id("pending-count")).to_have_text("3")
    card = page.get_by_test_id("proposal").filter(has_text="Rust meetup")
    expect(card.get_by_test_id("proposer")).to_have_text("Jürgen Müller")
    expect(card).to_contain_text("at Foyer kiosk")
    slots = card.get_by_test_id("approve-slot")
    expect(slots.first).to_contain_text("Approve here: ")
    assert 1 <= slots.count() <= 3
    screenshot(page, tmp_path, "proposals-pending.png")

    # Reject needs a reason: the browser asks for it, and without a browser the hub does.
    knit_card = page.get_by_test_id("proposal").filter(has_text="Knitting circle")
    knit_card.get_by_text("Reject…").click()
    knit_card.get_by_role("button", name="Reject").click()
    assert page.evaluate("document.activeElement.name") == "reason"
    expect(page.get_by_test_id("pending-count")).to_have_text("3")
    knit_card.get_by_label("Reason for rejecting").fill(
        "No room is free for 90 minutes; try the garden tomorrow"
    )
    knit_card.get_by_role("button", name="Reject").click()
    expect(page.get_by_test_id("decided")).to_contain_text("Rejected")
    expect(page.get_by_test_id("rejected-row")).to_contain_text("No room is free for 90 minutes")

    # Approve the Rust meetup in its first suggested slot.
    card = page.get_by_test_id("proposal").filter(has_text="Rust meetup")
    label = card.get_by_test_id("approve-slot").first.inner_text()
    slot = re.fullmatch(
        r"Approve here: (.+), (\w{3} \d\d \w{3} \d\d:\d\d\N{EN DASH}\d\d:\d\d)", label.strip()
    )
    assert slot, label
    room, when = slot.groups()
    card.get_by_test_id("approve-slot").first.click()
    expect(page.get_by_test_id("decided")).to_contain_text("Approved and scheduled.")
    expect(page.get_by_test_id("pending-count")).to_have_text("1")
    row = page.get_by_test_id("approved-row").filter(has_text="Rust meetup")
    expect(row).to_contain_text(f"{room}, {when}")
    expect(row).to_contain_text(festival.org.email)

    # In the grid, marked grassroots, in its room and time.
    page.get_by_role("link", name="See it in the schedule").click()
    cell = page.get_by_test_id("grid-session").filter(has_text="Rust meetup")
    expect(cell).to_contain_text("grassroots")
    expect(cell).to_contain_text(when.split(" ")[-1])
    screenshot(page, tmp_path, "schedule-grid.png")

    # On the event's dashboard: a child event, with its room, time, host and seats.
    page.get_by_role("link", name="Dashboard", exact=True).click()
    child = page.get_by_test_id("child-event").filter(has_text="Rust meetup")
    expect(child).to_contain_text(room)
    expect(child).to_contain_text("Jürgen Müller")
    expect(page.get_by_test_id("rooms-now")).to_contain_text("Open Lab")
    screenshot(page, tmp_path, "schedule-dashboard.png")

    # An organizer appliance, offline, approved the same proposal: both kept, the later one listed.
    offline_approval(hub, festival.event, festival.organizer_box, rust, "garden", at(DAY2, "15:00"))
    page.get_by_role("link", name="Proposals", exact=True).click()
    conflict = page.get_by_test_id("conflict")
    expect(conflict).to_have_count(1)
    expect(conflict).to_contain_text("decided twice")
    expect(conflict).to_contain_text("after it had already been approved")
    screenshot(page, tmp_path, "proposals-conflict.png")

    # Withdraw the approval: the proposal is pending again, its session cancelled.
    row = page.get_by_test_id("approved-row").filter(has_text="Rust meetup")
    row.get_by_label("Reason for withdrawing").fill("The host is ill")
    row.get_by_role("button", name="Withdraw").click()
    expect(page.get_by_test_id("decided")).to_contain_text("Approval withdrawn")
    expect(page.get_by_test_id("proposal").filter(has_text="Rust meetup")).to_have_count(1)


def test_every_schedule_page_runs_under_the_real_content_security_policy(
    hub: HubProcess, festival: Festival, browser: Browser
) -> None:
    """No ``bypass_csp`` here: the policy is enforced, and no page may break it or log a script error."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(
        "document.addEventListener('securitypolicyviolation', (e) =>"
        " console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))"
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    sign_in(page, hub, festival.org)
    base = event_url(hub, festival, festival.event)
    for path in ("", "/schedule", "/schedule/rooms", "/schedule/rooms/lab", "/schedule/sessions/new",
                 "/schedule/import", "/schedule/settings", "/proposals"):  # fmt: skip
        response = page.goto(f"{base}{path}")
        assert response is not None and response.ok, path
        expect(page.locator("h1")).to_have_text("Nordlicht Summit 2026")
    page.wait_for_timeout(300)  # the dashboard's fragment and its htmx request
    context.close()
    assert errors == [], errors


def test_on_a_narrow_screen_the_grid_becomes_a_list_per_room(
    hub: HubProcess, festival: Festival, browser: Browser, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(
        viewport={"width": 390, "height": 844}, bypass_csp=True, color_scheme="light"
    )
    page = context.new_page()
    sign_in(page, hub, festival.org)
    page.goto(f"{event_url(hub, festival, festival.event)}/schedule?day={DAY1}")
    expect(page.get_by_test_id("schedule-grid")).to_be_hidden()
    lists = page.get_by_test_id("room-lists")
    expect(lists).to_be_visible()
    expect(lists).to_contain_text("Opening keynote")
    expect(lists.locator("h4").first).to_contain_text("Hall A")
    screenshot(page, tmp_path, "schedule-narrow.png")
    context.close()


def test_the_schedule_pages_pass_the_accessibility_check_in_dark_mode(
    hub: HubProcess, festival: Festival, browser: Browser
) -> None:
    """The console follows the system's colour scheme; the grid's colours must keep their contrast."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, color_scheme="dark", bypass_csp=True
    )
    page = context.new_page()
    sign_in(page, hub, festival.org)
    base = event_url(hub, festival, festival.event)
    for path in (f"/schedule?day={DAY1}", "/proposals", "/schedule/settings", "/schedule/rooms"):
        page.goto(f"{base}{path}")
        accessible(page, f"{path} in dark mode")
    context.close()
