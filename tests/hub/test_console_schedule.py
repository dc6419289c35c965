"""The schedule and proposals pages of the console, as a browser without JavaScript sees them.

A real ``konferenco hub serve`` on PostgreSQL; an organization's owner signs
in through the console's form and uses the pages' own forms (plain POSTs,
the CSRF token from the page).  Every refusal must come back as the page
again with the rule's sentence and what was typed, never as a stack trace;
a viewer sees the schedule but no form; another organization's event is
"not found".  The browser-driven flows (htmx, axe, screenshots) are in
``test_console_schedule_browser.py``.
"""

from __future__ import annotations

import html
import json
import re
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from pycrdt import Array, Doc
from websockets.sync.client import connect

from hub.console.schedule_forms import parse_local
from hub.console.schedule_grid import day_grid, schedule_days
from konferenco.schedule.model import MINUTE, Room, Session, at_local
from sync.documents import DeviceLog
from sync.names import DocName
from sync.protocol import step1, update_message
from sync.records import Proposal
from tests.helpers import HubProcess, wait_for
from tests.hub.api_support import (
    Device,
    Org,
    enrolment_token,
    new_org,
    redeem,
    set_member,
    sql,
)
from tests.hub.test_organizer_views import console_client

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "schedule-formats" / "examples"
TZ = "Europe/Berlin"
BERLIN = ZoneInfo(TZ)
DAY1, DAY2 = "2026-06-01", "2026-06-02"


def at(day: str, clock: str) -> int:
    return at_local(day, clock, BERLIN)


# --- pure parts: the grid and the time fields -----------------------------------------------


def test_a_wall_clock_time_is_read_in_the_events_zone() -> None:
    assert parse_local("2026-06-01T09:30", BERLIN) == at(DAY1, "09:30")
    assert parse_local("2026-06-01T09:30", ZoneInfo("UTC")) == at(DAY1, "09:30") + 2 * 60 * MINUTE
    with pytest.raises(ValueError):
        parse_local("1 June, half past nine", BERLIN)


def test_the_grid_spans_each_session_over_its_steps_and_gives_overlaps_their_own_lane() -> None:
    rooms = [Room(id="a", name="Hall A"), Room(id="b", name="Hall B")]
    sessions = [
        Session(
            id="s1", title="Keynote", room_id="a", starts_at=at(DAY1, "09:00"), ends_at=at(DAY1, "10:00")
        ),
        Session(id="s2", title="Twin", room_id="a", starts_at=at(DAY1, "09:30"), ends_at=at(DAY1, "10:30")),
        Session(id="s3", title="Lunch", room_id="b", starts_at=at(DAY1, "12:00"), ends_at=at(DAY1, "12:45")),
        Session(
            id="s4", title="Tomorrow", room_id="b", starts_at=at(DAY2, "09:00"), ends_at=at(DAY2, "10:00")
        ),
        Session(
            id="s5",
            title="Gone",
            room_id="b",
            starts_at=at(DAY1, "09:00"),
            ends_at=at(DAY1, "10:00"),
            status="cancelled",
        ),
    ]
    grid = day_grid(rooms, sessions, DAY1, BERLIN)
    assert grid.step_min == 15
    assert [c.lanes for c in grid.columns] == [2, 1]  # the overlap sits beside the keynote, not under it
    assert [s.id for s in grid.sessions] == ["s1", "s2", "s3"]  # not tomorrow's, not the cancelled one
    assert grid.rows[0].label == "09:00" and grid.rows[-1].label == "12:45"
    placed = {c.session.id: (r.label, c.rows) for r in grid.rows for c in r.cells if c.session}
    assert placed == {"s1": ("09:00", 4), "s2": ("09:30", 4), "s3": ("12:00", 3)}
    # Every row has one cell per lane, counting the cells that rows above span into it.
    spanning: list[int] = []  # the row each spanning cell ends before
    for i, row in enumerate(grid.rows):
        spanning = [end for end in spanning if end > i]
        assert len(row.cells) + len(spanning) == grid.lanes, row.label
        spanning += [i + c.rows for c in row.cells if c.rows > 1]


