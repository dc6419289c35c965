"""Screenshots of the organizer console's pages, taken by a test anyone can re-run.

A real ``konferenco hub serve`` on a fresh database, an organization made
with the CLI, an event with 30 attendees (names in several scripts), two
doors whose scans (admitted, refused for several reasons, two duplicates)
reach the hub over ``/sync`` as an appliance sends them, and headless
Chromium signed in through the console's own form.  Each test checks what
an organizer reads on the page, then takes a full-page screenshot.

Screenshots always go to pytest's ``tmp_path``; with ``KONFERENCO_SCREENSHOTS=DIR``
they are copied to DIR as well (``docs/screenshots`` holds the committed ones)::

    KONFERENCO_SCREENSHOTS=docs/screenshots .venv/bin/python -m pytest -q -p no:cacheprovider \\
        tests/hub/test_console_screenshots.py

The data is fixed (names, order codes, a seeded spread of scan times over the
last hour), so re-runs give similar images; only clock times differ.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from konferenco.types import now_ms
from tests.browser import chromium, wcag_violations
from tests.helpers import HubProcess, konferenco
from tests.hub.api_support import PASSWORD, Device, Org, api_token, enrolment_token, redeem, sql
from tests.hub.test_organizer_views import attendee_id, push_scans

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.slow

SCREENSHOTS_ENV = "KONFERENCO_SCREENSHOTS"
SEED = 20260601

SLUG, ORG_NAME, OWNER = "nordlicht", "Nordlicht Konferenzen", "owner@nordlicht.example"
EVENT, EVENT_NAME = "ev-nordlicht-2026", "Nordlicht Summit 2026"
WORKSHOP, WORKSHOP_NAME = "ev-nordlicht-workshops", "Nordlicht Workshops"
TZ = "Europe/Berlin"

#: (name, company, e-mail, ticket type, order code): 30 people, several scripts, two Núñez.
PEOPLE = [
    ("Lucía Núñez", "Universidad de Sevilla", "lucia.nunez@us.example", "speaker", "ORD-24017"),
    ("Andrés Núñez Castillo", "Telefónica", "andres@telefonica.example", "general", "ORD-24018"),
    ("Jürgen Müller", "Müller & Söhne GmbH", "j.mueller@mueller-soehne.example", "general", "ORD-24021"),
    ("田中 太郎", "株式会社ソニック", "tanaka@sonic.example", "general", "ORD-24033"),
    ("Иван Петров", "Яндекс", "ivan.petrov@yandex.example", "speaker", "ORD-24034"),
    ("Ada Lovelace", "Analytical Engines", "ada@engines.example", "general", "ORD-24040"),
    ("Grace Hopper", "US Navy", "grace@navy.example", "speaker", "ORD-24041"),
    ("Zoë Dubois", "Société Générale", "zoe.dubois@sg.example", "general", "ORD-24042"),
    ("Björn Andersson", "Spotify", "bjorn@spotify.example", "general", "ORD-24043"),
    ("Søren Kjær", "Novo Nordisk", "soren.kjaer@novo.example", "general", "ORD-24044"),
    ("Małgorzata Wiśniewska", "Allegro", "m.wisniewska@allegro.example", "general", "ORD-24045"),
    ("Γιώργος Παπαδόπουλος", "Πανεπιστήμιο Αθηνών", "giorgos@uoa.example", "general", "ORD-24046"),
    ("李 小龙", "腾讯", "li.xiaolong@tencent.example", "general", "ORD-24047"),
    ("김 민준", "삼성전자", "minjun.kim@samsung.example", "general", "ORD-24048"),
    ("Ólafur Arnalds", "Reykjavík Media", "olafur@rvk.example", "general", "ORD-24049"),
    ("Çağla Yılmaz", "Türk Telekom", "cagla@telekom.example", "general", "ORD-24050"),  # noqa: RUF001
    ("François Lefèvre", "Dassault Systèmes", "f.lefevre@3ds.example", "general", "ORD-24051"),
    ("Ngozi Okonjo", "Lagos Fintech", "ngozi@lagosfintech.example", "general", "ORD-24052"),
    ("Priya Raghunathan", "Infosys", "priya@infosys.example", "speaker", "ORD-24053"),
    ("Mateus Conceição", "Nubank", "mateus@nubank.example", "general", "ORD-24054"),
    ("Ana Ivanović", "Nordeus", "ana@nordeus.example", "general", "ORD-24055"),
    ("Kateřina Nováková", "Avast", "katerina@avast.example", "general", "ORD-24056"),
    ("Hamid Rahimi", "Snapp", "hamid@snapp.example", "general", "ORD-24057"),
    ("Eero Virtanen", "Supercell", "eero@supercell.example", "general", "ORD-24058"),
    ("Ingrid Haugen", "Equinor", "ingrid@equinor.example", "general", "ORD-24059"),
    ("Tomás Ó Briain", "Stripe", "tomas@stripe.example", "general", "ORD-24060"),
    ("Aiko Suzuki", "Rakuten", "aiko@rakuten.example", "general", "ORD-24061"),
    ("Oleksandr Shevchenko", "Grammarly", "oleksandr@grammarly.example", "general", "ORD-24062"),
    ("Elena García", "Glovo", "elena@glovo.example", "general", "ORD-24063"),
    ("Pieter de Vries", "ASML", "pieter@asml.example", "general", "ORD-24064"),
]
#: Admitted early, then scanned again three times (refused: already checked in).
REPEATER = "Lucía Núñez"
#: Her ticket was cancelled before the doors opened; she tries the side door anyway.
CANCELLED = "Elena García"
#: Admitted at the north door, then again at the south door (two appliances offline at once).
DUPLICATES = {"Jürgen Müller": "ORD-24021", "田中 太郎": "ORD-24033"}
#: Nobody else is admitted: they have not arrived yet.
NOT_ARRIVED = ("Pieter de Vries", "Oleksandr Shevchenko", "Tomás Ó Briain", "Aiko Suzuki", "Ingrid Haugen")
#: Admitted, then left again (an exit scan).
LEFT = ("Ada Lovelace", "Eero Virtanen")

#: A shop export for the workshop event: 40 rows with a ticket type it does not have, 2 without a name.
SHOP_EXPORT = (
    "Name,E-mail,Company,Ticket type,Order\n"
    + "".join(f"Guest {i:02},guest{i:02}@example.org,Acme,VIP,ORD-9{i:03}\n" for i in range(1, 41))
    + "".join(f"Visitor {i},visitor{i}@example.org,Acme,general,ORD-8{i:03}\n" for i in range(1, 7))
    + ",nobody@example.org,Acme,general,ORD-8101\n"
    + ",someone@example.org,Acme,general,ORD-8102\n"
)


@dataclass(frozen=True)
class Festival:
    """The organization and its two events, with everything already synced to the hub."""

    org: Org
    event: str
    workshop: str
    admitted: int
    scans: int
    refused: int


def _create_event(http: httpx.Client, org: Org, event_id: str, name: str) -> str:
    today = datetime.now(ZoneInfo(TZ)).date()
    starts = datetime.combine(today, time(9), ZoneInfo(TZ))
    ends = datetime.combine(today + timedelta(days=1), time(18), ZoneInfo(TZ))
    response = http.post(
        "/api/v1/events",
        json={
            "id": event_id,
            "name": name,
            "timezone": TZ,
            "starts_at": int(starts.timestamp() * 1000),
            "ends_at": int(ends.timestamp() * 1000),
        },
        headers=org.auth,
    )
    assert response.status_code == 201, response.text
    return event_id


def _named_device(http: httpx.Client, org: Org, event: str, name: str) -> Device:
    response = redeem(http, enrolment_token(http, org, event), name=name)
    assert response.status_code == 201, response.text
    grant = response.json()
    return Device(grant["device_id"], grant["event_id"], grant["credential"], b"")


def _scans(ids: dict[str, str], minute: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The north and south doors' logs: arrivals spread over the last 45 minutes (seeded), refusals,
    two exits, and the two duplicates."""
    rng = random.Random(SEED)
    north: list[dict[str, Any]] = []
    south: list[dict[str, Any]] = []

    def at(minutes_ago: int) -> int:
        return minute - minutes_ago * 60_000 + rng.randrange(0, 59_000)

    def scan(gate: str, when: int, name: str | None = None, **fields: Any) -> dict[str, Any]:
        person = {"attendee_id": ids[name], "list_id": "main"} if name else {}
        return {"gate": gate, "result": "admitted", "at": when, **person, **fields}

    # Lucía came in early at the north door, then her badge was scanned again three times.
    lucia = at(40)
    north.append(scan("main", lucia, REPEATER))
    arriving = [p[0] for p in PEOPLE if p[0] not in (*NOT_ARRIVED, CANCELLED, REPEATER)]
    for name in arriving:
        # Doors opened 45 minutes ago; most people came in the first half hour, nobody in the last 5.
        when = at(45 - min(int(rng.expovariate(1 / 12)), 40))
        if name in DUPLICATES:
            north.append(scan("main", when, name))
            south.append(scan("side", when + 40_000, name))
        else:
            door = north if rng.random() < 0.6 else south
            door.append(scan("main" if rng.random() < 0.7 else "side", when, name))
    for name in LEFT:
        north.append(scan("main", at(2), name, direction="exit"))
    first = datetime.fromtimestamp(lucia / 1000, ZoneInfo(TZ)).strftime("%H:%M")
    again = f"Already checked in at {first} at gate main (North door); this list admits once."
    for ago in (30, 18, 9):
        north.append(scan("main", at(ago), REPEATER, result="already_admitted", reason=again))
    for ago in (25, 7):
        south.append(
            scan("side", at(ago), result="unknown_badge", reason="This tag is not linked to anyone.")
        )
    south.append(scan("side", at(12), CANCELLED, result="revoked", reason="This ticket was cancelled."))
    north.append(scan("main", at(20), result="expired", reason="This badge was valid until yesterday 18:00."))
    return north, south


