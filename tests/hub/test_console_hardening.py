"""The console against a cross-site attacker: CSRF tokens on every change, strict headers, cookie flags.

The hub app runs in-process as in ``test_console.py`` (its ``console``
fixture: a real PostgreSQL database, the app with its lifespan).  The routes
to attack are read from the app's own route table, so a state-changing route
added later is attacked too without anyone remembering to list it here.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from anyio.from_thread import start_blocking_portal
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from hub.console.render import TEMPLATE_DIR
from hub.settings import HubSettings
from konferenco.logs import redact
from tests.hub import test_console
from tests.hub.services import hub_services, organization
from tests.hub.test_console import GOOD_CSV, HTMX, HUB_URL, Console, _create_app

console = test_console.console  # the same fixture: an in-process hub app and a signed-out browser

SAFE = {"GET", "HEAD", "OPTIONS"}
CSRF_REFUSAL = "was not sent from a console page of this session"


def changing_routes(app: Litestar) -> list[tuple[str, str]]:
    """(method, path template) of every console route that changes something."""
    found: list[tuple[str, str]] = []
    for route in app.routes:
        if isinstance(route, HTTPRoute) and route.path.startswith("/console"):
            found += [(str(method), route.path) for method in sorted(set(route.methods) - SAFE)]
    return found


def fill(path: str, **values: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m.group(1)], path)


async def _state(console: Console) -> dict[str, int]:
    """Everything a console form can change, counted."""
    queries = {
        "events": "SELECT count(*) FROM event WHERE org_id = :o",
        "ticket_types": "SELECT count(*) FROM ticket_type WHERE org_id = :o",
        "attendees": "SELECT count(*) FROM attendee WHERE org_id = :o",
        "enrolments": "SELECT count(*) FROM enrolment WHERE org_id = :o",
        "revoked": "SELECT count(*) FROM device WHERE org_id = :o AND revoked_at IS NOT NULL",
        "tokens": "SELECT count(*) FROM api_token WHERE org_id = :o AND revoked_at IS NULL",
        "sessions": "SELECT count(*) FROM console_session",
        "audit": "SELECT count(*) FROM audit WHERE org_id = :o",
        "passwords": "SELECT count(DISTINCT password_hash) FROM account",
    }
    return {name: await console.count(sql) for name, sql in queries.items()}


async def test_every_state_changing_console_route_refuses_a_missing_or_wrong_csrf_token(
    console: Console,
) -> None:
    await console.sign_in()
    event = await console.new_event()
    device = await console.device(event, "North door")
    await console.client.post(f"{console.org}/tokens", data={"name": "kept"})
    async with console.hub.db.system() as conn:
        token_id = str(
            (await conn.execute(text("SELECT id FROM api_token WHERE name = 'kept'"))).scalar_one()
        )
    routes = changing_routes(console.client.app)
    # The route table is really read: the known forms are among what it lists.
    assert {p for _, p in routes} >= {
        "/console/login",
        "/console/logout",
        "/console/account/password",
        "/console/account/sign-out-everywhere",
        "/console/{org:str}/events",
        "/console/{org:str}/tokens",
        "/console/{org:str}/events/{event:str}/attendees/import",
        "/console/{org:str}/events/{event:str}/ticket-types",
        "/console/{org:str}/events/{event:str}/enrolments",
        "/console/{org:str}/events/{event:str}/devices/{device:str}/revoke",
        "/console/{org:str}/tokens/{token:str}/revoke",
    }, routes

    # A token that is valid, but for another browser's session, is as good as none.
    other = AsyncTestClient(console.client.app, base_url=HUB_URL)
    other.blocking_portal = console.client.blocking_portal
    async with other:
        other.follow_redirects = False
        login_page = await other.get("/console/login")
        login_token = re.search(r'name="_csrf" value="([^"]+)"', login_page.text)
        assert login_token is not None
        signed = await other.post(
            "/console/login",
            data={"email": console.owner, "password": "correct horse battery", "_csrf": login_token.group(1)},
        )
        assert signed.status_code == 303
        page = await other.get("/console/account")
        foreign = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
        assert foreign is not None and foreign.group(1) != console.csrf

    before = await _state(console)
    form = {
        "name": "Forged",
        "timezone": "UTC",
        "capabilities": "organizer",
        "email": console.owner,
        "password": "correct horse battery",
        "current_password": "correct horse battery",
        "new_password": "attacker's password",
        "repeat_password": "attacker's password",
        "api_tokens": "yes",
    }
    console.send_csrf = False
    for method, template in routes:
        path = fill(
            template, org=console.mine.org_slug, event=event, device=device.device_id, token=token_id,
            room="hall-a", session="s-1", proposal="p-1",
        )  # fmt: skip
        attempts: list[tuple[str, dict[str, str], dict[str, str]]] = [
            ("no token", form, {}),
            ("wrong token in the form", {**form, "_csrf": "A" * 43}, {}),
            ("wrong token in the htmx header", form, {**HTMX, "X-CSRF-Token": "A" * 43}),
            ("another session's token", {**form, "_csrf": foreign.group(1)}, {}),
            ("another session's token, htmx", form, {**HTMX, "X-CSRF-Token": foreign.group(1)}),
        ]
        for what, data, headers in attempts:
            files = {"file": ("roster.csv", GOOD_CSV.encode(), "text/csv")} if "import" in path else None
            response = await console.client.request(method, path, data=data, files=files, headers=headers)
            assert response.status_code == 403, (method, path, what, response.text[:300])
            assert CSRF_REFUSAL in response.text, (method, path, what)
    console.send_csrf = True
    assert await _state(console) == before  # nothing changed, the session included
    assert (await console.client.get(console.org)).status_code == 200


async def test_the_right_token_is_accepted_by_form_field_and_by_htmx_header(console: Console) -> None:
    await console.sign_in()
    token = console.csrf
    console.send_csrf = False
    by_field = await console.client.post(
        f"{console.org}/events", data={"name": "By field", "timezone": "UTC", "_csrf": token}
    )
    assert by_field.status_code == 303, by_field.text
    by_header = await console.client.post(
        f"{console.org}/events",
        data={"name": "By header", "timezone": "UTC"},
        headers={**HTMX, "X-CSRF-Token": token},
    )
    assert by_header.status_code == 200 and by_header.headers["hx-redirect"].startswith(
        f"{console.org}/events/"
    )
    assert await console.count("SELECT count(*) FROM event WHERE org_id = :o") == 2


async def test_every_console_answer_carries_the_security_headers(console: Console) -> None:
    signed_out = await console.client.get("/console/login")
    await console.sign_in()
    event = await console.new_event()
    answers = {
        "sign-in page": signed_out,
        "page": await console.client.get(console.org),
        "htmx fragment": await console.client.get(
            f"{console.org}/events/{event}/dashboard/live", headers=HTMX
        ),
        "download": await console.client.get(f"{console.org}/events/{event}/badges.csv"),
        "redirect": await console.client.get("/console"),
        "error page": await console.client.get(f"{console.org}/events/ev-missing"),
        "refusal": await console.client.post(f"{console.org}/events", data={}, headers={"X-CSRF-Token": "x"}),
    }
    for what, response in answers.items():
        csp = response.headers.get("content-security-policy", "")
        directives = {d.strip().split(" ", 1)[0]: d.strip() for d in csp.split(";") if d.strip()}
        assert directives.get("script-src") == "script-src 'self'", (what, csp)
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, (what, csp)
        assert directives.get("frame-ancestors") == "frame-ancestors 'none'", (what, csp)
        assert directives.get("object-src") == "object-src 'none'", (what, csp)
        assert response.headers.get("x-content-type-options") == "nosniff", what
        assert response.headers.get("referrer-policy") == "same-origin", what
        assert response.headers.get("x-frame-options") == "DENY", what
        assert len(response.headers.get_list("content-security-policy")) == 1, what


def test_no_template_has_inline_script_or_event_handler_attributes() -> None:
    """What the policy would block at run time, caught before: inline code in any template."""
    for template in TEMPLATE_DIR.rglob("*.html"):
        html = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert re.search(r'\bsrc="/static/', tag), (template.name, tag)
        assert not re.search(r"<script\b[^>]*>(?!</script>)", html), template.name  # no body in a script tag
        assert not re.search(r"\son[a-z]+\s*=", html), template.name
        assert "javascript:" not in html and "hx-on" not in html, template.name
        assert not re.search(r"\sstyle\s*=", html), template.name  # style-src 'self' blocks these too


async def test_the_cookies_are_http_only_same_site_strict_and_not_secure_over_plain_http(
    console: Console,
) -> None:
    page = await console.client.get("/console/login")
    csrf_cookie = page.headers["set-cookie"]
    response = await console.client.post(
        "/console/login", data={"email": console.owner, "password": "correct horse battery"}
    )
    session_cookie = response.headers["set-cookie"]
    for cookie in (csrf_cookie, session_cookie):
        attributes = {a.strip().lower() for a in cookie.split(";")[1:]}
        assert {"httponly", "samesite=strict"} <= attributes, cookie
        # This hub's public URL is http:// and the request came over HTTP: a Secure cookie would
        # never be sent back, and nobody could sign in.
        assert "secure" not in attributes, cookie


@pytest.fixture
async def https_console(hub_db_module: str, tmp_path: Path) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """The app of a hub whose public URL is https:// (behind a TLS-terminating proxy), over plain HTTP."""
    async with hub_services(hub_db_module, tmp_path / "secrets") as hub:
        org = await organization(hub, f"tls-{secrets.token_hex(3)}")
        settings = HubSettings(
            database_url=hub_db_module, secrets_dir=tmp_path / "secrets", public_url="https://hub.example"
        )
        with start_blocking_portal() as portal:
            app = portal.call(_create_app, settings)
            client = AsyncTestClient(app, base_url="http://hub.example")
            client.blocking_portal = portal
            async with client:
                client.follow_redirects = False
                client.headers["x-owner"] = f"owner@{org.org_slug}.example"
                yield client


