"""What the help desk reads and asks for, on a real appliance with a capture printer.

``GET /api/v1/attendees/{id}/record`` gathers an attendee's roster entry, check-ins,
prints (with a reprint's reason), corrections and revocations in one answer; the
door's set-up lists the ticket types a walk-in is registered with; the overview
names the catalog's revision; the live feed's ``tap`` topic is the desk's alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.helpers import konferenco, wait_for
from tests.kiosk_ui.conftest import Venue, make_venue


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venue]:
    yield from make_venue(tmp_path_factory.mktemp("desk-record"))


def _token(venue: Venue, role: str) -> str:
    return konferenco("appliance", "issue-token", "--data", str(venue.data), "--role", role).stdout.strip()


def _as(venue: Venue, role: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {_token(venue, role)}"}
    return httpx.request(method, f"{venue.url}{path}", headers=headers, timeout=15, **kwargs)


def _record(venue: Venue, attendee_id: str) -> dict[str, Any]:
    answer = venue.desk("GET", f"/api/v1/attendees/{attendee_id}/record")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_the_record_holds_every_check_in_the_prints_corrections_and_revocations(venue: Venue) -> None:
    person = venue.take()
    attendee_id = person["attendee_id"]
    first = venue.door_says(person["badge_code"])
    assert first["result"] == "admitted"
    annulled = venue.desk("POST", f"/api/v1/scans/{first['scan_id']}/annul", json={"reason": "wrong person"})
    assert annulled.status_code == 200, annulled.text
    second = venue.door_says(person["badge_code"])
    job = venue.desk("POST", "/api/v1/print-jobs", json={"attendee_id": attendee_id}).json()
    wait_for(
        lambda: venue.desk("GET", f"/api/v1/print-jobs/{job['id']}").json()["status"] == "done",
        what="the badge to be printed",
    )
    again = venue.desk("POST", f"/api/v1/print-jobs/{job['id']}/reprint", json={"reason": "badge lost"})
    assert again.status_code == 202, again.text
    corrected = _as(
        venue,
        "organizer",
        "PATCH",
        f"/api/v1/attendees/{attendee_id}",
        json={"field": "name", "value": "Zoë Q"},
    )
    assert corrected.status_code == 200, corrected.text
    revoked = _as(
        venue, "organizer", "POST", "/api/v1/revocations",
        json={"target": "attendee", "value": attendee_id, "reason": "ticket refunded"},
    )  # fmt: skip
    assert revoked.status_code == 200, revoked.text

    record = _record(venue, attendee_id)
    assert record["attendee"]["name"] == "Zoë Q"
    assert record["attendee"]["email"] and record["attendee"]["order_ref"]
    assert record["attendee"]["ticket_type"] == "Full pass"
    checkins = {c["scan_id"]: c for c in record["checkins"]}
    assert checkins[first["scan_id"]]["annulled"] is True
    assert checkins[second["scan_id"]]["annulled"] is False
    assert checkins[second["scan_id"]]["gate"] == "south"
    assert [c["at"] for c in record["checkins"]] == sorted(
        (c["at"] for c in record["checkins"]), reverse=True
    )
    prints = {p["id"]: p for p in record["prints"]}
    assert prints[again.json()["id"]]["reason"] == "badge lost"
    assert prints[again.json()["id"]]["reprint_of"] == job["id"]
    assert prints[job["id"]]["reason"] == ""
    assert [(c["field"], c["value"]) for c in record["corrections"]] == [("name", "Zoë Q")]
    assert [(r["target"], r["reason"]) for r in record["revocations"]] == [("attendee", "ticket refunded")]
    assert record["duplicates"] == []


def test_a_reprint_reason_is_kept_on_the_job_and_a_long_one_is_refused(venue: Venue) -> None:
    person = venue.take()
    job = venue.desk("POST", "/api/v1/print-jobs", json={"attendee_id": person["attendee_id"]}).json()
    wait_for(
        lambda: venue.desk("GET", f"/api/v1/print-jobs/{job['id']}").json()["status"] == "done",
        what="the badge to be printed",
    )
    too_long = venue.desk("POST", f"/api/v1/print-jobs/{job['id']}/reprint", json={"reason": "x" * 201})
    assert too_long.status_code == 400, too_long.text
    unknown = venue.desk("POST", f"/api/v1/print-jobs/{job['id']}/reprint", json={"why": "lost"})
    assert unknown.status_code == 400, unknown.text
    assert [j for j in venue.jobs_of(person["attendee_id"]) if j["kind"] == "reprint"] == []  # nothing queued
    plain = venue.desk("POST", f"/api/v1/print-jobs/{job['id']}/reprint")  # no body: as before
    assert plain.status_code == 202, plain.text
    assert plain.json()["reason"] == ""
    listed = {j["id"]: j for j in venue.jobs_of(person["attendee_id"])}
    assert listed[plain.json()["id"]]["kind"] == "reprint"


def test_an_unknown_attendee_has_no_record_and_a_door_or_kiosk_account_reads_none(venue: Venue) -> None:
    missing = venue.desk("GET", "/api/v1/attendees/nobody-here/record")
    assert missing.status_code == 404
    assert missing.json()["code"] == "unknown_attendee"
    person = venue.take()
    for role in ("door", "kiosk"):
        refused = _as(venue, role, "GET", f"/api/v1/attendees/{person['attendee_id']}/record")
        assert refused.status_code == 403, refused.text


def test_the_desk_learns_the_ticket_types_and_the_catalog_revision(venue: Venue) -> None:
    setup = venue.desk("GET", "/api/v1/door/setup").json()
    names = {t["id"]: t["name"] for t in setup["ticket_types"]}
    assert names["full"] == "Full pass"
    assert [t["name"].casefold() for t in setup["ticket_types"]] == sorted(
        t["name"].casefold() for t in setup["ticket_types"]
    )
    overview = venue.desk("GET", "/api/v1/overview").json()
    (catalog,) = overview["catalog"]
    assert catalog["event"] == "demo"
    assert catalog["revision"] >= 1 and catalog["imported_at"] > 0
    assert catalog["attendees"] >= 60  # the demo's 60, and any walk-in registered by now


def test_only_desk_and_organizer_accounts_may_follow_the_desk_readers_taps(venue: Venue) -> None:
    for role in ("door", "kiosk"):
        refused = _as(venue, role, "GET", "/api/v1/live", params={"topics": "scan,tap"})
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "forbidden"
    headers = {"Authorization": f"Bearer {venue.desk_token}"}
    with httpx.stream(
        "GET", f"{venue.url}/api/v1/live", params={"topics": "tap"}, headers=headers, timeout=10
    ) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
