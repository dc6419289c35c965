"""What an organizer reads on the hub: refusals by reason, the chart's axis, badge CSV, import reports.

Real processes and the real database: a ``konferenco hub serve`` per module,
device logs pushed over ``/sync`` the way an appliance pushes them (so the
scans reach the dashboard through the hub's projection), and the console
read with a session cookie from its own sign-in form.
"""

from __future__ import annotations

import csv
import html
import io
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from pycrdt import Array, Doc
from websockets.sync.client import connect

from konferenco.types import now_ms
from sync.documents import DeviceLog
from sync.names import DocName
from sync.protocol import step1, update_message
from tests.browser import chromium
from tests.helpers import HubProcess, wait_for
from tests.hub.api_support import (
    PASSWORD,
    Device,
    Org,
    assert_error,
    enrol_device,
    new_event,
    new_org,
    sql,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser

ROSTER = (
    b"external_ref,name,company,ticket_type,order_ref\n"
    b"T-1,Ada Lovelace,Analytical Engines,general,ORD-1815\n"
    b"T-2,Grace Hopper,US Navy,general,ORD-1906\n"
)
EMPTY_STATE_VECTOR = b"\x00"


def push_scans(hub: HubProcess, event: str, device: Device, scans: list[dict[str, Any]]) -> None:
    """Append the scans to the device's own log and sync it to the hub, as an appliance does."""
    doc: Doc[Any] = Doc()
    doc.get("log", type=Array)
    log = DeviceLog(doc)
    for scan in scans:
        log.append_scan(nonce=secrets.token_hex(8), **scan)
    name = str(DocName.device(event, device.device_id))
    with connect(
        f"ws://127.0.0.1:{hub.port}/sync/{name}", additional_headers=device.auth, open_timeout=10
    ) as ws:
        ws.send(step1(EMPTY_STATE_VECTOR))
        ws.send(update_message(doc.get_update()))
        wait_for(
            lambda: (
                sql(hub.database_url, "SELECT count(*) AS n FROM checkin_scan WHERE doc = $1", name)[0]["n"]
                == len(scans)
            ),
            timeout=15,
            what="the scans to be projected",
        )


@contextmanager
def console_client(hub: HubProcess, org: Org) -> Iterator[httpx.Client]:
    """An httpx client signed in to the console through its form (the session cookie it sets)."""
    with httpx.Client(base_url=hub.url, timeout=30) as client:
        form = client.get("/console/login")
        token = re.search(r'name="_csrf" value="([^"]+)"', form.text)
        assert token, form.text
        signed_in = client.post(
            "/console/login",
            data={"email": org.email, "password": PASSWORD, "next": "/console", "_csrf": token[1]},
        )
        assert signed_in.status_code == 303, signed_in.text
        # The session's CSRF token, sent with every change as the console's pages do (console.js).
        meta = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get("/console/account").text)
        assert meta, "the signed-in page carries its CSRF token"
        client.headers["X-CSRF-Token"] = meta[1]
        yield client


