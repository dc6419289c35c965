"""What a clumsy user or an attacker types into the hub's API: refused with a 4xx, nothing stored.

Each of these used to reach PostgreSQL and come back as a 500 (a NUL character in a name, a
CSV file, a sign-in e-mail, a search or a path; a ``starts_at`` beyond 64 bits; an event id
another organization already uses).  Against a real hub process and database.
"""

from __future__ import annotations

import httpx
import pytest

from tests.hub.api_support import ROSTER, Org, assert_error, new_event, new_org, sql


def _error(response: httpx.Response, status: int, code: str, field: str) -> str:
    message = assert_error(response, status, code)
    assert response.json()["details"]["field"] == field, response.json()
    return message


@pytest.fixture(scope="module")
def org(hub_db_module: str, http: httpx.Client) -> Org:
    return new_org(hub_db_module, http)


def _events(hub_db: str, org: Org) -> int:
    return int(sql(hub_db, "SELECT count(*) AS n FROM event WHERE org_id = $1", org.org_id)[0]["n"])


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Sum\x00mit"},
        {"name": "Summit", "timezone": "UTC\x00"},
        {"name": "Summit", "id": "ev\x00x"},
        {"name": "Summit", "parent_id": "\x00"},
    ],
)
def test_a_nul_character_in_an_event_is_a_400_naming_the_field(
    hub_db_module: str, http: httpx.Client, org: Org, body: dict[str, str]
) -> None:
    before = _events(hub_db_module, org)
    response = http.post("/api/v1/events", json=body, headers=org.auth)
    field = next(k for k, v in body.items() if "\x00" in v)
    assert field in _error(response, 400, "bad_request", field)
    assert _events(hub_db_module, org) == before


def test_a_lone_surrogate_in_json_is_a_400(hub_db_module: str, http: httpx.Client, org: Org) -> None:
    before = _events(hub_db_module, org)
    body = b'{"name": "Sum\\ud800mit"}'
    response = http.post(
        "/api/v1/events", content=body, headers={**org.auth, "Content-Type": "application/json"}
    )
    assert_error(response, 400, "bad_request")
    assert _events(hub_db_module, org) == before


@pytest.mark.parametrize("field", ["starts_at", "ends_at"])
@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**30])
def test_a_time_beyond_64_bits_is_a_400(
    hub_db_module: str, http: httpx.Client, org: Org, field: str, value: int
) -> None:
    before = _events(hub_db_module, org)
    response = http.post("/api/v1/events", json={"name": "Summit", field: value}, headers=org.auth)
    _error(response, 400, "bad_request", field)
    assert _events(hub_db_module, org) == before


def test_the_largest_64_bit_time_is_stored(http: httpx.Client, org: Org) -> None:
    response = http.post("/api/v1/events", json={"name": "Far", "ends_at": 2**63 - 1}, headers=org.auth)
    assert response.status_code == 201, response.text
    assert response.json()["ends_at"] == 2**63 - 1


def test_a_nul_byte_in_a_csv_import_names_the_line_and_nothing_is_imported(
    hub_db_module: str, http: httpx.Client, org: Org
) -> None:
    event = new_event(http, org, roster=None)
    roster = ROSTER + b"T-3,Ada\x00Byron,Analytical Engines,general\n"
    response = http.post(f"/api/v1/events/{event}/attendees/import", content=roster, headers=org.auth)
    assert_error(response, 422, "import_rejected")
    problems = response.json()["details"]["problems"]
    assert [(p["line"], p["field"]) for p in problems] == [(4, "file")], problems
    assert "NUL" in problems[0]["message"]
    assert sql(hub_db_module, "SELECT id FROM attendee WHERE event_id = $1", event) == []


def test_a_utf16_spreadsheet_export_is_refused_and_nothing_imported(
    hub_db_module: str, http: httpx.Client, org: Org
) -> None:
    event = new_event(http, org, roster=None)
    roster = ROSTER.decode().encode("utf-16")
    response = http.post(f"/api/v1/events/{event}/attendees/import", content=roster, headers=org.auth)
    assert_error(response, 422, "import_rejected")
    assert "UTF-8" in response.json()["details"]["problems"][0]["message"]
    assert sql(hub_db_module, "SELECT id FROM attendee WHERE event_id = $1", event) == []


def test_a_nul_byte_in_utf16_without_a_bom_is_refused_and_nothing_imported(
    hub_db_module: str, http: httpx.Client, org: Org
) -> None:
    """ASCII text saved as UTF-16LE without a BOM is valid UTF-8, a NUL after every letter."""
    event = new_event(http, org, roster=None)
    roster = ROSTER.decode().encode("utf-16-le")
    response = http.post(f"/api/v1/events/{event}/attendees/import", content=roster, headers=org.auth)
    assert_error(response, 422, "import_rejected")
    assert response.json()["details"]["problems"][0]["line"] == 1
    assert sql(hub_db_module, "SELECT id FROM attendee WHERE event_id = $1", event) == []


