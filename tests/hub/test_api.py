"""The hub's JSON API as a script or an appliance meets it: a real hub process over HTTP.

Sign-in and its rate limit, who may call what (no token, another
organization's token, a viewer's token), roster imports that land whole or
not at all, the catalog endpoint appliances poll, and the operator's
endpoints (health, metrics, OpenAPI).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from hub.tenants.accounts import OrgRole
from konferenco.catalog.bundle import BundleError, decode_bundle, read_bundle
from tests.helpers import HubProcess
from tests.hub.api_support import (
    PASSWORD,
    ROSTER,
    Device,
    Org,
    api_token,
    assert_error,
    bearer,
    enrol_device,
    new_event,
    new_org,
    set_member,
    sql,
    unique,
)


@pytest.fixture
def own_hub(hub_db_module: str, tmp_path: Path) -> Iterator[httpx.Client]:
    """A hub process of its own: its sign-in limiter has counted nobody else's failures."""
    with (
        HubProcess(hub_db_module, tmp_path / "secrets") as process,
        httpx.Client(base_url=process.url) as client,
    ):
        yield client


# --- sign-in -----------------------------------------------------------------------------------


def test_the_right_password_gets_an_api_token_that_works(hub_db_module: str, http: httpx.Client) -> None:
    org = new_org(hub_db_module, http)
    response = http.post(
        "/api/v1/auth/token",
        json={"email": org.email.upper(), "password": PASSWORD, "organization": org.slug, "name": "ci"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["token"].startswith("kt1_")
    assert (body["organization"], body["role"]) == (org.slug, "owner")
    assert http.get("/api/v1/events", headers=bearer(body["token"])).json() == []


def test_a_wrong_password_and_an_unknown_email_get_the_same_401(
    hub_db_module: str, http: httpx.Client
) -> None:
    org = new_org(hub_db_module, http)
    wrong = http.post(
        "/api/v1/auth/token",
        json={"email": org.email, "password": "not the password", "organization": org.slug},
    )
    unknown = http.post(
        "/api/v1/auth/token",
        json={"email": f"nobody@{org.slug}.example", "password": PASSWORD, "organization": org.slug},
    )
    # Same answer for both, so the endpoint does not tell which e-mails have accounts.
    assert assert_error(wrong, 401, "wrong_credentials") == assert_error(unknown, 401, "wrong_credentials")
    assert "token" not in wrong.json()


def test_signing_in_to_an_organization_one_is_not_a_member_of_is_403(
    hub_db_module: str, http: httpx.Client
) -> None:
    acme, globex = new_org(hub_db_module, http), new_org(hub_db_module, http)
    for slug in (globex.slug, "no-such-org"):
        response = http.post(
            "/api/v1/auth/token", json={"email": acme.email, "password": PASSWORD, "organization": slug}
        )
        assert slug in assert_error(response, 403, "forbidden")


def test_the_sixth_failure_in_a_minute_is_429_even_with_the_right_password(
    hub_db_module: str, http: httpx.Client, own_hub: httpx.Client
) -> None:
    org = new_org(hub_db_module, http)
    here = {"X-Forwarded-For": "198.51.100.7"}  # the hub trusts its local proxy's header (uvicorn)

    def sign_in(email: str, password: str, headers: dict[str, str]) -> httpx.Response:
        return own_hub.post(
            "/api/v1/auth/token",
            json={"email": email, "password": password, "organization": org.slug},
            headers=headers,
        )

    for _ in range(5):
        assert_error(sign_in(org.email, "guess " * 3, here), 401, "wrong_credentials")
    locked = sign_in(org.email, PASSWORD, here)
    assert "try again" in assert_error(locked, 429, "too_many_attempts")
    assert 1 <= int(locked.headers["Retry-After"]) <= 60
    # Per e-mail: the account is protected whatever address the guesses come from next...
    assert_error(sign_in(org.email, PASSWORD, {"X-Forwarded-For": "203.0.113.9"}), 429, "too_many_attempts")
    # ...and per address: that address may not move on to guessing other accounts.
    other = new_org(hub_db_module, http)
    assert_error(sign_in(other.email, PASSWORD, here), 429, "too_many_attempts")
    # Nobody else is locked out.
    fine = own_hub.post(
        "/api/v1/auth/token",
        json={"email": other.email, "password": PASSWORD, "organization": other.slug},
        headers={"X-Forwarded-For": "203.0.113.10"},
    )
    assert fine.status_code == 201, fine.text


def test_a_success_does_not_reset_the_failure_budget_of_an_address(
    hub_db_module: str, http: httpx.Client, own_hub: httpx.Client
) -> None:
    mine = new_org(hub_db_module, http)
    here = {"X-Forwarded-For": "198.51.100.8"}

    def guess(email: str, password: str, slug: str) -> httpx.Response:
        return own_hub.post(
            "/api/v1/auth/token",
            json={"email": email, "password": password, "organization": slug},
            headers=here,
        )

    for n in range(4):  # four other accounts, one guess each
        assert_error(guess(f"victim{n}@example.com", "Summer2026!!", mine.slug), 401, "wrong_credentials")
    assert guess(mine.email, PASSWORD, mine.slug).status_code == 201  # the attacker's own account
    assert_error(guess("victim4@example.com", "Summer2026!!", mine.slug), 401, "wrong_credentials")
    # Six failures from one address within the minute: the sixth attempt must wait.
    assert_error(guess("victim5@example.com", "Summer2026!!", mine.slug), 429, "too_many_attempts")


# --- who may call what -------------------------------------------------------------------------


@dataclass(frozen=True)
class Tenants:
    """Organization A, and organization B with an event, an enrolled device and their state."""

    a: Org
    b: Org
    b_event: str
    b_device: Device
    b_state: dict[str, object]


def b_state(http: httpx.Client, tenants: Tenants) -> dict[str, object]:
    """What B's organizer sees of B's event: no request of A may change any of it."""
    event, auth = tenants.b_event, tenants.b.auth
    return {
        "event": http.get(f"/api/v1/events/{event}", headers=auth).json(),
        "attendees": http.get(f"/api/v1/events/{event}/attendees", headers=auth).json(),
        "devices": http.get(f"/api/v1/events/{event}/devices", headers=auth).json(),
    }


@pytest.fixture(scope="module")
def tenants(hub_db_module: str, http: httpx.Client) -> Tenants:
    a, b = new_org(hub_db_module, http), new_org(hub_db_module, http)
    event = new_event(http, b)
    partial = Tenants(a, b, event, enrol_device(http, b, event), {})
    return Tenants(a, b, event, partial.b_device, b_state(http, partial))


#: Every /api/v1 route that needs an organizer's token: method, path, body.
ORGANIZER_ROUTES: list[tuple[str, str, object]] = [
    ("GET", "/api/v1/events", None),
    ("POST", "/api/v1/events", {"name": "Forged"}),
    ("GET", "/api/v1/events/{event}", None),
    ("POST", "/api/v1/events/{event}/ticket-types", {"id": "vip", "name": "VIP"}),
    ("POST", "/api/v1/events/{event}/keys", None),
    ("POST", "/api/v1/events/{event}/attendees/import", ROSTER),
    ("GET", "/api/v1/events/{event}/attendees", None),
    ("GET", "/api/v1/events/{event}/catalog", None),
    ("POST", "/api/v1/events/{event}/enrolments", {"capabilities": ["scanner"]}),
    ("GET", "/api/v1/events/{event}/devices", None),
    ("POST", "/api/v1/devices/{device}/revoke", None),
    ("GET", "/api/v1/events/{event}/dashboard", None),
    ("GET", "/api/v1/events/{event}/duplicates", None),
    ("GET", "/api/v1/events/{event}/badges.csv", None),
]


def call(
    http: httpx.Client, tenants: Tenants, method: str, path: str, body: object, headers: dict[str, str]
) -> httpx.Response:
    url = path.format(event=tenants.b_event, device=tenants.b_device.device_id)
    if isinstance(body, bytes):
        return http.request(method, url, content=body, headers=headers)
    return http.request(method, url, json=body, headers=headers)


@pytest.mark.parametrize(
    ("method", "path", "body"), ORGANIZER_ROUTES, ids=[f"{m} {p}" for m, p, _ in ORGANIZER_ROUTES]
)
def test_a_route_without_a_token_is_401_json(
    http: httpx.Client, tenants: Tenants, method: str, path: str, body: object
) -> None:
    assert "Bearer" in assert_error(call(http, tenants, method, path, body, {}), 401, "unauthorized")
    forged = call(http, tenants, method, path, body, bearer("kt1_" + "x" * 43))
    assert_error(forged, 401, "unauthorized")


def test_rolling_a_credential_without_one_is_401(http: httpx.Client) -> None:
    assert_error(http.post("/api/v1/device/credential"), 401, "unauthorized")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [r for r in ORGANIZER_ROUTES if "{" in r[1]],
    ids=[f"{m} {p}" for m, p, _ in ORGANIZER_ROUTES if "{" in p],
)
def test_another_organizations_event_or_device_is_404(
    hub_db_module: str, http: httpx.Client, tenants: Tenants, method: str, path: str, body: object
) -> None:
    response = call(http, tenants, method, path, body, tenants.a.auth)
    assert_error(response, 404, "not_found")
    # Nothing changed in B's event.
    assert b_state(http, tenants) == tenants.b_state


def test_a_device_credential_opens_no_organizer_route(http: httpx.Client, tenants: Tenants) -> None:
    for method, path, body in ORGANIZER_ROUTES:
        if path.endswith("/catalog"):
            continue  # the one route devices use
        response = call(http, tenants, method, path, body, tenants.b_device.auth)
        assert_error(response, 401, "unauthorized")


def test_a_viewer_reads_but_cannot_change_anything(hub_db_module: str, http: httpx.Client) -> None:
    org = new_org(hub_db_module, http)
    event = new_event(http, org)
    device = enrol_device(http, org, event)
    colleague = f"colleague@{org.slug}.example"
    set_member(hub_db_module, org, colleague, OrgRole.ORGANIZER)
    token = bearer(api_token(http, colleague, org.slug))
    set_member(hub_db_module, org, colleague, OrgRole.VIEWER)  # demoted: the token's role follows at once
    before = http.get(f"/api/v1/events/{event}", headers=org.auth).json()

    attempts = [
        http.post("/api/v1/events", json={"name": "Not allowed"}, headers=token),
        http.post(
            f"/api/v1/events/{event}/attendees/import", content=ROSTER + b"T-3,Lin,,general\n", headers=token
        ),
        http.post(f"/api/v1/events/{event}/enrolments", json={"capabilities": ["scanner"]}, headers=token),
        http.post(f"/api/v1/devices/{device.device_id}/revoke", headers=token),
        http.post(f"/api/v1/events/{event}/ticket-types", json={"id": "vip", "name": "VIP"}, headers=token),
        http.post(f"/api/v1/events/{event}/keys", headers=token),
    ]
    for response in attempts:
        assert "organizer" in assert_error(response, 403, "forbidden")

    assert http.get(f"/api/v1/events/{event}", headers=token).json() == before  # reading is allowed
    assert len(http.get(f"/api/v1/events/{event}/attendees", headers=token).json()) == 2
    listed = http.get(f"/api/v1/events/{event}/devices", headers=token).json()
    assert [d["revoked_at"] for d in listed] == [None]
    counts = sql(
        hub_db_module,
        "SELECT (SELECT count(*) FROM event WHERE org_id = $1::uuid) AS events,"
        " (SELECT count(*) FROM enrolment WHERE org_id = $1::uuid) AS enrolments",
        org.org_id,
    )
    assert (counts[0]["events"], counts[0]["enrolments"]) == (1, 1)


def test_listing_events_shows_the_organizations_events(hub_db_module: str, http: httpx.Client) -> None:
    org = new_org(hub_db_module, http)
    first, second = new_event(http, org, roster=None), new_event(http, org, roster=None, name="Winter")
    response = http.get("/api/v1/events", headers=org.auth)
    assert response.status_code == 200, response.text
    assert sorted(e["id"] for e in response.json()) == sorted([first, second])


# --- importing the roster ----------------------------------------------------------------------


def attendees(http: httpx.Client, org: Org, event: str) -> list[str]:
    rows = http.get(f"/api/v1/events/{event}/attendees", params={"limit": 500}, headers=org.auth).json()
    return sorted(r["name"] for r in rows)


def revision(http: httpx.Client, org: Org, event: str) -> int:
    return int(http.get(f"/api/v1/events/{event}", headers=org.auth).json()["catalog_revision"])


def test_a_file_with_a_bad_row_is_rejected_whole_then_a_good_one_lands(
    hub_db_module: str, http: httpx.Client
) -> None:
    org = new_org(hub_db_module, http)
    event = new_event(http, org, roster=None)
    start = revision(http, org, event)
    url = f"/api/v1/events/{event}/attendees/import"

    bad = ROSTER + b"T-3,,Nameless Inc,general\nT-4,Bob,,platinum\n"
    response = http.post(url, content=bad, headers=org.auth)
    assert "nothing was imported" in assert_error(response, 422, "import_rejected")
    problems = response.json()["problems"]
    assert [(p["line"], p["field"]) for p in problems] == [(4, "name"), (5, "ticket_type")]
    assert all(p["message"] for p in problems)
    assert attendees(http, org, event) == []
    assert revision(http, org, event) == start

    good = http.post(url, content=ROSTER, headers=org.auth)
    assert good.status_code == 200, good.text
    counts = good.json()
    assert {k: counts[k] for k in ("rows", "added", "updated", "unchanged")} == {
        "rows": 2,
        "added": 2,
        "updated": 0,
        "unchanged": 0,
    }
    assert counts["revision"] == revision(http, org, event) > start
    again = http.post(url, content=ROSTER, headers=org.auth).json()
    assert (again["added"], again["updated"], again["unchanged"]) == (0, 0, 2)
    assert attendees(http, org, event) == ["Ada Lovelace", "Grace Hopper"]


def test_reimporting_an_unchanged_file_gives_appliances_nothing_new(
    hub_db_module: str, http: httpx.Client
) -> None:
    org = new_org(hub_db_module, http)
    event = new_event(http, org)
    device = enrol_device(http, org, event)
    held = revision(http, org, event)
    again = http.post(f"/api/v1/events/{event}/attendees/import", content=ROSTER, headers=org.auth)
    assert again.json()["unchanged"] == 2
    poll = http.get(f"/api/v1/events/{event}/catalog", params={"since": held}, headers=device.auth)
    assert poll.status_code == 304


def test_json_imports_go_through_format_json(hub_db_module: str, http: httpx.Client) -> None:
    org = new_org(hub_db_module, http)
    event = new_event(http, org, roster=None)
    url = f"/api/v1/events/{event}/attendees/import"
    rows = [{"external_ref": "J-1", "name": "Lin Wei", "ticket_type": "general"}]
    response = http.post(url, params={"format": "json"}, content=json.dumps(rows), headers=org.auth)
    assert response.status_code == 200, response.text
    assert response.json()["added"] == 1
    # The same body sent as CSV is read as CSV, and refused for what it is.
    assert_error(http.post(url, content=json.dumps(rows), headers=org.auth), 422, "import_rejected")
    assert_error(
        http.post(url, params={"format": "xml"}, content=b"<a/>", headers=org.auth), 400, "bad_request"
    )
    assert attendees(http, org, event) == ["Lin Wei"]


def test_lists_and_gates_are_managed_over_the_api_and_move_the_revision(
    hub_db_module: str, http: httpx.Client
) -> None:
    org = new_org(hub_db_module, http)
    event = new_event(http, org, roster=None)
    before = http.get(f"/api/v1/events/{event}", headers=org.auth).json()["catalog_revision"]
    added = http.post(
        f"/api/v1/events/{event}/lists",
        json={"id": "day2", "name": "Day 2", "ticket_types": ["general"]},
        headers=org.auth,
    )
    assert added.status_code == 201, added.text
    assert added.json()["catalog_revision"] > before
    gate = http.post(
        f"/api/v1/events/{event}/gates", json={"id": "hall-b", "name": "Hall B", "default_list": "day2"},
        headers=org.auth,
    )  # fmt: skip
    assert gate.status_code == 201, gate.text
    bad_gate = {"id": "x", "name": "X", "default_list": "nope"}
    refused = http.post(f"/api/v1/events/{event}/gates", json=bad_gate, headers=org.auth)
    message = assert_error(refused, 422, "invalid")
    assert "nope" in message
    bundle = http.get(f"/api/v1/events/{event}/catalog", headers=org.auth).json()["catalog"]
    assert {g["id"]: g["default_list"] for g in bundle["gates"]} == {"main": "main", "hall-b": "day2"}


def test_ten_megabytes_of_binary_garbage_is_refused_clearly(hub_db_module: str, http: httpx.Client) -> None:
    org = new_org(hub_db_module, http)
    event = new_event(http, org)
    start = revision(http, org, event)
    garbage = b"\xff\xfe" + os.urandom(10 * 1024 * 1024)
    response = http.post(f"/api/v1/events/{event}/attendees/import", content=garbage, headers=org.auth)
    assert_error(response, 422, "import_rejected")
    assert "UTF-8" in response.json()["problems"][0]["message"]
    assert attendees(http, org, event) == ["Ada Lovelace", "Grace Hopper"]
    assert revision(http, org, event) == start


def test_ten_megabytes_of_text_garbage_is_refused_clearly(hub_db_module: str, http: httpx.Client) -> None:
    org = new_org(hub_db_module, http)
    event = new_event(http, org)
    garbage = os.urandom(5 * 1024 * 1024).hex().encode()  # 10 MB of text on one line
    response = http.post(f"/api/v1/events/{event}/attendees/import", content=garbage, headers=org.auth)
    assert_error(response, 422, "import_rejected")
    assert attendees(http, org, event) == ["Ada Lovelace", "Grace Hopper"]


# --- the catalog endpoint appliances poll ------------------------------------------------------


def test_a_device_fetches_a_signed_snapshot_of_its_own_event_only(
    hub_db_module: str, http: httpx.Client
) -> None:
    org = new_org(hub_db_module, http)
    event, other_event = new_event(http, org), new_event(http, org, name="Other")
    device = enrol_device(http, org, event)

    response = http.get(f"/api/v1/events/{event}/catalog", headers=device.auth)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    catalog, _ = read_bundle(response.content, [device.catalog_key])  # the key from the enrolment grant
    assert catalog.event.id == event
    assert catalog.revision == int(response.headers["X-Catalog-Revision"]) == revision(http, org, event)
    assert sorted(a.name for a in catalog.attendees) == ["Ada Lovelace", "Grace Hopper"]
    with pytest.raises(BundleError):  # and it is that key, not any key, that makes it verify
        read_bundle(response.content, [bytes(32)])

    assert other_event in assert_error(
        http.get(f"/api/v1/events/{other_event}/catalog", headers=device.auth), 403, "forbidden"
    )


def test_polling_gets_304_when_current_and_a_delta_when_behind(
    hub_db_module: str, http: httpx.Client
) -> None:
    org = new_org(hub_db_module, http)
    event = new_event(http, org)
    device = enrol_device(http, org, event)
    url = f"/api/v1/events/{event}/catalog"
    held = int(http.get(url, headers=device.auth).headers["X-Catalog-Revision"])

    current = http.get(url, params={"since": held}, headers=device.auth)
    assert current.status_code == 304
    assert current.content == b""
    assert int(current.headers["X-Catalog-Revision"]) == held

    more = (
        ROSTER.replace(b"Grace Hopper", b"Rear Admiral Grace Hopper")
        + b"T-3,Katherine Johnson,NASA,general\n"
    )
    assert (
        http.post(f"/api/v1/events/{event}/attendees/import", content=more, headers=org.auth).status_code
        == 200
    )
    delta = http.get(url, params={"since": held}, headers=device.auth)
    assert delta.status_code == 200, delta.text
    catalog, _ = read_bundle(delta.content, [device.catalog_key])
    assert catalog.base_revision == held
    assert catalog.revision == int(delta.headers["X-Catalog-Revision"]) > held
    assert sorted(a.name for a in catalog.attendees) == ["Katherine Johnson", "Rear Admiral Grace Hopper"]
    assert http.get(url, params={"since": catalog.revision}, headers=device.auth).status_code == 304

    future = http.get(url, params={"since": catalog.revision + 100}, headers=device.auth)
    assert "full snapshot" in assert_error(future, 409, "conflict")


def test_a_revoked_device_gets_no_catalog(hub_db_module: str, http: httpx.Client) -> None:
    org = new_org(hub_db_module, http)
    event = new_event(http, org)
    device = enrol_device(http, org, event)
    url = f"/api/v1/events/{event}/catalog"
    assert http.get(url, headers=device.auth).status_code == 200
    assert http.post(f"/api/v1/devices/{device.device_id}/revoke", headers=org.auth).status_code == 200
    assert "revoked" in assert_error(http.get(url, headers=device.auth), 401, "unauthorized")
    assert_error(http.get(url, headers=bearer("kd1_" + "y" * 43)), 401, "unauthorized")


def test_an_organizer_token_fetches_the_bundle_too(hub_db_module: str, http: httpx.Client) -> None:
    org = new_org(hub_db_module, http)
    event = new_event(http, org)
    response = http.get(f"/api/v1/events/{event}/catalog", headers=org.auth)
    assert response.status_code == 200, response.text
    assert len(decode_bundle(response.content).catalog.attendees) == 2


# --- operators' endpoints ----------------------------------------------------------------------


def test_health_metrics_and_openapi(http: httpx.Client) -> None:
    health = http.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"

    metrics = http.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    samples = [line for line in metrics.text.splitlines() if line.startswith("konferenco_hub_")]
    names = {line.split("{")[0].split(" ")[0] for line in samples}
    assert {"konferenco_hub_documents_loaded", "konferenco_hub_db_pool_size"} <= names
    assert all(float(line.rsplit(" ", 1)[1]) >= 0 for line in samples)

    schema = http.get("/schema/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/events"])
    assert "post" in paths["/api/v1/enrol"]
    assert "/api/v1/events/{event_id}/catalog" in paths


def test_an_unknown_api_path_is_404_json(http: httpx.Client) -> None:
    assert_error(http.get(f"/api/v1/{unique('nothing')}"), 404, "not_found")
