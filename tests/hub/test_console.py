"""The organizer console as a browser without JavaScript (and htmx's requests) sees it.

The hub app runs in-process (``AsyncTestClient``, lifespan included).  The
tests of this module share one migrated database; each test gets its own
organizations (random short names), accounts and app, so none sees
another's rows or inherits another's failed sign-ins.  Accounts and the
other organization are made with the tenants service; everything the
organizer does goes through the console's own forms.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import start_blocking_portal
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from hub.app import create_app
from hub.catalog.events import create_event
from hub.console.render import day_bounds, local_time
from hub.devices.enrolment import DeviceAuth, EnrolRequest, Grant, create_enrolment, redeem
from hub.settings import HubSettings
from hub.tenants.accounts import OrgRole, Principal, add_member, create_account, create_organization
from konferenco.errors import Invalid, Unauthorized
from tests.hub.services import PASSWORD, Hub, hub_services, organization

HUB_URL = "http://hub.test"
HTMX = {"HX-Request": "true"}

GOOD_CSV = (
    "name,email,company,ticket type,reference\n"
    "Ada Lovelace,ada@example.com,Analytical Engines,general,T-1\n"
    "Grace Hopper,grace@example.com,US Navy,General,T-2\n"
    "Alan Turing,alan@example.com,Bletchley Park,general,T-3\n"
)
# Line 2 has no name, line 4 an unknown ticket type; line 3 alone would be fine.
BAD_CSV = (
    "name,email,company,ticket type,reference\n"
    ",nobody@example.com,Nowhere,general,T-9\n"
    "Ada Lovelace,ada@example.com,Analytical Engines,general,T-1\n"
    "Grace Hopper,grace@example.com,US Navy,platinum,T-2\n"
)
#: 2026-06-01 07:00:00 UTC, 09:00:00 in Berlin (summer time).
SEVEN_UTC = 1_780_297_200_000


@dataclass
class Console:
    """The app under test (its own loop and connections, in the test client's thread) and, beside it,
    the test's own services on the same database and secrets, to seed and check rows."""

    client: AsyncTestClient[Litestar]
    hub: Hub
    mine: Principal  # the visitor's organization; its owner signs in by default
    other: Principal  # another organization, with one event
    other_event: str
    viewer: str  # e-mail of a viewer of ``mine``
    #: The CSRF token of the last console page this "browser" loaded, sent with every request that
    #: changes something (as console.js does for htmx, and a form's hidden field does without it).
    csrf: str = ""
    send_csrf: bool = True

    def track_csrf(self) -> None:
        """Read the token off every HTML page, and send it the way the console's pages do."""

        async def remember(response: httpx.Response) -> None:
            if response.headers.get("content-type", "").startswith("text/html"):
                await response.aread()
                if match := re.search(r'<meta name="csrf-token" content="([^"]*)"', response.text):
                    self.csrf = match.group(1)

        async def send(request: httpx.Request) -> None:
            if request.method != "GET" and self.send_csrf and "x-csrf-token" not in request.headers:
                request.headers["X-CSRF-Token"] = self.csrf

        self.client.event_hooks = {"request": [send], "response": [remember]}

    @property
    def org(self) -> str:
        return f"/console/{self.mine.org_slug}"

    @property
    def owner(self) -> str:
        return f"owner@{self.mine.org_slug}.example"

    async def sign_in(self, email: str | None = None, password: str = PASSWORD) -> httpx.Response:
        """As a browser does: load the form (its token), send it, then load a page of the new session."""
        await self.client.get("/console/login")
        response = await self.client.post(
            "/console/login", data={"email": email or self.owner, "password": password, "next": "/console"}
        )
        if response.status_code == 303:
            assert (await self.client.get("/console/account")).status_code == 200
        return response

    async def count(self, sql: str, **params: Any) -> int:
        async with self.hub.db.system() as conn:
            return int((await conn.execute(text(sql), {"o": self.mine.org_id, **params})).scalar_one())

    async def new_event(self, name: str = "PyCon Test", timezone: str = "Europe/Berlin") -> str:
        response = await self.client.post(
            f"{self.org}/events",
            data={"name": name, "timezone": timezone, "starts": "2026-06-01", "ends": "2026-06-03"},
        )
        assert response.status_code == 303, response.text
        match = re.fullmatch(rf"{self.org}/events/([\w.:-]+)", response.headers["location"])
        assert match, response.headers["location"]
        return match.group(1)

    async def upload(
        self, event: str, body: str, filename: str = "roster.csv", htmx: bool = False
    ) -> httpx.Response:
        return await self.client.post(
            f"{self.org}/events/{event}/attendees/import",
            files={"file": (filename, body.encode(), "text/csv")},
            data={"format": "auto"},
            headers=HTMX if htmx else {},
        )

    async def device(self, event: str, name: str = "") -> Grant:
        """A device enrolled for ``event`` the way an appliance does it (token, then redeem)."""
        async with self.hub.db.tenant(self.mine.org_id) as conn:
            enrolment = await create_enrolment(conn, self.mine, event, ["scanner"], HUB_URL, name=name)
        return await self.redeem(enrolment.token)

    async def redeem(self, token: str) -> Grant:
        request = EnrolRequest(token=token, badge_public_key=_public_key())
        catalog_key = self.hub.secrets.catalog_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return await redeem(self.hub.db, self.hub.sealer, catalog_key, request)


def _public_key() -> str:
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


async def _create_app(settings: HubSettings) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def console(hub_db_module: str, tmp_path: Path) -> AsyncIterator[Console]:
    secrets_dir = tmp_path / "secrets"
    suffix = secrets.token_hex(3)
    async with hub_services(hub_db_module, secrets_dir) as hub:
        async with hub.db.system() as conn:  # every test signs in from the same address ("testclient")
            await conn.execute(text("DELETE FROM login_failure"))
        mine = await organization(hub, f"acme-{suffix}")
        other = await organization(hub, f"globex-{suffix}")
        viewer = f"viewer@acme-{suffix}.example"
        async with hub.db.system() as conn:
            await create_account(conn, viewer, PASSWORD)
            await add_member(conn, mine.org_id, viewer, OrgRole.VIEWER)
        async with hub.db.tenant(other.org_id) as conn:
            other_event = await create_event(conn, hub.sealer, other, "Globex private summit")
        settings = HubSettings(database_url=hub_db_module, secrets_dir=secrets_dir, public_url=HUB_URL)
        # create_app builds its asyncpg pool on the loop it is called on, so build it on the loop the
        # test client runs the app on (the client's blocking portal), not on the test's own loop.
        with start_blocking_portal() as portal:
            app = portal.call(_create_app, settings)
            client = AsyncTestClient(app, base_url=HUB_URL)
            client.blocking_portal = portal
            async with client:
                client.follow_redirects = False  # the tests look at each redirect
                console = Console(client, hub, mine, other, other_event, viewer)
                console.track_csrf()
                yield console


def _testids(html: str, name: str) -> list[str]:
    return [m.strip() for m in re.findall(rf'data-testid="{name}"[^>]*>([^<]*)<', html)]


# --- signing in -------------------------------------------------------------------------


async def test_a_signed_out_visitor_is_sent_to_sign_in_and_back(console: Console) -> None:
    page = f"{console.org}/events/ev-x/attendees?q=ada"
    response = await console.client.get(page)
    assert response.status_code == 303
    assert (
        response.headers["location"] == f"/console/login?next={console.org}/events/ev-x/attendees%3Fq%3Dada"
    )
    form = await console.client.get(response.headers["location"])
    assert f'name="next" value="{page}"' in form.text
    signed_in = await console.client.post(
        "/console/login", data={"email": console.owner, "password": PASSWORD, "next": page}
    )
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == page
    cookie = signed_in.headers["set-cookie"]
    assert cookie.startswith("kf_session=kh1.")
    attributes = {a.strip().lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= attributes


async def test_an_htmx_request_without_a_session_navigates_the_page_to_sign_in(console: Console) -> None:
    response = await console.client.get(
        f"{console.org}/events/ev-x/dashboard/live",
        headers={**HTMX, "HX-Current-URL": f"{HUB_URL}{console.org}/events/ev-x"},
    )
    assert response.status_code == 401
    assert response.headers["hx-redirect"] == f"/console/login?next={console.org}/events/ev-x"


async def test_a_form_sent_after_the_session_ended_comes_back_to_its_page(console: Console) -> None:
    await console.sign_in()
    event_page = f"{console.org}/events/ev-x/ticket-types"
    async with console.hub.db.system() as conn:  # the session ends while the page is open
        await conn.execute(text("DELETE FROM console_session"))
    response = await console.client.post(
        f"{console.org}/events/ev-x/ticket-types",
        data={"name": "VIP"},
        headers={"Referer": f"{HUB_URL}{event_page}"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/console/login?next={event_page}"  # not the POST-only URL


async def test_the_sign_in_page_sends_a_signed_in_visitor_on(console: Console) -> None:
    await console.sign_in()
    response = await console.client.get("/console/login", params={"next": f"{console.org}/tokens"})
    assert response.status_code == 303
    assert response.headers["location"] == f"{console.org}/tokens"


async def test_a_forged_session_cookie_is_not_accepted(console: Console) -> None:
    for forged in ("kh1.eyJhY2NvdW50IjoieCIsImV4cCI6OTk5OTk5OTk5OX0.forged", "kh1." + "A" * 43, "x" * 200):
        console.client.cookies.set("kf_session", forged)
        response = await console.client.get(console.org)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/console/login")


async def test_a_wrong_password_is_explained_in_the_form(console: Console) -> None:
    response = await console.sign_in(password="not the password")
    assert response.status_code == 401
    assert _testids(response.text, "signin-error") == ["wrong e-mail or password"]
    assert f'value="{console.owner}"' in response.text  # the e-mail stays typed
    assert "set-cookie" not in response.headers
    assert (await console.client.get(console.org)).status_code == 303


async def test_sign_in_is_refused_for_a_while_after_five_failures(console: Console) -> None:
    for _ in range(5):
        assert (await console.sign_in(password="guess")).status_code == 401
    response = await console.sign_in()  # even the right password now waits
    assert response.status_code == 429
    assert "too many failed sign-ins; try again in" in _testids(response.text, "signin-error")[0]
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert "set-cookie" not in response.headers


async def test_next_cannot_send_the_visitor_to_another_site(console: Console) -> None:
    for target in ("https://evil.example/console", "//evil.example/console", "/console\\@evil.example"):
        console.client.cookies.clear()
        await console.client.get("/console/login")  # the form, and its token
        response = await console.client.post(
            "/console/login", data={"email": console.owner, "password": PASSWORD, "next": target}
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/console", target


async def test_signing_out_ends_the_session_in_this_browser(console: Console) -> None:
    await console.sign_in()
    assert (await console.client.get(console.org)).status_code == 200
    response = await console.client.post("/console/logout")
    assert response.status_code == 303
    assert 'kf_session=""' in response.headers["set-cookie"] or "Max-Age=0" in response.headers["set-cookie"]
    assert (await console.client.get(console.org)).status_code == 303


async def test_an_account_in_one_organization_goes_straight_to_it(console: Console) -> None:
    await console.sign_in()
    response = await console.client.get("/console")
    assert response.status_code == 303
    assert response.headers["location"] == console.org


# --- roles and tenants ------------------------------------------------------------------


async def test_a_viewer_sees_pages_without_forms_and_cannot_change_anything(console: Console) -> None:
    await console.sign_in()
    event = await console.new_event()
    assert (await console.upload(event, GOOD_CSV)).status_code == 200
    grant = await console.device(event)
    console.client.cookies.clear()
    assert (await console.sign_in(console.viewer)).status_code == 303
    base = f"{console.org}/events/{event}"

    org_page = await console.client.get(console.org)
    assert org_page.status_code == 200 and "PyCon Test" in org_page.text
    assert f'action="{console.org}/events"' not in org_page.text
    devices = await console.client.get(f"{base}/devices")
    assert devices.status_code == 200 and grant.device_id in devices.text
    assert "Revoke" not in devices.text and "Enrol a device" not in devices.text
    attendees = await console.client.get(f"{base}/attendees")
    assert "Ada Lovelace" in attendees.text and "Import attendees" not in attendees.text
    assert "Add a ticket type" not in (await console.client.get(f"{base}/ticket-types")).text
    assert 'name="name"' not in (await console.client.get(f"{console.org}/tokens")).text

    attempts = {
        f"{console.org}/events": {"name": "Viewer's event", "timezone": "UTC"},
        f"{base}/ticket-types": {"name": "Sneaky"},
        f"{base}/enrolments": {"capabilities": "organizer"},
        f"{base}/devices/{grant.device_id}/revoke": {},
        f"{console.org}/tokens": {"name": "mine"},
    }
    for path, form in attempts.items():
        response = await console.client.post(path, data=form)
        assert response.status_code == 403, path
        assert "needs the organizer role" in response.text, path
    refused = await console.upload(event, GOOD_CSV.replace("Ada", "Augusta"))
    assert refused.status_code == 403
    assert await console.count("SELECT count(*) FROM event WHERE org_id = :o") == 1
    assert await console.count("SELECT count(*) FROM ticket_type WHERE event_id = :e", e=event) == 1
    assert await console.count("SELECT count(*) FROM enrolment WHERE event_id = :e", e=event) == 1
    assert (
        await console.count("SELECT count(*) FROM device WHERE org_id = :o AND revoked_at IS NOT NULL") == 0
    )
    assert await console.count("SELECT count(*) FROM api_token WHERE org_id = :o") == 0
    assert (
        await console.count("SELECT count(*) FROM attendee WHERE org_id = :o AND name LIKE 'Augusta%'") == 0
    )


async def test_another_organizations_event_is_out_of_reach(console: Console) -> None:
    await console.sign_in()
    theirs = f"/console/{console.other.org_slug}"
    event = console.other_event
    assert (await console.client.get(theirs)).status_code == 403
    for path in (
        "",
        "/attendees",
        "/devices",
        "/duplicates",
        "/badges.csv",
        "/ticket-types",
        "/dashboard/live",
    ):
        through_their_org = await console.client.get(f"{theirs}/events/{event}{path}")
        assert through_their_org.status_code == 403, path
        through_mine = await console.client.get(f"{console.org}/events/{event}{path}")
        assert through_mine.status_code == 404, path  # RLS: my organization's transaction cannot see it
        assert "Globex private summit" not in through_mine.text
    upload = {"file": ("r.csv", GOOD_CSV.encode())}
    assert (await console.upload(event, GOOD_CSV)).status_code == 404
    assert (
        await console.client.post(f"{theirs}/events/{event}/attendees/import", files=upload)
    ).status_code == 403
    assert await console.count("SELECT count(*) FROM attendee WHERE event_id = :e", e=event) == 0


async def test_a_post_from_another_site_is_refused(console: Console) -> None:
    await console.sign_in()
    form = {"name": "Cross-site", "timezone": "UTC"}
    refused = await console.client.post(
        f"{console.org}/events", data=form, headers={"Origin": "https://evil.example"}
    )
    assert refused.status_code == 403
    assert "sent from another site" in refused.text
    assert await console.count("SELECT count(*) FROM event WHERE org_id = :o") == 0
    accepted = await console.client.post(f"{console.org}/events", data=form, headers={"Origin": HUB_URL})
    assert accepted.status_code == 303
    # Behind a reverse proxy that rewrites Host, the hub's public URL is still its own origin.
    proxied = {"Origin": HUB_URL, "Host": "10.0.0.5:8000"}
    assert (await console.client.post(f"{console.org}/events", data=form, headers=proxied)).status_code == 303
    assert await console.count("SELECT count(*) FROM event WHERE org_id = :o AND name = 'Cross-site'") == 2


# --- events, import, search -------------------------------------------------------------


async def test_a_new_event_keeps_its_dates_in_its_own_time_zone(console: Console) -> None:
    await console.sign_in()
    event = await console.new_event("Tokyo Summit", "Asia/Tokyo")
    page = await console.client.get(f"{console.org}/events/{event}")
    assert page.status_code == 200
    assert "Mon 01 Jun 2026 \N{EN DASH} Wed 03 Jun 2026" in page.text
    assert "times in <strong>Asia/Tokyo</strong>" in page.text
    async with console.hub.db.system() as conn:
        row = (await conn.execute(text("SELECT starts_at FROM event WHERE id = :e"), {"e": event})).one()
    assert local_time(row.starts_at, "UTC") == "2026-05-31 15:00"  # midnight in Tokyo


async def test_a_mistyped_event_is_shown_again_with_the_reason(console: Console) -> None:
    await console.sign_in()
    response = await console.client.post(
        f"{console.org}/events",
        data={"name": "Typo Conf", "timezone": "Europe/Berlni", "starts": "2026-06-01"},
    )
    assert response.status_code == 422
    assert "unknown time zone &#39;Europe/Berlni&#39;" in response.text
    assert 'value="Typo Conf"' in response.text and 'value="Europe/Berlni"' in response.text
    backwards = await console.client.post(
        f"{console.org}/events",
        data={"name": "Backwards", "timezone": "UTC", "starts": "2026-06-03", "ends": "2026-06-01"},
    )
    assert backwards.status_code == 422 and "the event ends before it starts" in backwards.text
    assert await console.count("SELECT count(*) FROM event WHERE org_id = :o") == 0


async def test_a_refused_import_lists_every_bad_row_and_imports_nothing(console: Console) -> None:
    await console.sign_in()
    event = await console.new_event()
    response = await console.upload(event, BAD_CSV)
    assert response.status_code == 422
    assert "2 rows rejected; nothing was imported" in response.text
    report = re.findall(
        r'<tr><td class="num">(\d+)</td><td class="mono">(\w+)</td><td>([^<]+)</td></tr>', response.text
    )
    assert [(line, field) for line, field, _ in report] == [("2", "name"), ("4", "ticket_type")]
    assert "unknown ticket type &#39;platinum&#39;" in report[1][2]
    assert await console.count("SELECT count(*) FROM attendee WHERE event_id = :e", e=event) == 0

    fragment = await console.upload(event, GOOD_CSV, htmx=True)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text  # a fragment for the page's result area
    assert _testids(fragment.text, "import-added") == ["3"]
    assert fragment.headers["hx-trigger"] == "attendees-changed"
    again = await console.upload(event, GOOD_CSV, htmx=True)
    assert _testids(again.text, "import-unchanged") == ["3"]
    assert _testids(again.text, "import-added") == ["0"]


async def test_a_json_import_reports_items_by_position(console: Console) -> None:
    await console.sign_in()
    event = await console.new_event()
    body = '[{"name": "Ada Lovelace", "ticket_type": "general"}, {"name": "", "ticket_type": "general"}]'
    response = await console.upload(event, body, filename="roster.json", htmx=True)
    assert response.status_code == 422
    assert '<th class="num">Item</th>' in response.text
    assert '<tr><td class="num">2</td><td class="mono">name</td>' in response.text
    assert await console.count("SELECT count(*) FROM attendee WHERE event_id = :e", e=event) == 0


async def test_an_upload_without_a_file_says_so(console: Console) -> None:
    await console.sign_in()
    event = await console.new_event()
    response = await console.client.post(
        f"{console.org}/events/{event}/attendees/import", data={"format": "csv"}, headers=HTMX
    )
    assert response.status_code == 422
    assert response.headers["hx-retarget"] == "#flash"
    assert "choose a CSV or JSON file to import" in response.text


async def test_search_finds_attendees_by_name_prefix_company_and_reference(console: Console) -> None:
    await console.sign_in()
    event = await console.new_event()
    await console.upload(event, GOOD_CSV)
    search = f"{console.org}/events/{event}/attendees/search"
    for query, expected in (("grac", "Grace Hopper"), ("bletchley", "Alan Turing"), ("T-1", "Ada Lovelace")):
        response = await console.client.get(search, params={"q": query}, headers=HTMX)
        assert response.status_code == 200
        assert re.findall(r"<td><strong>([^<]+)</strong>", response.text) == [expected], query
    nobody = await console.client.get(search, params={"q": "zzz"}, headers=HTMX)
    assert _testids(nobody.text, "no-match") == [
        "Nobody matches \N{LEFT DOUBLE QUOTATION MARK}zzz\N{RIGHT DOUBLE QUOTATION MARK}."
    ]


async def test_ticket_types_can_be_added_with_an_id_derived_from_the_name(console: Console) -> None:
    await console.sign_in()
    event = await console.new_event()
    response = await console.client.post(
        f"{console.org}/events/{event}/ticket-types", data={"name": "Speaker pass"}
    )
    assert response.status_code == 303
    page = await console.client.get(response.headers["location"])
    assert '<strong>Speaker pass</strong></td><td class="mono muted">speaker-pass</td>' in page.text
    bad = await console.client.post(
        f"{console.org}/events/{event}/ticket-types", data={"name": "VIP", "id": "has space"}
    )
    assert bad.status_code == 422 and 'value="has space"' in bad.text


async def test_badge_codes_download_with_the_session_cookie(console: Console) -> None:
    await console.sign_in()
    event = await console.new_event()
    await console.upload(event, GOOD_CSV)
    response = await console.client.get(f"{console.org}/events/{event}/badges.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert f'filename="{event}-badges.csv"' in response.headers["content-disposition"]
    lines = response.text.strip().splitlines()
    # The appliance's columns (konferenco.catalog.badge_csv), so a print shop gets one format.
    assert lines[0] == "attendee_id,badge_code,name,company,ticket_type,order_ref,nfc_uid,status"
    assert len(lines) == 4 and all(line.split(",")[1] for line in lines[1:])


async def test_api_tokens_are_shown_once_and_work_for_the_api(console: Console) -> None:
    await console.sign_in()
    response = await console.client.post(f"{console.org}/tokens", data={"name": "ticket shop sync"})
    assert response.status_code == 201
    (token,) = _testids(response.text, "api-token")
    assert token.startswith("kt1_")
    api = await console.client.get("/api/v1/events", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200 and api.json() == []
    listed = await console.client.get(f"{console.org}/tokens")
    assert "ticket shop sync" in listed.text and token not in listed.text


# --- devices, dashboard, duplicates -----------------------------------------------------


async def test_an_enrolment_shows_a_qr_code_a_token_and_the_command_and_the_token_works(
    console: Console,
) -> None:
    await console.sign_in()
    event = await console.new_event()
    response = await console.client.post(
        f"{console.org}/events/{event}/enrolments",
        data={"name": "North door", "capabilities": ["scanner", "printer"], "ttl_hours": "24"},
        headers=HTMX,
    )
    assert response.status_code == 201
    assert '<svg role="img" aria-label="enrolment QR code"' in response.text
    (token,) = _testids(response.text, "enrol-token")
    assert token.startswith("ke1_")
    assert _testids(response.text, "enrol-command") == [
        f"konferenco appliance enroll --data DIR --hub {HUB_URL} --token {token}"
    ]
    grant = await console.redeem(token)
    assert grant.event_id == event and grant.capabilities == ["printer", "scanner"]
    devices = await console.client.get(f"{console.org}/events/{event}/devices")
    assert "North door" in devices.text and grant.device_id in devices.text

    nothing_chosen = await console.client.post(
        f"{console.org}/events/{event}/enrolments", data={"name": "x"}, headers=HTMX
    )
    assert nothing_chosen.status_code == 422 and "choose at least one capability" in nothing_chosen.text


async def test_revoking_a_device_marks_it_revoked_and_stops_its_credential(console: Console) -> None:
    await console.sign_in()
    event = await console.new_event()
    grant = await console.device(event, "Door 1")
    revoke = f"{console.org}/events/{event}/devices/{grant.device_id}/revoke"
    row = await console.client.post(revoke, headers=HTMX)
    assert row.status_code == 200
    assert row.text.lstrip().startswith(f'<tr id="device-{grant.device_id}"')
    assert ">revoked</span>" in row.text and "Revoke</button>" not in row.text
    with pytest.raises(Unauthorized, match="revoked"):
        await DeviceAuth(console.hub.db).device(grant.credential)
    missing = await console.client.post(f"{console.org}/events/{event}/devices/dev-nope/revoke", headers=HTMX)
    assert missing.status_code == 404
    other_event = await console.new_event("Another event")
    elsewhere = await console.client.post(
        f"{console.org}/events/{other_event}/devices/{grant.device_id}/revoke"
    )
    assert elsewhere.status_code == 404  # a device is revoked from its own event's page only


async def test_the_device_table_refreshes_its_rows_on_its_own(console: Console) -> None:
    await console.sign_in()
    event = await console.new_event()
    first = await console.device(event, "Door 1")
    page = await console.client.get(f"{console.org}/events/{event}/devices")
    rows_url = f"{console.org}/events/{event}/devices/rows"
    assert f'hx-get="{rows_url}" hx-trigger="every 5s"' in page.text
    second = await console.device(event, "Door 2")  # enrolled after the page was drawn
    rows = await console.client.get(rows_url, headers=HTMX)
    assert rows.status_code == 200
    assert rows.text.lstrip().startswith(f'<tr id="device-{first.device_id}"')
    assert f'<tr id="device-{second.device_id}"' in rows.text and "offline" in rows.text


async def _scan(console: Console, event: str, n: int, **row: Any) -> None:
    """A scan as the hub's projection stores it once a device's log has synced."""
    values = {
        "event_id": event,
        "org_id": console.mine.org_id,
        "id": f"s{n}",
        "nonce": f"n{n}",
        "list_id": "main",
        "direction": "entry",
        "result": "admitted",
        **row,
    }
    columns = ", ".join(values)
    async with console.hub.db.system() as conn:
        await conn.execute(
            text(f"INSERT INTO checkin_scan ({columns}) VALUES ({', '.join(':' + c for c in values)})"),
            values,
        )


async def test_the_dashboard_and_duplicates_show_synced_scans_in_the_events_time_zone(
    console: Console,
) -> None:
    await console.sign_in()
    event = await console.new_event()  # Europe/Berlin
    await console.upload(event, GOOD_CSV)
    north, south = await console.device(event, "North door"), await console.device(event, "South door")
    async with console.hub.db.system() as conn:
        ada = (
            await conn.execute(
                text("SELECT id FROM attendee WHERE event_id = :e AND name = 'Ada Lovelace'"), {"e": event}
            )
        ).scalar_one()
    await _scan(
        console, event, 1, device_id=north.device_id, doc="d1", gate="north", attendee_id=ada, at=SEVEN_UTC
    )
    await _scan(
        console,
        event,
        2,
        device_id=south.device_id,
        doc="d2",
        gate="south",
        attendee_id=ada,
        at=SEVEN_UTC + 65_000,
    )
    await _scan(
        console,
        event,
        3,
        device_id=south.device_id,
        doc="d2",
        gate="south",
        result="invalid",
        at=SEVEN_UTC + 70_000,
    )

    page = await console.client.get(f"{console.org}/events/{event}")
    assert f'hx-get="{console.org}/events/{event}/dashboard/live" hx-trigger="every 2s"' in page.text
    live = await console.client.get(f"{console.org}/events/{event}/dashboard/live", headers=HTMX)
    assert live.status_code == 200 and "<html" not in live.text
    figures = {name: _testids(live.text, name) for name in ("admitted", "inside", "scans", "refused")}
    assert figures == {"admitted": ["1"], "inside": ["1"], "scans": ["3"], "refused": ["1"]}
    assert "of 3 on the roster" in live.text
    bars = re.findall(r'<rect class="(zero|)" x=', live.text)
    assert len(bars) == 60  # one bar per minute of the last hour, empty ones included
    assert "South door" in live.text and "2026-06-01 09:01:10" in live.text  # last scan, Berlin time

    duplicates = await console.client.get(f"{console.org}/events/{event}/duplicates")
    cells = re.findall(r"<td(?: class=\"nowrap\")?>([^<]+)</td>", duplicates.text)
    assert cells == [
        "north",
        "North door",
        "2026-06-01 09:00:00",
        "south",
        "South door",
        "2026-06-01 09:01:05",
    ]
    assert "Ada Lovelace" in duplicates.text


def test_times_and_dates_are_read_in_the_events_zone() -> None:
    # 2026-03-29 01:30 UTC: Berlin has just jumped to summer time.
    assert local_time(1_774_747_800_000, "Europe/Berlin") == "2026-03-29 03:30"
    assert local_time("2026-03-29T01:30:00+00:00", "America/New_York") == "2026-03-28 21:30"
    assert local_time(None, "UTC") == "\N{EM DASH}"
    starts, ends = day_bounds("2026-03-29", "2026-03-29", "Europe/Berlin")
    assert local_time(starts, "UTC") == "2026-03-28 23:00"
    assert ends - starts == 23 * 3600_000 - 1  # the day of the clock change has 23 hours
    with pytest.raises(ValueError, match="not a date"):
        day_bounds("29.03.2026", "", "UTC")


async def test_an_organization_cannot_take_the_name_of_a_console_page(
    hub_db_module: str, tmp_path: Path
) -> None:
    async with hub_services(hub_db_module, tmp_path / "secrets") as hub, hub.db.system() as conn:
        account = await create_account(conn, f"owner-{secrets.token_hex(3)}@example.com", PASSWORD)
        with pytest.raises(Invalid):
            await create_organization(conn, "Login Ltd", "login", account)


async def test_boxes_an_appliance_refused_are_shown_to_the_organizer_only(console: Console) -> None:
    """The projection of ``peer_refused`` records (tests/e2e/test_peer_trust.py plays them for real)."""
    await console.sign_in()
    event = await console.new_event()
    async with console.hub.db.system() as conn:
        for event_id, org, device, peer in (
            (event, console.mine.org_id, "dev-north", "http://10.0.0.66:8080"),
            (console.other_event, console.other.org_id, "dev-theirs", "http://10.9.9.9:8080"),
        ):
            await conn.execute(
                text(
                    "INSERT INTO peer_refusal (event_id, id, org_id, device_id, peer, direction, reason, at)"
                    " VALUES (:e, :i, :o, :d, :p, 'upstream', 'it did not prove who it is', 1796640000000)"
                ),
                {"e": event_id, "i": f"r-{device}", "o": org, "d": device, "p": peer},
            )
    page = await console.client.get(f"{console.org}/events/{event}/devices")
    assert page.status_code == 200
    assert 'data-testid="refused-peers"' in page.text
    assert "http://10.0.0.66:8080" in page.text and "it did not prove who it is" in page.text
    assert "10.9.9.9" not in page.text  # another organization's refusals stay theirs
    quiet = await console.client.get(f"{console.org}/events/{await console.new_event()}/devices")
    assert 'data-testid="refused-peers"' not in quiet.text  # nothing to report, no panel
