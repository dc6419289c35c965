"""The touch kiosk's API on a real appliance process, with a real ESC/POS socket as its printer.

What an attendee at the kiosk would notice: their badge is recognised (or
refused with the door's reason and the day it is valid), a name search
shows nobody's full name, a wrong second factor three times sends them to
the desk, a spelling fix lands on the badge, and pressing Print twice — or
a retry after a hiccup — gives one badge, never two.  With no printer able
to print, nothing is recorded and they are told so.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from konferenco.badges import BadgePayload, BadgeSigner
from konferenco.types import new_id
from tests.appliance.kiosk_support import KioskCorner, kiosk_corner, qr_codes_in
from tests.drivers.test_printer import PAPER_OUT
from tests.helpers import konferenco, wait_for


@pytest.fixture(scope="module")
def corner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KioskCorner]:
    with kiosk_corner(tmp_path_factory.mktemp("kiosk")) as made:
        yield made


def refusal(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    return dict(body["details"])


# --- pairing ---------------------------------------------------------------------------------


def test_a_paired_kiosk_signs_in_as_a_kiosk_and_a_code_works_once(corner: KioskCorner) -> None:
    made = konferenco("appliance", "kiosk", "pair-code", "--data", str(corner.data), "--name", "Hall B kiosk")
    code = made.stdout.strip()
    assert re.fullmatch(r"\d{6}", code), made.stdout
    paired = corner.call("POST", "/api/v1/kiosk/pair", json={"code": code})
    assert paired.status_code == 200, paired.text
    body = paired.json()
    assert body["role"] == "kiosk" and body["name"] == "Hall B kiosk"
    assert body["expires_at"] > (time.time() + 29 * 86400) * 1000  # a month, not a shift
    me = corner.call("GET", "/api/v1/auth/me", body["token"]).json()
    assert me["role"] == "kiosk" and me["name"] == "Hall B kiosk"
    assert corner.call("GET", "/api/v1/kiosk/status", body["token"]).status_code == 200
    # a kiosk is not the desk: it cannot make pairing codes for others
    assert (
        corner.call("POST", "/api/v1/kiosk/pairing-codes", body["token"], json={"name": "x"}).status_code
        == 403
    )
    again = corner.call("POST", "/api/v1/kiosk/pair", json={"code": code})
    refusal(again, 403, "wrong_code")


def test_wrong_and_expired_codes_get_one_answer_and_five_wrong_lock_the_address(
    tmp_path: Path,
) -> None:
    # An appliance of its own: the lock-out would stop the other tests' kiosks from pairing.
    with kiosk_corner(tmp_path, attendees=3) as box:
        made = box.call("POST", "/api/v1/kiosk/pairing-codes", box.tokens["desk"], json={"name": "Door 2"})
        assert made.status_code == 201, made.text
        expiring = made.json()
        assert expiring["name"] == "Door 2" and re.fullmatch(r"\d{6}", expiring["code"])
        conn = sqlite3.connect(box.data / "appliance.db")
        conn.execute("UPDATE kiosk_pairing_code SET expires_at = 1")  # ten minutes have passed
        conn.commit()
        conn.close()
        wrong = "000000" if expiring["code"] != "000000" else "111111"
        answers = [
            box.call("POST", "/api/v1/kiosk/pair", json={"code": c}) for c in (expiring["code"], wrong)
        ]
        assert [a.status_code for a in answers] == [403, 403]
        assert (
            answers[0].json()["message"] == answers[1].json()["message"]
        )  # nothing to learn from the answer
        for _ in range(3):
            refusal(box.call("POST", "/api/v1/kiosk/pair", json={"code": wrong}), 403, "wrong_code")
        good = box.call(
            "POST", "/api/v1/kiosk/pairing-codes", box.tokens["desk"], json={"name": "Door 3"}
        ).json()
        locked = refusal(box.call("POST", "/api/v1/kiosk/pair", json={"code": good["code"]}), 423, "locked")
        assert 0 < locked["retry_after_s"] <= 600


# --- identify --------------------------------------------------------------------------------


def test_a_good_badge_is_recognised_and_nothing_is_recorded(corner: KioskCorner) -> None:
    row = corner.take()
    who = corner.identify(row)
    assert who["attendee"] == {
        "id": row["attendee_id"],
        "name": row["name"],
        "company": row["company"],
        "ticket_type": "Full pass",
    }
    assert who["grant"].startswith("kg1.") and who["printed_before"] is False and who["checked_in"] is False
    assert corner.identify(row)["checked_in"] is False  # identifying is not a check-in


@pytest.mark.parametrize(
    ("badge", "result"),
    [
        ({"code": "https://example.com/not-a-badge"}, "invalid"),
        (
            {"code": BadgeSigner(Ed25519PrivateKey.generate()).sign(BadgePayload("other-con", "a1", "full"))},
            "invalid",
        ),
        ({"nfc_uid": "04A1B2C3D4E5F6"}, "unknown_badge"),
    ],
    ids=["a QR that is not ours", "another event's badge", "an unknown NFC tag"],
)
def test_badges_the_door_would_refuse_are_refused_with_its_reason(
    corner: KioskCorner, badge: dict[str, str], result: str
) -> None:
    details = refusal(
        corner.kiosk("POST", "/api/v1/kiosk/identify", json={"badge": badge}), 422, "badge_refused"
    )
    assert details["result"] == result and details["reason"]


def test_a_revoked_badge_is_refused_as_revoked(corner: KioskCorner) -> None:
    row = corner.take()
    revoked = corner.call(
        "POST",
        "/api/v1/revocations",
        corner.tokens["organizer"],
        json={"target": "attendee", "value": row["attendee_id"], "reason": "lost"},
    )
    assert revoked.status_code == 200, revoked.text
    answer = corner.kiosk("POST", "/api/v1/kiosk/identify", json={"badge": {"code": row["badge_code"]}})
    assert refusal(answer, 422, "badge_refused")["result"] == "revoked"


def test_a_day_ticket_for_another_day_says_which_day(corner: KioskCorner) -> None:
    later = [r for r in corner.badges if r["ticket_type"] == "Day pass" and r["valid_from"] > time.time()]
    assert later, "the demo seed has day passes for the coming days"
    row = later[0]
    details = refusal(
        corner.kiosk("POST", "/api/v1/kiosk/identify", json={"badge": {"code": row["badge_code"]}}),
        422,
        "badge_refused",
    )
    assert details["result"] == "not_yet_valid"
    assert (
        details["valid_from"] == row["valid_from"] * 1000
        and details["valid_until"] == row["valid_until"] * 1000
    )


# --- the masked name search and the second factor ---------------------------------------------


def test_a_name_search_shows_initials_only_and_needs_two_letters(corner: KioskCorner) -> None:
    refusal(corner.kiosk("GET", "/api/v1/kiosk/lookup", params={"q": "a"}), 422, "query_too_short")
    surname = corner.badges[0]["name"].split()[-1]
    found = corner.kiosk("GET", "/api/v1/kiosk/lookup", params={"q": surname})
    assert found.status_code == 200, found.text
    results = found.json()["results"]
    assert 1 <= len(results) <= 8
    text = found.text
    for row in corner.badges:  # no full name, e-mail, order code or badge of anyone
        assert row["name"] not in text and row["email"] not in text and row["order_ref"] not in text
        assert row["badge_code"] not in text
    for hit in results:
        assert re.fullmatch(r"\w\. \w…|\w…", hit["name"]), hit
        assert hit["ref"].startswith("kr1.")
    assert f"{corner.badges[0]['name'][0].upper()}. {surname[0].upper()}…" in [h["name"] for h in results]
    row = corner.badges[0]
    for private in (row["email"], row["order_ref"], "example.org"):  # never a hint that they are registered
        assert corner.kiosk("GET", "/api/v1/kiosk/lookup", params={"q": private}).json()["results"] == []
    for n in range(9):
        _walk_in(corner, f"Quirin{n} Zwiebelmeyer", f"qz{n}@example.net")
    many = corner.kiosk("GET", "/api/v1/kiosk/lookup", params={"q": "Zwiebelmeyer"}).json()
    assert len(many["results"]) == 8 and many["more"] is True


def _walk_in(corner: KioskCorner, name: str, email: str) -> str:
    made = corner.call(
        "POST",
        "/api/v1/attendees",
        corner.tokens["desk"],
        json={"name": name, "ticket_type_id": "full", "email": email},
    )
    assert made.status_code == 201, made.text
    return str(made.json()["attendee_id"])


@pytest.mark.parametrize(
    ("name", "query", "masked"),
    [("田中 太郎", "田中", "田. 太…"), ("Αλέξης Παπαδόπουλος", "Παπαδ", "Α. Π…")],  # noqa: RUF001 (Greek on purpose)
    ids=["Japanese", "Greek"],
)
def test_a_name_in_another_script_is_found_masked_and_verified_by_email_domain(
    corner: KioskCorner, name: str, query: str, masked: str
) -> None:
    attendee_id = _walk_in(corner, name, f"someone.{new_id()[:6].lower()}@example.jp")
    found = corner.kiosk("GET", "/api/v1/kiosk/lookup", params={"q": query}).json()["results"]
    assert [h["name"] for h in found] == [masked]
    assert name not in str(found)
    verified = corner.kiosk(
        "POST", "/api/v1/kiosk/lookup/verify", json={"ref": found[0]["ref"], "factor": "EXAMPLE.jp"}
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["attendee"]["id"] == attendee_id and verified.json()["attendee"]["name"] == name


def _ref_of(corner: KioskCorner, row: dict[str, Any], token: str) -> str:
    found = corner.call("GET", "/api/v1/kiosk/lookup", token, params={"q": row["name"]}).json()["results"]
    assert found, row["name"]
    # the masked list cannot tell namesakes apart; the ref of each is what the person taps
    refs = [h["ref"] for h in found]
    for ref in refs:
        if _attendee_of(ref) == row["attendee_id"]:
            return str(ref)
    raise AssertionError(f"{row['name']} not among the results")


def _attendee_of(ref: str) -> str:
    """Read the attendee id out of a ref (its payload is not secret, only sealed)."""
    import base64
    import json

    payload = ref.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["attendee"])


def test_the_right_order_suffix_identifies_and_three_wrong_answers_pause_the_kiosk(
    corner: KioskCorner,
) -> None:
    token = corner.pair("Lookup kiosk")  # the pause is per kiosk: keep it away from the other tests
    row = corner.take()
    right = row["order_ref"][-4:].lower()
    verified = corner.call(
        "POST",
        "/api/v1/kiosk/lookup/verify",
        token,
        json={"ref": _ref_of(corner, row, token), "factor": right},
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["attendee"]["name"] == row["name"] and verified.json()["grant"].startswith("kg1.")

    other = corner.take()
    ref = _ref_of(corner, other, token)
    left = [
        refusal(
            corner.call("POST", "/api/v1/kiosk/lookup/verify", token, json={"ref": ref, "factor": f}),
            403,
            "wrong_factor",
        )["attempts_left"]
        for f in ("ZZZZ", "nowhere.example")
    ]
    assert left == [2, 1]
    third = corner.call("POST", "/api/v1/kiosk/lookup/verify", token, json={"ref": ref, "factor": "0000"})
    assert 0 < refusal(third, 429, "ask_at_desk")["retry_after_s"] <= 60
    domain = other["email"].rpartition("@")[2]
    paused = corner.call("POST", "/api/v1/kiosk/lookup/verify", token, json={"ref": ref, "factor": domain})
    refusal(paused, 429, "ask_at_desk")  # even the right answer waits out the pause


def test_a_ref_is_bound_to_the_kiosk_that_searched(corner: KioskCorner) -> None:
    row = corner.take()
    ref = _ref_of(corner, row, corner.kiosk_token)
    stranger = corner.pair("Other kiosk")
    answer = corner.call(
        "POST", "/api/v1/kiosk/lookup/verify", stranger, json={"ref": ref, "factor": row["order_ref"][-4:]}
    )
    assert answer.status_code == 403, answer.text


# --- preview and corrections --------------------------------------------------------------------


def test_the_preview_is_the_printed_badge(corner: KioskCorner) -> None:
    row = corner.take()
    grant = corner.identify(row)["grant"]
    png = corner.kiosk("GET", "/api/v1/kiosk/badge.png", params={"grant": grant})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    import io

    import zxingcpp
    from PIL import Image

    image = Image.open(io.BytesIO(png.content))
    assert image.width == 576  # the printer's paper (TM-T20II, 80 mm), not a screen size
    assert [r.text for r in zxingcpp.read_barcodes(image.convert("L"))] == [row["badge_code"]]
    refusal(corner.kiosk("GET", "/api/v1/kiosk/badge.png", params={"grant": grant + "x"}), 403, "forbidden")


def test_a_spelling_fix_is_recorded_as_the_desks_and_a_new_name_is_refused(corner: KioskCorner) -> None:
    row = corner.take()
    grant = corner.identify(row)["grant"]
    first, _, last = row["name"].partition(" ")
    fixed_name = f"{first}e {last}"  # one letter added
    fixed = corner.kiosk(
        "POST", "/api/v1/kiosk/corrections", json={"grant": grant, "name": fixed_name, "company": "Acme"}
    )
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["attendee"]["name"] == fixed_name and fixed.json()["attendee"]["company"] == "Acme"
    seen = corner.call("GET", f"/api/v1/attendees/{row['attendee_id']}", corner.tokens["desk"]).json()
    assert seen["name"] == fixed_name and seen["company"] == "Acme"

    for name in ("Maria Gonzalez-Iglesias", "ユルゲン"):
        answer = corner.kiosk("POST", "/api/v1/kiosk/corrections", json={"grant": grant, "name": name})
        assert refusal(answer, 422, "correction_refused")["field"] == "name"
    after = corner.call("GET", f"/api/v1/attendees/{row['attendee_id']}", corner.tokens["desk"]).json()
    assert after["name"] == fixed_name  # nothing changed


def test_a_box_without_the_organizer_capability_refuses_corrections_and_changes_nothing(
    tmp_path: Path,
) -> None:
    """Roster corrections are control-document amendments: only an organizer box may make them,
    the desk's and the kiosk's alike; the kiosk sends the attendee to the desk instead."""
    with kiosk_corner(tmp_path, attendees=5, without=("organizer",)) as plain:
        row = plain.take()
        grant = plain.identify(row)["grant"]
        first, _, last = row["name"].partition(" ")
        answer = plain.kiosk(
            "POST", "/api/v1/kiosk/corrections", json={"grant": grant, "name": f"{first}e {last}"}
        )
        assert refusal(answer, 403, "forbidden")["capability"] == "organizer"
        seen = plain.call("GET", f"/api/v1/attendees/{row['attendee_id']}", plain.tokens["desk"]).json()
        assert seen["name"] == row["name"]


# --- check-in and print -------------------------------------------------------------------------


def _job(corner: KioskCorner, job_id: str) -> dict[str, Any]:
    answer = corner.kiosk("GET", f"/api/v1/print-jobs/{job_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_print_twice_with_one_nonce_gives_one_scan_and_one_badge(corner: KioskCorner) -> None:
    printer = corner.printer()
    try:
        row = corner.take()
        grant = corner.identify(row)["grant"]
        body = {"grant": grant, "nonce": f"tap-{new_id()}"}
        first = corner.kiosk("POST", "/api/v1/kiosk/checkins", json=body)
        assert first.status_code == 200, first.text
        answer = first.json()
        assert answer["scan"]["result"] == "admitted" and answer["scan"]["gate"] == "kiosk"
        assert answer["job"]["status"] in ("queued", "printing", "done")
        again = corner.kiosk("POST", "/api/v1/kiosk/checkins", json=body).json()  # the double tap
        assert (
            again["scan"]["scan_id"] == answer["scan"]["scan_id"]
            and again["job"]["id"] == answer["job"]["id"]
        )
        wait_for(lambda: _job(corner, answer["job"]["id"])["status"] == "done", what="the badge to print")
        assert qr_codes_in(printer.received) == [row["badge_code"]]  # one badge, this person's
        jobs = [
            j
            for j in corner.kiosk("GET", "/api/v1/print-jobs").json()
            if j["attendee_id"] == row["attendee_id"]
        ]
        assert len(jobs) == 1
        who = corner.identify(row)
        assert who["checked_in"] is True and who["printed_before"] is True
        # a new nonce (the person comes back) still prints no second badge on its own
        back = corner.kiosk(
            "POST", "/api/v1/kiosk/checkins", json={"grant": who["grant"], "nonce": f"tap-{new_id()}"}
        )
        assert back.status_code == 200 and back.json()["job"]["id"] == answer["job"]["id"]
    finally:
        printer.stop()


def test_with_no_printer_able_to_print_nothing_is_recorded(corner: KioskCorner) -> None:
    row = corner.take()
    grant = corner.identify(row)["grant"]
    body = {"grant": grant, "nonce": f"tap-{new_id()}"}
    off = corner.kiosk("POST", "/api/v1/kiosk/checkins", json=body)  # the printer is switched off
    details = refusal(off, 404, "no_printer")
    assert details["printers"][0]["state"] == "disconnected"
    status = corner.kiosk("GET", "/api/v1/kiosk/status").json()
    assert status["can_print"] is False and status["printers"][0]["ready"] is False
    empty = corner.printer(status=PAPER_OUT)  # on, but out of paper
    try:
        answer = corner.kiosk("POST", "/api/v1/kiosk/checkins", json=body)
        details = refusal(answer, 404, "no_printer")
        assert "paper" in answer.json()["message"] and details["printers"][0]["state"] == "error"
    finally:
        empty.stop()
    who = corner.identify(row)
    assert who["checked_in"] is False and who["printed_before"] is False  # no scan, no job
    jobs = [
        j for j in corner.kiosk("GET", "/api/v1/print-jobs").json() if j["attendee_id"] == row["attendee_id"]
    ]
    assert jobs == []


def test_paper_running_out_mid_job_shows_in_the_jobs_detail(corner: KioskCorner) -> None:
    printer = corner.printer()
    printer.status_after_job = PAPER_OUT
    try:
        row = corner.take()
        grant = corner.identify(row)["grant"]
        answer = corner.kiosk(
            "POST", "/api/v1/kiosk/checkins", json={"grant": grant, "nonce": f"tap-{new_id()}"}
        )
        assert answer.status_code == 200, answer.text
        job_id = answer.json()["job"]["id"]
        wait_for(lambda: _job(corner, job_id)["status"] not in ("queued", "printing"), what="the job to end")
        job = _job(corner, job_id)
        assert job["status"] == "uncertain" and "paper" in job["detail"].lower(), job
    finally:
        printer.stop()


def test_a_grant_of_another_kiosk_or_a_forged_one_acts_on_nobody(corner: KioskCorner) -> None:
    row = corner.take()
    grant = corner.identify(row)["grant"]
    other = corner.pair("Kiosk 3")
    answer = corner.call(
        "POST", "/api/v1/kiosk/corrections", other, json={"grant": grant, "company": "Evil Corp"}
    )
    refusal(answer, 403, "forbidden")
    seen = corner.call("GET", f"/api/v1/attendees/{row['attendee_id']}", corner.tokens["desk"]).json()
    assert seen["company"] == row["company"]


def test_a_retry_after_the_appliance_restarted_answers_the_same_scan_and_badge(corner: KioskCorner) -> None:
    printer = corner.printer()
    try:
        row = corner.take()
        grant = corner.identify(row)["grant"]
        body = {"grant": grant, "nonce": f"tap-{new_id()}"}
        first = corner.kiosk("POST", "/api/v1/kiosk/checkins", json=body).json()
        wait_for(lambda: _job(corner, first["job"]["id"])["status"] == "done", what="the badge to print")
        corner.process.kill()  # kill -9: the kiosk never heard back, and retries
        corner.process.start()
        retried = corner.kiosk("POST", "/api/v1/kiosk/checkins", json=body)
        assert retried.status_code == 200, retried.text
        assert retried.json()["scan"]["scan_id"] == first["scan"]["scan_id"]
        assert retried.json()["scan"]["replayed"] is True
        assert retried.json()["job"]["id"] == first["job"]["id"]
        # the crash window between the job and the nonce's record: the attendee's job is found, not doubled
        conn = sqlite3.connect(corner.data / "appliance.db")
        conn.execute("DELETE FROM kiosk_checkin WHERE nonce = ?", (f"kiosk:{body['nonce']}",))
        conn.commit()
        conn.close()
        again = corner.kiosk("POST", "/api/v1/kiosk/checkins", json=body).json()
        assert (
            again["scan"]["scan_id"] == first["scan"]["scan_id"] and again["job"]["id"] == first["job"]["id"]
        )
        assert qr_codes_in(printer.received) == [row["badge_code"]]  # one badge
    finally:
        printer.stop()