def test_a_nul_character_in_a_json_import_names_the_row_and_nothing_is_imported(
    hub_db_module: str, http: httpx.Client, org: Org
) -> None:
    event = new_event(http, org, roster=None)
    attendees = [
        {"external_ref": "J-1", "name": "Ada Lovelace", "ticket_type": "general"},
        {"external_ref": "J-2", "name": "Grace\x00Hopper", "ticket_type": "general"},
    ]
    response = http.post(
        f"/api/v1/events/{event}/attendees/import",
        params={"format": "json"},
        json=attendees,
        headers=org.auth,
    )
    assert_error(response, 422, "import_rejected")
    problems = response.json()["details"]["problems"]
    assert [(p["line"], p["field"]) for p in problems] == [(2, "name")], problems
    assert sql(hub_db_module, "SELECT id FROM attendee WHERE event_id = $1", event) == []


def test_a_nul_character_in_the_search_is_a_400(http: httpx.Client, org: Org) -> None:
    event = new_event(http, org)
    response = http.get(f"/api/v1/events/{event}/attendees", params={"q": "Ada\x00"}, headers=org.auth)
    _error(response, 400, "bad_request", "q")


def test_a_query_that_is_not_utf8_is_a_400(http: httpx.Client, org: Org) -> None:
    event = new_event(http, org)
    response = http.get(f"/api/v1/events/{event}/attendees?q=Ad%FFa", headers=org.auth)
    assert "UTF-8" in _error(response, 400, "bad_request", "q")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/events/ev%00x",
        "/api/v1/events/ev%00x/attendees",
        "/api/v1/events/ev%00x/badges.csv",
        "/api/v1/events/{event}/attendees/a%00b/cancel",
    ],
)
def test_a_nul_character_in_a_path_is_a_400(http: httpx.Client, org: Org, path: str) -> None:
    event = new_event(http, org, roster=None)
    method = "POST" if path.endswith("/cancel") else "GET"
    response = http.request(method, path.format(event=event), headers=org.auth)
    field = "attendee_id" if "a%00b" in path else "event_id"
    _error(response, 400, "bad_request", field)


def test_a_nul_character_in_the_sign_in_email_is_a_400(http: httpx.Client, org: Org) -> None:
    response = http.post(
        "/api/v1/auth/token",
        json={"email": org.email + "\x00", "password": "x", "organization": org.slug},
    )
    _error(response, 400, "bad_request", "email")


def test_an_event_id_taken_by_another_organization_is_a_409_that_says_nothing_about_it(
    hub_db_module: str, http: httpx.Client, org: Org
) -> None:
    other = new_org(hub_db_module, http)
    taken = http.post("/api/v1/events", json={"name": "Theirs", "id": "shared-summit"}, headers=other.auth)
    assert taken.status_code == 201, taken.text
    ours = http.post("/api/v1/events", json={"name": "Ours", "id": "own-summit"}, headers=org.auth)
    assert ours.status_code == 201, ours.text

    theirs_again = http.post("/api/v1/events", json={"name": "Mine", "id": "shared-summit"}, headers=org.auth)
    ours_again = http.post("/api/v1/events", json={"name": "Mine", "id": "own-summit"}, headers=org.auth)
    for response in (theirs_again, ours_again):
        _error(response, 409, "conflict", "id")
    # The same answer, whoever holds the id: only the id itself differs.
    assert theirs_again.json()["message"].replace("shared-summit", "X") == ours_again.json()[
        "message"
    ].replace("own-summit", "X")
    assert http.get("/api/v1/events/shared-summit", headers=org.auth).status_code == 404
    owners = sql(hub_db_module, "SELECT org_id::text AS o, name FROM event WHERE id = 'shared-summit'")
    assert [(r["o"], r["name"]) for r in owners] == [(other.org_id, "Theirs")]


@pytest.mark.parametrize("query", ["γιωργος", "ΓΙΩΡΓΟΣ", "Γιώργος", "γιωργ", "παπαδοπουλος", "ΠΑΠΑΔΌΠΟΥΛΟΣ"])
def test_greek_names_are_found_without_accents_or_final_sigma(
    http: httpx.Client, org: Org, query: str
) -> None:
    roster = (
        "external_ref,name,company,ticket_type\n"
        "G-1,Γιώργος Παπαδόπουλος,Ελληνικά Τρόφιμα,general\n"
        "G-2,Ελένη Γεωργίου,,general\n"
    ).encode()
    event = new_event(http, org, roster=roster)
    response = http.get(f"/api/v1/events/{event}/attendees", params={"q": query}, headers=org.auth)
    assert response.status_code == 200, response.text
    assert [a["name"] for a in response.json()] == ["Γιώργος Παπαδόπουλος"]


def test_an_unreadable_query_on_a_route_without_parameters_is_a_documented_400(
    http: httpx.Client, org: Org
) -> None:
    response = http.get("/api/v1/events?page=%00", headers=org.auth)
    _error(response, 400, "bad_request", "page")
    document = http.get("/schema/openapi.json").json()
    assert "400" in document["paths"]["/api/v1/events"]["get"]["responses"]


def test_json_nested_thousands_deep_is_a_400(hub_db_module: str, http: httpx.Client, org: Org) -> None:
    before = _events(hub_db_module, org)
    body = b'{"name": "Deep", "parent_id": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = http.post(
        "/api/v1/events", content=body, headers={**org.auth, "Content-Type": "application/json"}
    )
    assert "nested" in assert_error(response, 400, "bad_request")
    assert _events(hub_db_module, org) == before