@pytest.fixture(scope="module")
def festival(hub: HubProcess, http: httpx.Client) -> Festival:
    """Everything an organizer would find on a busy morning, set up before Playwright starts."""
    konferenco(
        "hub", "create-organization", "--database-url", hub.database_url, "--name", ORG_NAME, "--slug", SLUG,
        "--tier", "professional", "--owner-email", OWNER, "--owner-password", PASSWORD,
    )  # fmt: skip
    org_id = str(sql(hub.database_url, "SELECT id FROM organization WHERE slug = $1", SLUG)[0]["id"])
    org = Org(SLUG, org_id, OWNER, api_token(http, OWNER, SLUG))

    event = _create_event(http, org, EVENT, EVENT_NAME)
    added = http.post(
        f"/api/v1/events/{event}/ticket-types", json={"id": "speaker", "name": "Speaker"}, headers=org.auth
    )
    assert added.status_code == 201, added.text
    side = http.post(
        f"/api/v1/events/{event}/gates",
        json={"id": "side", "name": "Side door", "default_list": "main"},
        headers=org.auth,
    )
    assert side.status_code == 201, side.text
    roster = "external_ref,name,company,email,ticket_type,order_ref\n" + "".join(
        f'T-{i:03},"{name}","{company}",{email},{ticket},{order}\n'
        for i, (name, company, email, ticket, order) in enumerate(PEOPLE, 1)
    )
    imported = http.post(
        f"/api/v1/events/{event}/attendees/import", content=roster.encode(), headers=org.auth
    )
    assert imported.status_code == 200, imported.text
    ids = {p[0]: attendee_id(hub, event, p[0]) for p in PEOPLE}
    cancelled = http.post(f"/api/v1/events/{event}/attendees/{ids[CANCELLED]}/cancel", headers=org.auth)
    assert cancelled.status_code == 200, cancelled.text

    north_door, south_door = (_named_device(http, org, event, n) for n in ("North door", "South door"))
    north, south = _scans(ids, (now_ms() // 60_000) * 60_000)
    push_scans(hub, event, north_door, north)
    push_scans(hub, event, south_door, south)

    workshop = _create_event(http, org, WORKSHOP, WORKSHOP_NAME)
    every = north + south
    return Festival(
        org,
        event,
        workshop,
        admitted=len({s["attendee_id"] for s in every if s["result"] == "admitted"}),
        scans=len(every),
        refused=sum(s["result"] != "admitted" for s in every),
    )


@pytest.fixture(scope="module")
def browser(festival: Festival) -> Iterator[Browser]:
    """Chromium, started after the data is in: Playwright's sync API runs an event loop in this thread,
    and the setup above runs its own (``asyncio.run``)."""
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(hub: HubProcess, festival: Festival, browser: Browser) -> Iterator[Page]:
    """A page signed in to the console as the organization's owner, in light mode at 1280x900."""
    from playwright.sync_api import expect

    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, color_scheme="light", locale="en-GB", bypass_csp=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{hub.url}/console/login")
    page.get_by_label("E-mail").fill(OWNER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{hub.url}/console/{SLUG}")
    try:
        yield page
    finally:
        context.close()
    refusals = "Failed to load resource: the server responded with a status of 422"  # the refused file
    assert [e for e in errors if not e.startswith(refusals)] == [], errors


def screenshot(page: Page, tmp_path: Path, name: str) -> Path:
    """A full-page PNG in ``tmp_path``, copied to ``$KONFERENCO_SCREENSHOTS`` when that is set.

    Every page shown is also held to WCAG 2.2 AA with axe-core: what we show organizers must be
    usable with a screen reader, a keyboard and low vision.
    """
    assert wcag_violations(page) == [], name
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
    assert path.stat().st_size > 10_000, "an almost empty image"
    if target := os.environ.get(SCREENSHOTS_ENV):
        directory = Path(target)
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, directory / name)
    return path


def event_url(hub: HubProcess, event: str) -> str:
    return f"{hub.url}/console/{SLUG}/events/{event}"


def test_dashboard(hub: HubProcess, festival: Festival, page: Page, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page.goto(event_url(hub, festival.event))
    expect(page.get_by_role("heading", name=EVENT_NAME)).to_be_visible()
    expect(page.get_by_test_id("admitted")).to_have_text(str(festival.admitted))
    expect(page.locator(".card.primary .sub")).to_have_text("of 29 on the roster")  # one ticket cancelled
    expect(page.get_by_test_id("inside")).to_have_text(str(festival.admitted - len(LEFT)))
    expect(page.get_by_test_id("scans")).to_have_text(str(festival.scans))
    expect(page.get_by_test_id("refused")).to_have_text("7")
    assert festival.refused == 7
    reasons = page.get_by_test_id("refusal")
    expect(reasons).to_have_count(4)
    expect(page.get_by_test_id("refusal-reason")).to_have_text([
        "Already checked in", "Badge or tag not known", "Too late (badge expired or list closed)",
        "Ticket cancelled or badge revoked",
    ])  # fmt: skip
    expect(page.get_by_test_id("refusal-count")).to_have_text(["3", "2", "1", "1"])
    expect(reasons.first).to_contain_text(
        re.compile(
            r"Latest: Already checked in at \d\d:\d\d at gate main \(North door\); this list admits once"
        )
    )
    expect(page.get_by_test_id("y-unit")).to_have_text("scans/min")
    per_gate = page.get_by_role("heading", name="Admissions per gate").locator("xpath=..")
    expect(per_gate).to_contain_text("Side door")  # the name organizers gave the gate, not its id
    per_device = page.get_by_role("heading", name="Per device").locator("xpath=..")
    expect(per_device).to_contain_text("North door")
    expect(per_device).to_contain_text("South door")
    # The page ends where its content does: the screen readers' table of minutes adds no blank scroll.
    updated = page.locator("p.updated").bounding_box()
    assert updated, "the dashboard's last line"
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height <= updated["y"] + updated["height"] + 60, (height, updated)
    screenshot(page, tmp_path, "dashboard.png")


def test_attendee_search_ignores_accents(
    hub: HubProcess, festival: Festival, page: Page, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{event_url(hub, festival.event)}/attendees")
    results = page.get_by_test_id("attendee-results").locator("tbody tr")
    expect(results).to_have_count(len(PEOPLE))
    page.get_by_label("Search attendees").press_sequentially("nunez", delay=40)
    expect(results).to_have_count(2)
    expect(results.nth(0).locator("strong")).to_have_text(re.compile("Núñez"))
    expect(results.nth(1).locator("strong")).to_have_text(re.compile("Núñez"))
    expect(page.get_by_test_id("attendee-results")).to_contain_text("Lucía Núñez")
    expect(page.get_by_test_id("attendee-results")).to_contain_text("ORD-24017")
    expect(page.get_by_test_id("attendee-results")).not_to_contain_text("Müller")
    screenshot(page, tmp_path, "attendees-search.png")


def test_duplicates_name_people_and_their_order_codes(
    hub: HubProcess, festival: Festival, page: Page, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{event_url(hub, festival.event)}/duplicates")
    rows = page.get_by_test_id("duplicates").locator("tbody tr")
    expect(rows).to_have_count(len(DUPLICATES))
    found = {
        rows.nth(i).get_by_test_id("duplicate-name").inner_text(): rows.nth(i)
        .get_by_test_id("duplicate-order")
        .inner_text()
        for i in range(len(DUPLICATES))
    }
    assert found == DUPLICATES
    for name in DUPLICATES:
        row = page.get_by_test_id("duplicates").locator("tbody tr", has_text=name)
        expect(row).to_contain_text("North door")
        expect(row).to_contain_text("South door")
    screenshot(page, tmp_path, "duplicates.png")


def test_a_refused_import_groups_its_problems(
    hub: HubProcess, festival: Festival, page: Page, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{event_url(hub, festival.workshop)}/attendees")
    page.get_by_label("File", exact=True).set_input_files(
        {"name": "shop-export.csv", "mimeType": "text/csv", "buffer": SHOP_EXPORT.encode()}
    )
    page.get_by_role("button", name="Import").click()
    refused = page.get_by_test_id("import-refused")
    expect(refused).to_contain_text("42 rows rejected; nothing was imported")
    expect(refused).to_contain_text("shop-export.csv (48 rows)")
    groups = page.get_by_test_id("import-group")
    expect(groups).to_have_count(2)
    expect(groups.nth(0)).to_contain_text("40 rows: ticket_type: unknown ticket type 'VIP'")
    expect(groups.nth(0)).to_contain_text("[lines 2, 3, 4, 5, 6 and 35 more]")
    expect(groups.nth(1)).to_contain_text("2 rows: name: must not be empty")
    expect(groups.nth(1)).to_contain_text("[lines 48, 49]")
    expect(page.locator("#attendee-results")).to_contain_text("No attendees yet")
    button, alert = page.get_by_role("button", name="Import").bounding_box(), refused.bounding_box()
    assert button and alert
    assert alert["y"] >= button["y"] + button["height"] + 8, "the report touches the Import button"
    screenshot(page, tmp_path, "import-refused.png")


def test_the_audit_trail_names_who_enrolled_the_doors(
    hub: HubProcess, festival: Festival, page: Page, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page.get_by_role("link", name="Audit trail").click()
    expect(page.get_by_role("heading", name="Audit trail")).to_be_visible()
    entries = page.get_by_test_id("audit-entry")
    enrolments = page.locator('[data-testid="audit-entry"][data-action="device.enrol"]')
    expect(enrolments).to_have_count(2)  # the North and South doors
    expect(enrolments.first).to_contain_text(OWNER)
    expect(entries.first).to_contain_text(OWNER)
    actions = [entries.nth(i).get_attribute("data-action") for i in range(entries.count())]
    assert set(actions) <= {"device.enrol", "token.create", "catalog.import", "attendee.revoke"}, actions
    screenshot(page, tmp_path, "audit.png")


def test_a_rogue_box_met_at_the_venue_is_shown_on_the_devices_page(
    hub: HubProcess, festival: Festival, page: Page, tmp_path: Path
) -> None:
    """How a projected ``peer_refused`` record looks (tests/e2e/test_peer_trust.py plays one)."""
    from playwright.sync_api import expect

    def off_the_loop(query: str, *args: object) -> list[Any]:  # Playwright's loop runs in this thread
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(sql, hub.database_url, query, *args).result()

    device = off_the_loop("SELECT id FROM device WHERE event_id = $1 ORDER BY name", festival.event)[0]
    off_the_loop(
        "INSERT INTO peer_refusal (event_id, id, org_id, device_id, peer, direction, reason, at)"
        " VALUES ($1, 'r-rogue', $2::uuid, $3, 'http://10.20.0.66:8080', 'upstream',"
        " 'the certificate of ''dev-4f1c'' is not signed by a key of event ' || $1, $4)"
        " ON CONFLICT DO NOTHING",
        festival.event,
        festival.org.org_id,
        device["id"],
        int(datetime.now().timestamp() * 1000) - 600_000,
    )
    page.goto(f"{event_url(hub, festival.event)}/devices")
    panel = page.get_by_test_id("refused-peers")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("http://10.20.0.66:8080")
    expect(panel.get_by_test_id("refused-peer")).to_have_count(1)
    screenshot(page, tmp_path, "devices-refused-peer.png")


def test_the_account_page_is_accessible(hub: HubProcess, page: Page) -> None:
    from playwright.sync_api import expect

    page.get_by_role("link", name="Account").click()
    expect(page.get_by_role("button", name="Change password")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out everywhere")).to_be_visible()
    assert wcag_violations(page) == []


def test_the_accessibility_check_catches_a_broken_page(hub: HubProcess, page: Page) -> None:
    """The WCAG check above must be able to fail: an image without a text alternative is caught."""
    page.goto(f"{hub.url}/console/{SLUG}")
    page.evaluate("document.querySelector('main, body').append(document.createElement('img'))")
    assert any(v.startswith("image-alt ") for v in wcag_violations(page))