def page_text(markup: str) -> str:
    """What a reader sees: tags dropped, entities decoded, whitespace collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", markup))).strip()


def attendee_id(hub: HubProcess, event: str, name: str) -> str:
    rows = sql(hub.database_url, "SELECT id FROM attendee WHERE event_id = $1 AND name = $2", event, name)
    return str(rows[0]["id"])


class _ByTestId(HTMLParser):
    """The text of every element with ``data-testid=name``, nested tags included."""

    VOID = {"br", "img", "input", "meta", "link", "hr", "rect", "line"}

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.depth = 0
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        if self.depth:
            self.depth += 1
        elif ("data-testid", self.name) in attrs:
            self.depth = 1
            self.found.append("")

    def handle_endtag(self, tag: str) -> None:
        if self.depth and tag not in self.VOID:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.found[-1] += data


def _testids(markup: str, name: str) -> list[str]:
    parser = _ByTestId(name)
    parser.feed(markup)
    return [re.sub(r"\s+", " ", text).strip() for text in parser.found]


# --- the dashboard -----------------------------------------------------------------------------


def refused_scans(ada: str, minute: int) -> list[dict[str, Any]]:
    """One admission and six refusals of three kinds, all in one minute (the chart's busiest: 7)."""
    again = "Already checked in at 09:0{} at gate main (device d1); this list admits once."
    return [
        {"gate": "main", "result": "admitted", "attendee_id": ada, "list_id": "main", "at": minute},
        *(
            {
                "gate": "main",
                "result": "already_admitted",
                "reason": again.format(i),
                "attendee_id": ada,
                "list_id": "main",
                "at": minute + 1000 * i,
            }
            for i in (1, 2, 3)
        ),
        {
            "gate": "main",
            "result": "unknown_badge",
            "reason": "This tag is not linked to anyone.",
            "at": minute + 4000,
        },
        {
            "gate": "main",
            "result": "unknown_badge",
            "reason": "This tag is not linked to anyone.",
            "at": minute + 5000,
        },
        {"gate": "side", "result": "revoked", "reason": "This ticket was cancelled.", "at": minute + 6000},
    ]


def test_the_dashboard_counts_refusals_by_reason_and_labels_the_charts_y_axis(
    hub: HubProcess, http: httpx.Client
) -> None:
    org = new_org(hub.database_url, http)
    event = new_event(http, org, ROSTER)
    door = enrol_device(http, org, event)
    minute = (now_ms() // 60_000) * 60_000
    push_scans(hub, event, door, refused_scans(attendee_id(hub, event, "Ada Lovelace"), minute))

    with console_client(hub, org) as console:
        live = console.get(
            f"/console/{org.slug}/events/{event}/dashboard/live", headers={"HX-Request": "true"}
        )
    assert live.status_code == 200, live.text
    reasons = list(
        zip(_testids(live.text, "refusal-reason"), _testids(live.text, "refusal-count"), strict=True)
    )
    assert reasons == [
        ("Already checked in", "3"),
        ("Badge or tag not known", "2"),
        ("Ticket cancelled or badge revoked", "1"),
    ]
    # The appliance's own sentence, the latest of each kind, says what exactly happened.
    assert "Latest: Already checked in at 09:03 at gate main" in page_text(live.text)
    assert _testids(live.text, "refused") == ["6"]

    # The y axis: 0 at the bottom, the busiest minute at the top, in scans per minute.
    assert _testids(live.text, "y-max") == ["7"]
    assert _testids(live.text, "y-zero") == ["0"]
    assert _testids(live.text, "y-unit") == ["scans/min"]
    # A text alternative for people who cannot see the bars: a summary and a table of the busy minutes.
    (summary,) = _testids(live.text, "chart-summary")
    assert summary.startswith("7 scans from ") and ", had 7." in summary
    assert 'aria-labelledby="per-minute-title per-minute-summary"' in live.text
    assert re.search(r"<tr><td>\d\d:\d\d</td><td>7</td></tr>", live.text)

    api = http.get(f"/api/v1/events/{event}/dashboard", headers=org.auth).json()
    assert [(r["result"], r["scans"]) for r in api["refused_by_reason"]] == [
        ("already_admitted", 3),
        ("unknown_badge", 2),
        ("revoked", 1),
    ]


def test_an_event_without_refusals_says_so(hub: HubProcess, http: httpx.Client) -> None:
    org = new_org(hub.database_url, http)
    event = new_event(http, org, ROSTER)
    with console_client(hub, org) as console:
        page = console.get(f"/console/{org.slug}/events/{event}")
    assert "No scan has been refused." in page.text
    assert _testids(page.text, "y-max") == ["1"] and _testids(page.text, "y-zero") == ["0"]
    assert "No scans from " in _testids(page.text, "chart-summary")[0]


# --- duplicates ---------------------------------------------------------------------------------


def test_duplicates_name_the_attendee_and_their_order_code(hub: HubProcess, http: httpx.Client) -> None:
    org = new_org(hub.database_url, http)
    event = new_event(http, org, ROSTER)
    north, south = enrol_device(http, org, event), enrol_device(http, org, event)
    ada = attendee_id(hub, event, "Ada Lovelace")
    at = now_ms() - 120_000
    entry = {"gate": "main", "result": "admitted", "attendee_id": ada, "list_id": "main"}
    push_scans(hub, event, north, [{**entry, "at": at}])
    push_scans(hub, event, south, [{**entry, "at": at + 30_000}])

    with console_client(hub, org) as console:
        page = console.get(f"/console/{org.slug}/events/{event}/duplicates")
    assert page.status_code == 200
    assert _testids(page.text, "duplicate-name") == ["Ada Lovelace"]
    assert _testids(page.text, "duplicate-order") == ["ORD-1815"]
    # The internal id is still there for support, but second to what organizers know.
    assert f'title="attendee id {ada}"' in page.text
    text = page_text(page.text)
    assert text.index("Ada Lovelace") < text.index("ORD-1815") < text.index(ada, text.index("ORD-1815"))


# --- badge CSV ----------------------------------------------------------------------------------


def test_the_badge_csv_has_the_appliances_columns_with_order_codes_and_ticket_type_names(
    hub: HubProcess, http: httpx.Client
) -> None:
    org = new_org(hub.database_url, http)
    event = new_event(http, org, None)
    added = http.post(
        f"/api/v1/events/{event}/ticket-types", json={"id": "vip", "name": "VIP pass"}, headers=org.auth
    )
    assert added.status_code == 201, added.text
    roster = (
        "external_ref,name,company,ticket_type,order_ref,nfc_uid\n"
        "T-1,Ada Lovelace,Analytical Engines,vip,ORD-1815,04A224B1C2D380\n"
        "T-2,Grace Hopper,US Navy,general,ORD-1906,\n"
    )
    imported = http.post(
        f"/api/v1/events/{event}/attendees/import", content=roster.encode(), headers=org.auth
    )
    assert imported.status_code == 200, imported.text
    grace = attendee_id(hub, event, "Grace Hopper")
    assert http.post(f"/api/v1/events/{event}/attendees/{grace}/cancel", headers=org.auth).status_code == 200

    api = http.get(f"/api/v1/events/{event}/badges.csv", headers=org.auth)
    assert api.status_code == 200
    with console_client(hub, org) as console:
        console_csv = console.get(f"/console/{org.slug}/events/{event}/badges.csv")
    assert console_csv.text == api.text  # one file, wherever it is downloaded

    reader = csv.DictReader(io.StringIO(api.text))
    assert reader.fieldnames == [
        "attendee_id", "badge_code", "name", "company", "ticket_type", "order_ref", "nfc_uid", "status",
    ]  # fmt: skip
    rows = {r["name"]: r for r in reader}
    assert rows["Ada Lovelace"]["order_ref"] == "ORD-1815"
    assert rows["Ada Lovelace"]["ticket_type"] == "VIP pass"  # the name printed on the badge, not "vip"
    assert rows["Ada Lovelace"]["nfc_uid"] == "04A224B1C2D380"
    assert rows["Ada Lovelace"]["badge_code"] and rows["Ada Lovelace"]["status"] == "valid"
    assert rows["Grace Hopper"]["order_ref"] == "ORD-1906"
    assert rows["Grace Hopper"]["status"] == "cancelled"  # a print shop must not print it
    assert rows["Grace Hopper"]["attendee_id"] == grace


# --- import reports -----------------------------------------------------------------------------

#: 1,204 rows, every one with a ticket type the event does not have.
VIP_ROWS = 1204
VIP_CSV = "name,ticket_type\n" + "".join(f"Guest {i},VIP\n" for i in range(VIP_ROWS))
VIP_MESSAGE = "unknown ticket type 'VIP'; known: general (General)"
HUB_HINT = "create it under Ticket types first, or rename the column if the wrong one was read"
NAME_HINT = "every row needs a name; fill it in, or rename the column to Name"


def test_a_refused_import_groups_identical_problems_in_the_api_answer(
    hub: HubProcess, http: httpx.Client
) -> None:
    org = new_org(hub.database_url, http)
    event = new_event(http, org, None)
    response = http.post(
        f"/api/v1/events/{event}/attendees/import", content=VIP_CSV.encode(), headers=org.auth
    )
    assert "1,204 rows rejected" in assert_error(response, 422, "import_rejected")
    body = response.json()
    (group,) = body["groups"]
    assert group == {
        "field": "ticket_type",
        "message": VIP_MESSAGE,
        "hint": HUB_HINT,  # the console has no --map flag to point at
        "count": VIP_ROWS,
        "lines": list(range(2, 1002)),  # the first 1,000 lines; the count says how many in all
    }
    assert body["details"]["groups"] == body["groups"]
    # The per-line list is still there for programs that read it.
    assert len(body["problems"]) == 1000
    assert body["problems"][0] == {"line": 2, "field": "ticket_type", "message": VIP_MESSAGE}
    assert sql(hub.database_url, "SELECT count(*) AS n FROM attendee WHERE event_id = $1", event)[0]["n"] == 0


def test_a_refused_import_shows_each_kind_of_problem_once_in_the_console(
    hub: HubProcess, http: httpx.Client
) -> None:
    org = new_org(hub.database_url, http)
    event = new_event(http, org, None)
    with console_client(hub, org) as console:
        page = console.post(
            f"/console/{org.slug}/events/{event}/attendees/import",
            files={"file": ("shop-export.csv", (VIP_CSV + ",general\n").encode(), "text/csv")},
            data={"format": "auto"},
            headers={"HX-Request": "true"},
        )
    assert page.status_code == 422
    assert _testids(page.text, "import-group") == [
        f"1,204 rows: ticket_type: {VIP_MESSAGE} ({HUB_HINT}) [lines 2, 3, 4, 5, 6 and 1,199 more]",
        f"1 row: name: must not be empty ({NAME_HINT}) [line 1,206]",
    ]
    assert "--map" not in page.text
    assert "1,205 rows rejected; nothing was imported" in page_text(page.text)


# --- in a browser -------------------------------------------------------------------------------


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def refusals_synced(hub: HubProcess, http: httpx.Client) -> tuple[Org, str]:
    """An event with the scans of :func:`refused_scans` synced (before Playwright's loop starts)."""
    org = new_org(hub.database_url, http)
    event = new_event(http, org, ROSTER)
    door = enrol_device(http, org, event)
    minute = (now_ms() // 60_000) * 60_000
    push_scans(hub, event, door, refused_scans(attendee_id(hub, event, "Ada Lovelace"), minute))
    return org, event


@pytest.mark.slow
def test_the_y_axis_labels_sit_beside_the_chart_and_the_summary_is_for_screen_readers(
    hub: HubProcess, refusals_synced: tuple[Org, str], browser: Browser
) -> None:
    from playwright.sync_api import expect

    org, event = refusals_synced
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{hub.url}/console/login")
    page.get_by_label("E-mail").fill(org.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{hub.url}/console/{org.slug}/events/{event}")

    chart = page.get_by_role("img", name=re.compile(r"Scans per minute.*7 scans from"))
    expect(chart).to_be_visible()
    top, zero = page.get_by_test_id("y-max"), page.get_by_test_id("y-zero")
    expect(top).to_have_text("7")
    expect(page.get_by_test_id("y-unit")).to_be_visible()
    box, top_box, zero_box = chart.bounding_box(), top.bounding_box(), zero.bounding_box()
    assert box and top_box and zero_box
    assert top_box["x"] + top_box["width"] <= box["x"]  # left of the bars, not over them
    top_middle = top_box["y"] + top_box["height"] / 2
    assert abs(top_middle - (box["y"] + box["height"] * 8 / 120)) < 4  # level with the top line
    assert abs(zero_box["y"] + zero_box["height"] / 2 - (box["y"] + box["height"])) < 4  # at the baseline
    assert top_box["height"] >= 10  # readable, not squashed by the stretched SVG
    hidden = page.get_by_test_id("chart-summary").bounding_box()
    assert hidden and hidden["width"] <= 1 and hidden["height"] <= 1  # for screen readers only
    expect(page.get_by_test_id("refusals")).to_contain_text("Already checked in")
    page.screenshot(path="/tmp/dashboard-refusals.png", full_page=True)
    context.close()
