"""One error shape and one code vocabulary on the appliance and the hub, documented and checked.

Real processes only: a demo appliance (``konferenco appliance serve``) and a hub
(``konferenco hub serve`` on a scratch database).  Both OpenAPI documents must describe every
error answer as the shared ``Error`` schema, whose ``code`` enum is exactly
``konferenco.errors.CODES``; ``docs/api-errors.md`` must list exactly those codes; real refusals
of both apps (no token, wrong role, unknown thing, bad JSON, a body that is not UTF-8) must come
back in that shape with a status their route documents.  And the API docs pages must render in
a browser that cannot reach the internet, as at a venue.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pytest

from appliance.errors import ROUTE_ERRORS as APPLIANCE_ROUTE_ERRORS
from hub.api.errors import ROUTE_ERRORS as HUB_ROUTE_ERRORS
from hub.tenants.accounts import OrgRole
from konferenco.errors import CODES
from tests.appliance.conftest import DemoAppliance, demo_appliance, nonce  # noqa: F401  (a fixture)
from tests.browser import chromium
from tests.helpers import HubProcess
from tests.hub.api_support import api_token, bearer, new_event, new_org, set_member
from tests.hub.conftest import http, hub, hub_db_module  # noqa: F401  (fixtures)

if TYPE_CHECKING:
    from playwright.sync_api import Browser

DOC = Path(__file__).resolve().parent.parent / "docs" / "api-errors.md"
ERROR_SCHEMA = {"$ref": "#/components/schemas/Error"}
WRITES = {"post", "put", "patch", "delete"}
#: The error statuses the two APIs answer, between them (each must be documented somewhere).
STATUSES = {400, 401, 403, 404, 409, 413, 422, 423, 429, 500, 503, 507}
#: 0.1 codes that were renamed: none of them may come back.
RENAMED = {
    "not_signed_in",
    "bad_token",
    "forbidden_role",
    "invalid_request",
    "too_many_requests",
    "too_large",
}
NOT_UTF8 = [b"\xff\xfe", b'{"name": "\xff\xfe"}']

Document = dict[str, Any]


@pytest.fixture(scope="module")
def documents(demo_appliance: DemoAppliance, hub: HubProcess) -> dict[str, Document]:  # noqa: F811
    found = {}
    for side, url in (("appliance", demo_appliance.url), ("hub", hub.url)):
        response = httpx.get(f"{url}/schema/openapi.json", timeout=30)
        assert response.status_code == 200, response.text
        found[side] = response.json()
    return found


def operations(document: Document) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield method, path, operation


def error_responses(operation: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {int(status): r for status, r in operation["responses"].items() if int(status) >= 400}


def documented_codes(response: dict[str, Any]) -> list[str]:
    return [e["value"]["code"] for e in response["content"]["application/json"]["examples"].values()]


def statuses_of(document: Document, method: str, path: str) -> set[int]:
    return set(error_responses(document["paths"][path][method.lower()]))


# --- the OpenAPI documents ---------------------------------------------------------------------


def test_every_error_response_of_both_apps_is_the_shared_error_schema(documents: dict[str, Document]) -> None:
    answered: set[int] = set()
    for side, document in documents.items():
        assert sum(1 for _ in operations(document)) > 10, side
        for method, path, operation in operations(document):
            errors = error_responses(operation)
            where = f"{side}: {method.upper()} {path}"
            assert 500 in errors, where  # any route can hit a bug
            if method in WRITES:
                assert {400, 413, 503, 507} <= set(errors), where
            for status, response in errors.items():
                content = response["content"]["application/json"]
                assert content["schema"] == ERROR_SCHEMA, (where, status)
                codes = documented_codes(response)
                assert codes, (where, status)
                assert all(CODES[code].status == status for code in codes), (where, status, codes)
                assert all(f"`{code}`" in response["description"] for code in codes), (where, status)
            answered |= set(errors)
    assert answered >= STATUSES


def test_routes_document_the_statuses_they_answer(documents: dict[str, Document]) -> None:
    appliance, hub_ = documents["appliance"], documents["hub"]
    assert statuses_of(appliance, "POST", "/api/v1/scans") >= {
        400,
        401,
        403,
        404,
        409,
        413,
        422,
        500,
        503,
        507,
    }
    assert statuses_of(appliance, "POST", "/api/v1/auth/login") >= {400, 401, 423}
    assert statuses_of(appliance, "GET", "/api/v1/attendees/{attendee_id}") >= {401, 403, 404}
    assert 401 not in statuses_of(appliance, "GET", "/healthz")  # public
    assert statuses_of(hub_, "POST", "/api/v1/auth/token") >= {400, 401, 403, 429}
    assert statuses_of(hub_, "POST", "/api/v1/events/{event_id}/attendees/import") >= {
        401,
        402,
        403,
        404,
        422,
    }
    assert statuses_of(hub_, "GET", "/api/v1/events/{event_id}") >= {401, 403, 404}


def test_each_route_names_its_specific_codes(documents: dict[str, Document]) -> None:
    """The per-route tables of both apps match routes that exist (no stale path) and are documented."""
    for side, table in (("appliance", APPLIANCE_ROUTE_ERRORS), ("hub", HUB_ROUTE_ERRORS)):
        document = documents[side]
        for key, codes in table.items():
            method, path = key.split(" ", 1)
            assert path in document["paths"] and method.lower() in document["paths"][path], (side, key)
            operation = document["paths"][path][method.lower()]
            named = {c for r in error_responses(operation).values() for c in documented_codes(r)}
            assert set(codes) <= named, (side, key)


def test_the_code_enum_is_exactly_the_codes(documents: dict[str, Document]) -> None:
    for side, document in documents.items():
        schema = document["components"]["schemas"]["Error"]
        assert schema["properties"]["code"]["enum"] == list(CODES), side
        assert set(schema["required"]) == {"code", "message", "details"}, side
        assert schema["properties"]["details"]["type"] == "object", side
    assert not RENAMED & set(CODES)


def test_the_doc_lists_exactly_the_codes_with_their_statuses() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = text.split("| code | status | answered by | meaning |", 1)[1].split("\n\n", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \| (\w+) \| (.+) \|$", table, re.MULTILINE)
    listed = {code: (int(status), side) for code, status, side, _ in rows}
    assert len(rows) == len(listed), "a code is listed twice"
    assert listed == {code: (e.status, e.side) for code, e in CODES.items()}
    for word in ("admitted", "already_admitted", "wrong_list", "room_full"):  # scan results, not codes
        assert f"| `{word}` |" in text


# --- real refusals ----------------------------------------------------------------------------


def assert_refusal(
    response: httpx.Response, code: str, document: Document | None = None, route: str | None = None
) -> dict[str, Any]:
    """The shape, the code, the status its code fixes, and (given the route) documented there."""
    assert response.headers["content-type"].startswith("application/json"), response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert response.status_code == CODES[code].status, body
    assert isinstance(body["message"], str) and body["message"], body
    assert isinstance(body["details"], dict), body
    assert "Traceback" not in response.text
    if document is not None and route is not None:
        method, path = route.split(" ", 1)
        assert response.status_code in statuses_of(document, method, path), (route, response.status_code)
    return body


def test_the_appliance_refuses_in_the_shared_shape(
    demo_appliance: DemoAppliance,  # noqa: F811
    documents: dict[str, Document],
) -> None:
    doc = documents["appliance"]
    person = demo_appliance.take()
    with demo_appliance.client() as anonymous:
        assert_refusal(anonymous.get("/api/v1/stats"), "unauthorized", doc, "GET /api/v1/stats")
        assert_refusal(anonymous.get("/api/v1/no-such-route"), "not_found")
    with demo_appliance.client("door") as door:
        wrong_role = door.get(f"/api/v1/attendees/{person['attendee_id']}")
        body = assert_refusal(wrong_role, "forbidden", doc, "GET /api/v1/attendees/{attendee_id}")
        assert body["message"] == "a door account cannot do this; it needs desk or organizer"
        assert body["details"]["allowed_roles"] == ["desk", "organizer"]
        unknown_scan = door.post("/api/v1/scans/no-such-scan/annul", json={"reason": "test"})
        assert_refusal(unknown_scan, "unknown_scan", doc, "POST /api/v1/scans/{scan_id}/annul")
        scans_before = door.get("/api/v1/stats").json()["scans"]
        json_headers = {"content-type": "application/json"}
        cut = door.post("/api/v1/scans", content=b'{"code": "KB1:', headers=json_headers)
        assert_refusal(cut, "bad_request", doc, "POST /api/v1/scans")
        for body_bytes in [*NOT_UTF8, b'{"code": "\xff", "nonce": "n-1", "gate": "north"}']:
            refused = door.post("/api/v1/scans", content=body_bytes, headers=json_headers)
            assert_refusal(refused, "bad_request", doc, "POST /api/v1/scans")
        assert door.get("/api/v1/stats").json()["scans"] == scans_before, "nothing refused is recorded"
        admitted = door.post(
            "/api/v1/scans", json={"code": person["badge_code"], "nonce": nonce(), "gate": "north"}
        )
        assert admitted.status_code == 200 and admitted.json()["result"] == "admitted", admitted.text
    with demo_appliance.client("desk") as desk:
        unknown = desk.get("/api/v1/attendees/no-such-attendee")
        assert_refusal(unknown, "unknown_attendee", doc, "GET /api/v1/attendees/{attendee_id}")
    with demo_appliance.client() as anonymous:
        for body_bytes in NOT_UTF8:
            refused = anonymous.post("/api/v1/auth/login", content=body_bytes, headers=json_headers)
            assert_refusal(refused, "bad_request", doc, "POST /api/v1/auth/login")


def test_a_locked_account_says_when_to_try_again(
    demo_appliance: DemoAppliance,  # noqa: F811
    documents: dict[str, Document],
) -> None:
    right = demo_appliance.staff["Kiosk"]["pin"]
    wrong = "999999" if right != "999999" else "111111"
    with demo_appliance.client() as client:
        for _ in range(5):
            refused = client.post("/api/v1/auth/login", json={"name": "Kiosk", "secret": wrong})
            assert_refusal(refused, "wrong_credentials", documents["appliance"], "POST /api/v1/auth/login")
        locked = client.post("/api/v1/auth/login", json={"name": "Kiosk", "secret": right})
    body = assert_refusal(locked, "locked", documents["appliance"], "POST /api/v1/auth/login")
    assert 0 < body["details"]["retry_after"] <= 60
    assert locked.headers["Retry-After"] == str(body["details"]["retry_after"])


def test_the_hub_refuses_in_the_shared_shape(
    hub_db_module: str,  # noqa: F811
    http: httpx.Client,  # noqa: F811
    documents: dict[str, Document],
) -> None:
    doc = documents["hub"]
    org = new_org(hub_db_module, http)
    event = new_event(http, org, roster=None)
    viewer = f"viewer@{org.slug}.example"
    set_member(hub_db_module, org, viewer, OrgRole.VIEWER)
    viewer_auth = bearer(api_token(http, viewer, org.slug))

    assert_refusal(http.get("/api/v1/events"), "unauthorized", doc, "GET /api/v1/events")
    wrong_role = http.post(f"/api/v1/events/{event}/keys", headers=viewer_auth)
    assert_refusal(wrong_role, "forbidden", doc, "POST /api/v1/events/{event_id}/keys")
    unknown = http.get("/api/v1/events/no-such-event", headers=org.auth)
    assert_refusal(unknown, "not_found", doc, "GET /api/v1/events/{event_id}")
    json_headers = {**org.auth, "content-type": "application/json"}
    cut = http.post("/api/v1/events", content=b'{"name": ', headers=json_headers)
    assert_refusal(cut, "bad_request", doc, "POST /api/v1/events")
    shapeless = http.post("/api/v1/events", json={"title": "no name"}, headers=org.auth)
    body = assert_refusal(shapeless, "bad_request", doc, "POST /api/v1/events")
    assert body["details"]["errors"] and all("message" in e for e in body["details"]["errors"])
    for body_bytes in NOT_UTF8:
        refused = http.post("/api/v1/events", content=body_bytes, headers=json_headers)
        assert_refusal(refused, "bad_request", doc, "POST /api/v1/events")
        sign_in = http.post(
            "/api/v1/auth/token", content=body_bytes, headers={"content-type": "application/json"}
        )
        assert_refusal(sign_in, "bad_request", doc, "POST /api/v1/auth/token")
    assert [e["id"] for e in http.get("/api/v1/events", headers=org.auth).json()] == [event]


# --- the shared handlers, in-process ----------------------------------------------------------


def test_the_shared_handlers_answer_bugs_without_their_traceback(caplog: pytest.LogCaptureFixture) -> None:
    from litestar import Litestar, get, post
    from litestar.exceptions import TooManyRequestsException
    from litestar.params import JSONBody
    from litestar.testing import TestClient

    from konferenco.errors import TooManyAttempts
    from konferenco.http_errors import EXCEPTION_HANDLERS, JSONRequest

    @get("/bug", sync_to_thread=False)
    def bug() -> None:
        raise KeyError("secret-internal-detail")

    @get("/busy", sync_to_thread=False)
    def busy() -> None:
        raise TooManyAttempts("slow down", retry_after=7)

    @get("/throttled", sync_to_thread=False)
    def throttled() -> None:
        raise TooManyRequestsException(headers={"Retry-After": "3"})

    @post("/echo", sync_to_thread=False)
    def echo(data: JSONBody[dict[str, str]]) -> dict[str, str]:
        return data

    app = Litestar(
        [bug, busy, throttled, echo],
        exception_handlers=EXCEPTION_HANDLERS,
        request_class=JSONRequest,
        logging_config=None,  # as both apps: the CLI owns logging
    )
    with TestClient(app) as client, caplog.at_level("ERROR", logger="konferenco.http_errors"):
        crashed = client.get("/bug")
        assert_refusal(crashed, "internal_error")
        assert "secret-internal-detail" not in crashed.text
        assert any(r.exc_info and "secret-internal-detail" in str(r.exc_info[1]) for r in caplog.records)
        waited = assert_refusal(client.get("/busy"), "too_many_attempts")
        assert waited["details"] == {"retry_after": 7}
        assert client.get("/busy").headers["Retry-After"] == "7"
        throttled_ = client.get("/throttled")
        assert_refusal(throttled_, "too_many_attempts")
        assert throttled_.headers["Retry-After"] == "3"
        assert_refusal(client.delete("/bug"), "method_not_allowed")
        assert_refusal(client.get("/nowhere"), "not_found")
        for body in NOT_UTF8:
            refused = client.post("/echo", content=body, headers={"content-type": "application/json"})
            assert_refusal(refused, "bad_request")
        assert client.post("/echo", json={"name": "Zoë"}).json() == {"name": "Zoë"}


# --- the docs pages, offline ---------------------------------------------------------------------


@pytest.fixture
def urls(demo_appliance: DemoAppliance, hub: HubProcess) -> dict[str, str]:  # noqa: F811
    return {"appliance": demo_appliance.url, "hub": hub.url}


@pytest.fixture
def browser(urls: dict[str, str]) -> Iterator[Browser]:
    """Chromium, started after both servers (Playwright's sync API runs an event loop in this thread)."""
    with chromium() as browser:
        yield browser


@pytest.mark.slow
@pytest.mark.parametrize("side", ["hub", "appliance"])
def test_the_api_docs_pages_render_without_the_internet(
    side: str, urls: dict[str, str], documents: dict[str, Document], browser: Browser
) -> None:
    from playwright.sync_api import Route, expect

    base = urls[side]
    context = browser.new_context()
    blocked: list[str] = []
    local: list[str] = []

    def offline(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1" or url.startswith(("data:", "blob:")):
            local.append(url)
            route.continue_()
        else:
            blocked.append(f"{route.request.resource_type} {url}")
            route.abort("internetdisconnected")

    context.route("**/*", offline)
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{base}/schema/swagger")
    count = sum(1 for _ in operations(documents[side]))
    expect(page.locator(".opblock")).to_have_count(count)
    # The schemas section: Swagger UI renders a long list virtually (only what is near the
    # viewport), so look for the document's first schema rather than one further down.
    first_schema = next(iter(documents[side]["components"]["schemas"]))
    schemas = page.locator("section.models")
    expect(schemas.get_by_role("button", name=first_schema, exact=True)).to_be_visible()
    assert any("/api-docs-assets/swagger-ui-bundle.js" in u for u in local)

    page.goto(f"{base}/schema")  # Redoc
    expect(page.locator("h1").first).to_contain_text(documents[side]["info"]["title"])
    expect(page.locator("[data-section-id^='operation/']")).to_have_count(count)
    assert any("/api-docs-assets/redoc.standalone.js" in u for u in local)

    assert blocked == [], "the docs pages must not need the internet"
    assert errors == []
    context.close()