def test_the_grid_uses_five_minute_steps_when_a_session_needs_them() -> None:
    rooms = [Room(id="a", name="Hall A")]
    sessions = [
        Session(id="s1", title="Short", room_id="a", starts_at=at(DAY1, "09:05"), ends_at=at(DAY1, "09:25")),
    ]
    grid = day_grid(rooms, sessions, DAY1, BERLIN)
    assert grid.step_min == 5
    (cell,) = [c for r in grid.rows for c in r.cells if c.session]
    assert cell.rows == 4


def test_days_of_sessions_outside_the_events_dates_are_reachable() -> None:
    late = Session(
        id="x",
        title="After",
        room_id="a",
        starts_at=at("2026-06-05", "10:00"),
        ends_at=at("2026-06-05", "11:00"),
    )
    assert schedule_days([DAY1, DAY2], [late], BERLIN) == [DAY1, DAY2, "2026-06-05"]


# --- what a kiosk sends: proposals in its device log, over /sync ------------------------------

EMPTY_STATE_VECTOR = b"\x00"


def sync_into(
    hub: HubProcess, device: Device, name: DocName, update: bytes, until: Callable[[], object], what: str
) -> None:
    """Send one Yjs update for a document to the hub as the device's appliance does, and stay
    connected until ``until()`` holds (closing at once could drop an update not yet read)."""
    with connect(
        f"ws://127.0.0.1:{hub.port}/sync/{name}", additional_headers=device.auth, open_timeout=10
    ) as ws:
        ws.send(step1(EMPTY_STATE_VECTOR))
        ws.send(update_message(update))
        wait_for(until, timeout=15, what=what)


def push_proposals(hub: HubProcess, event: str, kiosk: Device, proposals: list[Proposal]) -> None:
    """Proposals made at a kiosk: appended to its own log and synced, until the hub lists them."""
    doc: Doc[Any] = Doc()
    doc.get("log", type=Array)
    log = DeviceLog(doc)
    for proposal in proposals:
        log.append(proposal)
    before = _count(hub, event)
    name = DocName.device(event, kiosk.device_id)
    sync_into(
        hub,
        kiosk,
        name,
        doc.get_update(),
        lambda: _count(hub, event) == before + len(proposals),
        "the proposals",
    )


def query(hub: HubProcess, statement: str, *args: object) -> list[Any]:
    """SQL as the tables' owner, off this thread: Playwright's sync API runs an event loop in it."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(sql, hub.database_url, statement, *args).result()


def _count(hub: HubProcess, event: str) -> int:
    return int(query(hub, "SELECT count(*) AS n FROM proposal WHERE event_id = $1", event)[0]["n"])


def named_device(http: httpx.Client, org: Org, event: str, name: str, capability: str) -> Device:
    response = redeem(http, enrolment_token(http, org, event, (capability,)), name=name)
    assert response.status_code == 201, response.text
    grant = response.json()
    return Device(grant["device_id"], grant["event_id"], grant["credential"], b"")


# --- the pages on a real hub ----------------------------------------------------------------


def csrf_of(page: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    assert match, "the page carries its CSRF token"
    return match[1]


def text_of(page: str) -> str:
    """The page's visible words, roughly: tags dropped, entities decoded, spaces folded."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


@pytest.fixture(scope="module")
def org(hub: HubProcess, http: httpx.Client) -> Org:
    return new_org(hub.database_url, http)