async def test_behind_an_https_public_url_every_console_cookie_is_secure(
    https_console: AsyncTestClient[Litestar],
) -> None:
    page = await https_console.get("/console/login")
    assert "secure" in {a.strip().lower() for a in page.headers["set-cookie"].split(";")}
    token = re.search(r'name="_csrf" value="([^"]+)"', page.text)
    assert token is not None
    # The browser speaks HTTPS to the proxy, so it sends the Secure cookie back; this client speaks
    # plain HTTP to the app, as the proxy does, and is handed the cookie the browser would send.
    presession = page.headers["set-cookie"].split(";", 1)[0]
    response = await https_console.post(
        "/console/login",
        data={
            "email": https_console.headers["x-owner"],
            "password": "correct horse battery",
            "_csrf": token[1],
        },
        headers={"Cookie": presession},
    )
    assert response.status_code == 303, response.text
    attributes = {a.strip().lower() for a in response.headers["set-cookie"].split(";")[1:]}
    assert {"secure", "httponly", "samesite=strict"} <= attributes


async def test_a_signed_out_session_cookie_copied_elsewhere_stops_working(console: Console) -> None:
    """Signing out deletes the session's row: a copy of the cookie (another tab, a thief) is dead too."""
    await console.sign_in()
    stolen = console.client.cookies["kf_session"]
    assert (await console.client.post("/console/logout")).status_code == 303
    console.client.cookies.set("kf_session", stolen)
    response = await console.client.get(console.org)
    assert response.status_code == 303 and response.headers["location"].startswith("/console/login")
    sessions = "SELECT count(*) FROM console_session WHERE account_id = :a"
    async with console.hub.db.system() as conn:
        assert (await conn.execute(text(sessions), {"a": console.mine.account_id})).scalar_one() == 0


async def test_a_session_cookie_is_redacted_from_logs(console: Console) -> None:
    """The cookie is a bearer credential: any log line that carries it must not carry it whole."""
    await console.sign_in()
    cookie = console.client.cookies["kf_session"]
    line = f"GET /console cookie: kf_session={cookie}; kf_csrf=x"
    assert cookie not in redact(line)