def new_dated_event(http: httpx.Client, org: Org, name: str = "Nordlicht Summit") -> str:
    response = http.post(
        "/api/v1/events",
        json={"name": name, "timezone": TZ, "starts_at": at(DAY1, "08:00"), "ends_at": at(DAY2, "20:00")},
        headers=org.auth,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture
def console(hub: HubProcess, org: Org) -> Iterator[httpx.Client]:
    with console_client(hub, org) as client:
        yield client


def test_an_organizer_adds_a_room_and_a_session_and_a_double_booking_needs_an_approval(
    console: httpx.Client, http: httpx.Client, org: Org
) -> None:
    event = new_dated_event(http, org)
    base = f"/console/{org.slug}/events/{event}/schedule"
    empty = console.get(base)
    assert empty.status_code == 200, empty.text
    assert "No rooms yet" in text_of(empty.text)
    assert f"times in {TZ}" in text_of(empty.text)

    # A room, with every field of the form.
    token = csrf_of(console.get(f"{base}/rooms").text)
    room = console.post(
        f"{base}/rooms",
        data={
            "_csrf": token, "name": "Hall A", "capacity": "120", "area": "Ground floor",
            "accessibility": "Step-free; hearing loop", "features": ["projector", "stream"],
            "other_features": "piano", "grassroots": "on", "buffer_min": "10", "position": "1",
            "hours_day": [DAY1, DAY2], f"opens_{DAY1}": "08:00", f"closes_{DAY1}": "20:00",
            f"opens_{DAY2}": "08:00", f"closes_{DAY2}": "20:00",
        },
    )  # fmt: skip
    assert room.status_code == 303, room.text
    rooms = console.get(f"{base}/rooms")
    assert "Hall A" in rooms.text and "hall-a" in rooms.text
    assert all(f in rooms.text for f in ("projector", "stream", "piano", "Step-free; hearing loop"))

    # A second room with the same id is refused with the reason; what was typed is still there.
    again = console.post(f"{base}/rooms", data={"_csrf": token, "name": "Hall A", "capacity": "-3"})
    assert again.status_code == 422, again.text
    words = text_of(again.text)
    assert "already a room with the id “hall-a”" in words
    assert "Seats" in words and "between 0 and 1,000,000" in words
    assert 'value="-3"' in again.text

    # A session, typed in Berlin time.
    first = console.post(
        f"{base}/sessions",
        data={
            "_csrf": token, "title": "Opening keynote", "room_id": "hall-a", "starts": f"{DAY1}T09:00",
            "duration": "60", "attendance": "100", "type": "keynote", "track": "Main", "language": "en",
            "speakers": "Ada Lovelace\nGrace Hopper", "abstract": "Why we are here.", "status": "scheduled",
        },
    )  # fmt: skip
    assert first.status_code == 303, first.text
    assert first.headers["location"].startswith(f"{base}?day={DAY1}&saved=")
    grid = console.get(first.headers["location"])
    assert "Saved “Opening keynote”: Mon 01 Jun 09:00\N{EN DASH}10:00, Hall A." in text_of(grid.text)
    assert 'data-testid="grid-session"' in grid.text and "Ada Lovelace, Grace Hopper" in grid.text

    # The same room at 09:30: refused with the rule's sentence, and the overlap approval is offered.
    clash = {
        "_csrf": token, "title": "Press briefing", "room_id": "hall-a", "starts": f"{DAY1}T09:30",
        "duration": "30", "status": "scheduled",
    }  # fmt: skip
    refused = console.post(f"{base}/sessions", data=clash)
    assert refused.status_code == 409, refused.text
    words = text_of(refused.text)
    sentence = "Hall A is booked twice: “Press briefing” (Mon 01 Jun 09:30\N{EN DASH}10:00) and “Opening"
    assert sentence in words
    assert 'name="overlap_reason"' in refused.text
    assert 'value="Press briefing"' in refused.text  # nothing typed is lost
    approved = console.post(
        f"{base}/sessions", data={**clash, "overlap_reason": "The press sits in the back"}
    )
    assert approved.status_code == 303, approved.text
    shown = console.get(approved.headers["location"])
    words = text_of(shown.text)
    assert "Overlap approved by" in words and "The press sits in the back" in words
    assert "overlap approved" in words  # the chip in the grid


def test_a_viewer_sees_the_schedule_but_no_form_and_cannot_post(
    hub: HubProcess, http: httpx.Client, org: Org
) -> None:
    event = new_dated_event(http, org, "Viewer check")
    viewer = Org(org.slug, org.org_id, f"viewer@{org.slug}.example", "")
    set_member(hub.database_url, org, viewer.email, "viewer")  # type: ignore[arg-type]
    with console_client(hub, viewer) as client:
        base = f"/console/{org.slug}/events/{event}/schedule"
        for page in ("", "/rooms", "/settings", "/import"):
            response = client.get(f"{base}{page}")
            assert response.status_code == 200, (page, response.text)
        assert 'data-testid="room-form"' not in client.get(f"{base}/rooms").text
        refused = client.post(f"{base}/rooms", data={"name": "Sneaky"})
        assert refused.status_code == 403, refused.text
        assert "organizer" in text_of(refused.text)
        assert client.get(f"/console/{org.slug}/events/{event}/proposals").status_code == 200


def test_another_organizations_schedule_is_not_found(
    hub: HubProcess, http: httpx.Client, org: Org, console: httpx.Client
) -> None:
    other = new_org(hub.database_url, http)
    theirs = new_dated_event(http, other, "Not yours")
    for path in ("schedule", "schedule/rooms", "schedule/settings", "proposals", "schedule.ics"):
        response = console.get(f"/console/{org.slug}/events/{theirs}/{path}")
        assert response.status_code == 404, (path, response.text)
    # Under their own slug the visitor is no member at all.
    assert console.get(f"/console/{other.slug}/events/{theirs}/schedule").status_code in (403, 404)
    token = csrf_of(console.get("/console/account").text)
    write = console.post(
        f"/console/{org.slug}/events/{theirs}/schedule/rooms", data={"_csrf": token, "name": "X"}
    )
    assert write.status_code == 404, write.text


def test_settings_are_saved_and_fixed_rules_cannot_be_lowered(
    console: httpx.Client, http: httpx.Client, org: Org
) -> None:
    event = new_dated_event(http, org, "Settings")
    base = f"/console/{org.slug}/events/{event}/schedule"
    page = console.get(f"{base}/settings")
    assert page.status_code == 200
    assert re.search(r'<select[^>]*data-testid="severity-room_overlap"[^>]*disabled', page.text) or re.search(
        r'<select[^>]*disabled[^>]*data-testid="severity-room_overlap"', page.text
    )
    assert "a double-booked room is the mistake attendees notice in person" in text_of(page.text)
    token = csrf_of(page.text)
    bad = console.post(
        f"{base}/settings",
        data={"_csrf": token, "enabled": "on", "min_minutes": "90", "max_minutes": "30", "max_open": "3",
              "slot_step": "15", "opens": f"{DAY1}T10:00", "closes": f"{DAY1}T09:00"},
    )  # fmt: skip
    assert bad.status_code == 422, bad.text
    words = text_of(bad.text)
    assert "proposals must close after they open" in words
    assert "the longest session must not be shorter than the shortest" in words
    good = console.post(
        f"{base}/settings",
        data={"_csrf": token, "enabled": "on", "min_minutes": "30", "max_minutes": "90", "max_open": "2",
              "slot_step": "15", "opens": f"{DAY1}T08:00", "closes": f"{DAY2}T12:00",
              "severity_over_capacity": "block", "severity_room_overlap": "ignore", "public": "on"},
    )  # fmt: skip
    assert good.status_code == 303, good.text
    saved = console.get(good.headers["location"])
    assert "Settings saved." in text_of(saved.text)
    settings = http.get(f"/api/v1/events/{event}/schedule/settings", headers=org.auth)
    assert settings.status_code == 200, settings.text
    body = settings.json()
    body = body.get("settings", body)
    assert body["grassroots"]["enabled"] is True
    assert body["grassroots"]["min_minutes"] == 30 and body["grassroots"]["max_open_per_attendee"] == 2
    assert body["grassroots"]["opens_at"] == at(DAY1, "08:00")
    assert body["severities"] == {"over_capacity": "block"}  # room_overlap stays fixed, whatever was sent
    assert body.get("public") is True


def test_the_export_links_download_the_schedule(console: httpx.Client, http: httpx.Client, org: Org) -> None:
    event = new_dated_event(http, org, "Exports")
    base = f"/console/{org.slug}/events/{event}/schedule"
    token = csrf_of(console.get(f"{base}/rooms").text)
    assert console.post(f"{base}/rooms", data={"_csrf": token, "name": "Hall A"}).status_code == 303
    saved = console.post(
        f"{base}/sessions",
        data={
            "_csrf": token,
            "title": "Opening",
            "room_id": "hall-a",
            "starts": f"{DAY1}T09:00",
            "duration": "45",
        },
    )
    assert saved.status_code == 303, saved.text
    ics = console.get(f"{base}.ics")
    assert ics.status_code == 200, ics.text
    assert ics.headers["content-type"].startswith("text/calendar")
    assert "SUMMARY:Opening" in ics.text and "TZID=Europe/Berlin" in ics.text
    xml = console.get(f"{base}.xml")
    assert xml.status_code == 200 and "<title>Opening</title>" in xml.text
    js = console.get(f"{base}.json")
    assert js.status_code == 200 and js.json()["schedule"]["conference"]["days"]


def test_a_session_form_with_every_mistake_lists_them_all(
    console: httpx.Client, http: httpx.Client, org: Org
) -> None:
    event = new_dated_event(http, org, "Mistakes")
    base = f"/console/{org.slug}/events/{event}/schedule"
    token = csrf_of(console.get(f"{base}/rooms").text)
    assert console.post(f"{base}/rooms", data={"_csrf": token, "name": "Hall A"}).status_code == 303
    response = console.post(
        f"{base}/sessions",
        data={"_csrf": token, "title": "", "room_id": "hall-a", "starts": "tomorrow", "duration": "0"},
    )
    assert response.status_code == 422, response.text
    words = text_of(response.text)
    assert "please correct these 3 things" in words
    assert "Title must not be empty" in words
    assert "Start 'tomorrow' is not a date and time" in words
    assert "Duration (minutes) must be between 1 and 10,080" in words


def test_a_day_with_no_sessions_and_an_event_without_dates_still_show(
    console: httpx.Client, http: httpx.Client, org: Org
) -> None:
    response = http.post("/api/v1/events", json={"name": "Undated", "timezone": TZ}, headers=org.auth)
    assert response.status_code == 201, response.text
    event = response.json()["id"]
    page = console.get(f"/console/{org.slug}/events/{event}/schedule?day=not-a-day")
    assert page.status_code == 200, page.text
    assert date.today().isoformat()[:4] in page.text  # the day shown is today, in the event's zone
    # The dashboard's schedule fragment has nothing to show without rooms: htmx's "stop polling".
    now = console.get(f"/console/{org.slug}/events/{event}/schedule/now", headers={"HX-Request": "true"})
    assert now.status_code == 286 and now.content == b""


def test_a_schedule_file_is_previewed_then_imported_without_javascript(
    console: httpx.Client, http: httpx.Client, org: Org
) -> None:
    """The plain form: the preview page carries the file to the confirm button; nothing is written before."""
    response = http.post(
        "/api/v1/events",
        json={"name": "DemoCon", "timezone": "UTC", "starts_at": 1607904000000, "ends_at": 1608163199999},
        headers=org.auth,
    )
    assert response.status_code == 201, response.text
    event = response.json()["id"]
    base = f"/console/{org.slug}/events/{event}/schedule"
    token = csrf_of(console.get(f"{base}/import").text)
    data = (EXAMPLES / "pretalx-democon.json").read_bytes()
    sessions = sum(
        len(talks)
        for day in json.loads(data)["schedule"]["conference"]["days"]
        for talks in day["rooms"].values()
    )
    preview = console.post(
        f"{base}/import", data={"_csrf": token}, files={"file": ("democon.json", data, "application/json")}
    )
    assert preview.status_code == 200, preview.text
    words = text_of(preview.text)
    assert "Preview of democon.json: nothing has been written yet." in words
    assert re.search(rf'data-testid="import-sessions-created">\s*{sessions}<', preview.text)
    assert http.get(f"/api/v1/events/{event}/rooms", headers=org.auth).json()["rooms"] == []
    payload = re.search(r'name="payload" value="([^"]+)"', preview.text)
    assert payload, "the confirm form carries the previewed file"
    assert len(payload[1]) < len(data) / 3  # compressed, not the file twice over

    done = console.post(
        f"{base}/import",
        data={"_csrf": token, "payload": payload[1], "filename": "democon.json", "confirm": "1"},
    )
    assert done.status_code == 200, done.text
    assert "democon.json imported." in text_of(done.text)
    grid = console.get(f"{base}?day=2020-12-14")
    assert grid.text.count('data-testid="grid-session"') == 12
    assert "Gray Room" in grid.text and "Tan Room" in grid.text

    # A payload that did not come back intact is refused in words, and nothing more is written.
    broken = console.post(
        f"{base}/import", data={"_csrf": token, "payload": "%%%", "filename": "x.json", "confirm": "1"}
    )
    assert broken.status_code == 422, broken.text
    assert "did not come back intact" in text_of(broken.text)


def test_a_refused_schedule_file_lists_every_problem_and_imports_nothing(
    console: httpx.Client, http: httpx.Client, org: Org
) -> None:
    event = new_dated_event(http, org, "Refusals")
    base = f"/console/{org.slug}/events/{event}/schedule"
    token = csrf_of(console.get(f"{base}/import").text)
    schedule = json.loads((EXAMPLES / "pretalx-democon.json").read_text())
    day = schedule["schedule"]["conference"]["days"][0]
    gray = day["rooms"]["Gray Room"]
    gray[0]["duration"] = "soon"  # not a duration
    gray[1]["date"] = "the day after"  # not a date
    gray[2]["id"] = gray[3]["id"]  # a duplicate id
    gray[2]["guid"] = gray[3]["guid"]
    bad = json.dumps(schedule).encode()
    refused = console.post(
        f"{base}/import", data={"_csrf": token}, files={"file": ("broken.json", bad, "application/json")}
    )
    assert refused.status_code == 422, refused.text
    words = text_of(refused.text)
    assert "broken.json was refused; nothing was imported." in words
    problems = re.findall(r'data-testid="schedule-import-problem"', refused.text)
    assert len(problems) >= 3, words
    assert 'days[0].rooms["Gray Room"][0]' in html.unescape(refused.text)  # where, as a path in the file
    assert str(gray[0]["guid"]) in refused.text or str(gray[0]["id"]) in refused.text  # and which session
    assert http.get(f"/api/v1/events/{event}/schedule", headers=org.auth).json()["sessions"] == []

    not_json = console.post(
        f"{base}/import", data={"_csrf": token}, files={"file": ("notes.txt", b"hello", "text/plain")}
    )
    assert not_json.status_code == 422 and "notes.txt was refused" in text_of(not_json.text)


def test_a_file_over_the_limit_is_refused_in_words(
    console: httpx.Client, http: httpx.Client, org: Org
) -> None:
    event = new_dated_event(http, org, "Big file")
    base = f"/console/{org.slug}/events/{event}/schedule"
    token = csrf_of(console.get(f"{base}/import").text)
    big = b"[" + b" " * (21 * 1024 * 1024) + b"]"
    refused = console.post(
        f"{base}/import", data={"_csrf": token}, files={"file": ("big.json", big, "application/json")}
    )
    assert refused.status_code == 413, refused.text[:300]
    assert "larger than 20 MB" in text_of(refused.text)
    huge = b" " * (50 * 1024 * 1024)
    refused = console.post(
        f"{base}/import", data={"_csrf": token}, files={"file": ("huge.json", huge, "application/json")}
    )
    assert refused.status_code == 413, refused.text[:300]
    assert "<html" in refused.text.lower()  # the console's error page, not a stack trace or JSON


@pytest.fixture(scope="module")
def grassroots(hub: HubProcess, http: httpx.Client, org: Org) -> tuple[str, Device, str]:
    """An event taking proposals, with two grassroots rooms and one talk; a kiosk; an attendee's id."""
    event = new_dated_event(http, org, "Grassroots")
    roster = "external_ref,name,ticket_type\nT-1,Ada Lovelace,general\n"
    imported = http.post(
        f"/api/v1/events/{event}/attendees/import", content=roster.encode(), headers=org.auth
    )
    assert imported.status_code == 200, imported.text
    for room_id, name in (("lab", "Open Lab"), ("tent", "Garden tent")):
        put = http.put(
            f"/api/v1/events/{event}/rooms/{room_id}",
            json={"name": name, "capacity": 30, "grassroots": True},
            headers=org.auth,
        )
        assert put.status_code == 200, put.text
    talk = http.post(
        f"/api/v1/events/{event}/sessions",
        json={
            "title": "Maker hour",
            "room_id": "lab",
            "starts_at": at(DAY1, "14:00"),
            "ends_at": at(DAY1, "15:00"),
        },
        headers=org.auth,
    )
    assert talk.status_code in (200, 201), talk.text
    settings = http.put(
        f"/api/v1/events/{event}/schedule/settings", json={"grassroots": {"enabled": True}}, headers=org.auth
    )
    assert settings.status_code == 200, settings.text
    ada = sql(hub.database_url, "SELECT id FROM attendee WHERE event_id = $1", event)[0]["id"]
    return event, named_device(http, org, event, "Foyer kiosk", "kiosk"), str(ada)


def test_approving_into_a_taken_slot_needs_an_overlap_reason_and_a_second_decision_is_refused(
    hub: HubProcess, console: httpx.Client, org: Org, grassroots: tuple[str, Device, str]
) -> None:
    event, kiosk, ada = grassroots
    pid = f"p-{secrets.token_hex(6)}"
    push_proposals(
        hub,
        event,
        kiosk,
        [Proposal(proposal_id=pid, title="Soldering", host="Ada Lovelace", proposer=ada, duration_min=60)],
    )
    base = f"/console/{org.slug}/events/{event}/proposals"
    page = console.get(base)
    assert page.status_code == 200 and "Soldering" in page.text
    token = csrf_of(page.text)
    custom = {"_csrf": token, "room_id": "lab", "starts": f"{DAY1}T14:30", "duration_min": "60"}
    clash = console.post(f"{base}/{pid}/approve", data=custom)
    assert clash.status_code == 409, clash.text
    words = text_of(clash.text)
    assert "Open Lab is booked twice" in words and "“Maker hour”" in words
    assert 'name="overlap_reason"' in clash.text and 'value="2026-06-01T14:30"' in clash.text

    approved = console.post(
        f"{base}/{pid}/approve", data={**custom, "overlap_reason": "Maker hour shares its benches"}
    )
    assert approved.status_code == 303, approved.text
    after = console.get(approved.headers["location"])
    assert "Approved and scheduled." in text_of(after.text)
    assert 'data-testid="approved-row"' in after.text

    again = console.post(f"{base}/{pid}/approve", data={**custom, "room_id": "tent"})
    assert again.status_code == 409, again.text
    assert f"the proposal was approved by {org.email} already" in text_of(again.text)


def test_rejecting_needs_a_reason_even_without_the_browsers_check(
    hub: HubProcess, console: httpx.Client, org: Org, grassroots: tuple[str, Device, str]
) -> None:
    event, kiosk, ada = grassroots
    pid = f"p-{secrets.token_hex(6)}"
    push_proposals(
        hub, event, kiosk, [Proposal(proposal_id=pid, title="Juggling", host="Ada Lovelace", proposer=ada)]
    )
    base = f"/console/{org.slug}/events/{event}/proposals"
    token = csrf_of(console.get(base).text)
    refused = console.post(f"{base}/{pid}/reject", data={"_csrf": token, "reason": "   "})
    assert refused.status_code == 422, refused.text
    assert "Reason must not be empty" in text_of(refused.text)
    rejected = console.post(f"{base}/{pid}/reject", data={"_csrf": token, "reason": "No juggling indoors"})
    assert rejected.status_code == 303, rejected.text
    page = console.get(rejected.headers["location"])
    assert "No juggling indoors" in text_of(page.text)
    unknown = console.post(f"{base}/p-nothing/reject", data={"_csrf": token, "reason": "x"})
    assert unknown.status_code == 404, unknown.text
    assert "there is no proposal" in text_of(unknown.text)


def test_every_schedule_form_refuses_a_request_without_the_pages_csrf_token(
    console: httpx.Client, http: httpx.Client, org: Org
) -> None:
    """The console's CSRF check covers these routes too (read from the handlers, so a new one is tried)."""
    from hub.console.schedule import SCHEDULE_ROUTES

    event = new_dated_event(http, org, "Forgery")
    values = {"org": org.slug, "event": event, "room": "hall-a", "session": "s-1", "proposal": "p-1"}
    changing = [
        (method, path)
        for handler in SCHEDULE_ROUTES
        for path in handler.paths
        for method in handler.http_methods
        if method not in ("GET", "HEAD")
    ]
    assert len(changing) >= 9, changing
    before = http.get(f"/api/v1/events/{event}/schedule", headers=org.auth).json()
    for method, template in changing:
        path = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m.group(1)], template)
        for headers in ({"X-CSRF-Token": ""}, {"X-CSRF-Token": "A" * 43}):
            response = console.request(method, path, data={"name": "Forged", "reason": "x"}, headers=headers)
            assert response.status_code == 403, (method, path, response.text[:200])
            assert "was not sent from a console page of this session" in text_of(response.text)
    assert http.get(f"/api/v1/events/{event}/schedule", headers=org.auth).json() == before
