"""Devices and the hub: enrolment tokens, the `appliance enroll` command, credentials, revocation.

A real hub process; where an appliance matters, a real ``konferenco appliance``
process or command on a data directory.  What is checked is what an organizer
or a technician notices: a token works once, a provisioned box holds what it
needs (and only the right files are secret), a rolled or revoked credential
stops working, a revoked box drops off the hub at once, and no device can
write under another device's name.
"""

from __future__ import annotations

import csv
import io
import stat
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from appliance.catalog.roster import current_revision
from appliance.config import DataDir
from konferenco.badges import KeyRing, TrustedKey, raw_public_key, unb64
from konferenco.catalog.bundle import decode_bundle
from sync.documents import ControlDoc
from sync.names import DocName
from sync.protocol import step1, update_message
from tests.helpers import ApplianceProcess, HubProcess, konferenco, wait_for
from tests.hub.api_support import (
    Device,
    Org,
    assert_error,
    bearer,
    enrol_device,
    enrolment_token,
    new_event,
    new_org,
    redeem,
    scan_update,
    sql,
    stored_document,
    stored_updates,
)

EMPTY_STATE_VECTOR = b"\x00"


def devices(http: httpx.Client, org: Org, event: str) -> list[dict[str, object]]:
    response = http.get(f"/api/v1/events/{event}/devices", headers=org.auth)
    assert response.status_code == 200, response.text
    rows = response.json()
    assert isinstance(rows, list)
    return rows


# --- the enrolment token -----------------------------------------------------------------------


def test_an_enrolment_token_works_once(hub_db_module: str, http: httpx.Client) -> None:
    org = new_org(hub_db_module, http)
    event = new_event(http, org)
    token = enrolment_token(http, org, event, ("scanner", "printer"))
    assert token.startswith("ke1_")

    first = redeem(http, token, name="Gate A")
    assert first.status_code == 201, first.text
    grant = first.json()
    assert grant["event_id"] == event
    assert grant["credential"].startswith("kd1_")
    assert grant["capabilities"] == ["printer", "scanner"]
    assert len(unb64(grant["catalog_keys"][0])) == 32

    second = redeem(http, token, name="Gate B")
    assert "used already" in assert_error(second, 401, "unauthorized")
    assert [(d["id"], d["name"]) for d in devices(http, org, event)] == [(grant["device_id"], "Gate A")]


def test_an_expired_token_is_refused(hub_db_module: str, http: httpx.Client) -> None:
    org = new_org(hub_db_module, http)
    event = new_event(http, org)
    created = http.post(
        f"/api/v1/events/{event}/enrolments", json={"capabilities": ["kiosk"]}, headers=org.auth
    )
    assert created.status_code == 201, created.text
    enrolment = created.json()
    assert enrolment["uri"].startswith("konferenco://enrol?hub=")
    sql(
        hub_db_module,
        "UPDATE enrolment SET expires_at = now() - interval '1 minute' WHERE id = $1::uuid",
        enrolment["id"],
    )
    assert "expired" in assert_error(redeem(http, enrolment["token"]), 401, "unauthorized")
    assert devices(http, org, event) == []


def test_an_unknown_token_is_refused_and_says_so(http: httpx.Client) -> None:
    refused = redeem(http, "ke1_" + "z" * 32)
    assert "not known" in assert_error(refused, 401, "unauthorized")


def test_an_unknown_capability_is_422_and_creates_no_token(hub_db_module: str, http: httpx.Client) -> None:
    org = new_org(hub_db_module, http)
    event = new_event(http, org)
    url = f"/api/v1/events/{event}/enrolments"
    response = http.post(url, json={"capabilities": ["scanner", "teleporter"]}, headers=org.auth)
    message = assert_error(response, 422, "invalid")
    assert "teleporter" in message and "scanner" in message  # names the bad one and the choices
    assert response.json()["field"] == "capabilities"
    assert_error(http.post(url, json={"capabilities": []}, headers=org.auth), 422, "invalid")
    rows = sql(hub_db_module, "SELECT count(*) AS n FROM enrolment WHERE event_id = $1", event)
    assert rows[0]["n"] == 0


def test_a_malformed_badge_key_is_422_and_does_not_use_up_the_token(
    hub_db_module: str, http: httpx.Client
) -> None:
    org = new_org(hub_db_module, http)
    event = new_event(http, org)
    token = enrolment_token(http, org, event)
    bad = http.post("/api/v1/enrol", json={"token": token, "badge_public_key": "bm90IGEga2V5"})
    assert "32 bytes" in assert_error(bad, 422, "invalid")
    assert redeem(http, token).status_code == 201


# --- `konferenco appliance enroll` -------------------------------------------------------------


def enroll(data: Path, hub: HubProcess, token: str, *extra: str) -> tuple[int, str]:
    done = konferenco(
        "appliance",
        "enroll",
        "--data",
        str(data),
        "--hub",
        hub.url + "/",
        "--token",
        token,
        *extra,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def enrolled_box(db_url: str, hub: HubProcess, http: httpx.Client, tmp_path: Path) -> tuple[Org, str, Path]:
    """A new organization with an event, and an appliance data directory enrolled for it."""
    org = new_org(db_url, http)
    event = new_event(http, org)
    box = tmp_path / "box"
    code, output = enroll(box, hub, enrolment_token(http, org, event))
    assert code == 0, output
    return org, event, box


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder``: content and modification time."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    }


def test_the_cli_provisions_a_new_appliance(
    hub_db_module: str, hub: HubProcess, http: httpx.Client, tmp_path: Path
) -> None:
    org = new_org(hub_db_module, http)
    event = new_event(http, org)
    box = tmp_path / "box"
    code, output = enroll(
        box, hub, enrolment_token(http, org, event, ("scanner", "printer")), "--name", "Gate A"
    )
    assert code == 0, output

    data = DataDir(box)
    config = data.load()
    assert config.hub_url == hub.url  # stored without the trailing slash it was typed with
    assert config.events == [event]
    assert sorted(config.capabilities) == ["printer", "scanner"]
    assert config.device_id in output and "2 attendees" in output
    [device] = devices(http, org, event)
    assert (device["id"], device["name"], device["capabilities"]) == (
        config.device_id,
        "Gate A",
        ["printer", "scanner"],
    )

    credential_file = box / "secrets" / "hub-credential"
    assert stat.S_IMODE(credential_file.stat().st_mode) == 0o600
    credential = credential_file.read_text().strip()
    catalog_url = f"/api/v1/events/{event}/catalog"
    assert http.get(catalog_url, headers=bearer(credential)).status_code == 200

    # The walk-in badge key's certificate verifies against the event's keys, as another appliance checks it.
    keys = decode_bundle(http.get(catalog_url, headers=org.auth).content).catalog.keys
    event_keys = [TrustedKey(k.kid, unb64(k.public_key), event, 0, 0, "event") for k in keys]
    certificate = data.device_certificate(event)
    assert certificate is not None
    public = raw_public_key(data.device_key().public_key())
    assert unb64(certificate.public_key) == public
    signature = unb64(certificate.signature)
    caps = certificate.capabilities
    assert caps == sorted(config.capabilities)  # what the organizer granted, signed with the key
    assert KeyRing(event_keys).add_device_key(
        event, config.device_id, public, certificate.not_after, signature, caps
    )
    # It certifies this device only: presented under another device's id it proves nothing...
    assert not KeyRing(event_keys).add_device_key(
        event, "dev-someone-else", public, certificate.not_after, signature, caps
    )
    # ...and with more capabilities than were granted, neither.
    assert not KeyRing(event_keys).add_device_key(
        event, config.device_id, public, certificate.not_after, signature, [*caps, "organizer"]
    )

    # The catalog is in the box already: it can admit people before 'serve' ever runs.
    conn = data.reader()
    try:
        names = sorted(r[0] for r in conn.execute("SELECT name FROM attendee WHERE event_id = ?", (event,)))
        held = current_revision(conn, event)
    finally:
        conn.close()
    assert names == ["Ada Lovelace", "Grace Hopper"]
    hub_revision = http.get(f"/api/v1/events/{event}", headers=org.auth).json()["catalog_revision"]
    assert held == hub_revision


def test_enrolling_a_directory_twice_is_refused_and_changes_nothing(
    hub_db_module: str, hub: HubProcess, http: httpx.Client, tmp_path: Path
) -> None:
    org, event, box = enrolled_box(hub_db_module, hub, http, tmp_path)
    before = snapshot(box)

    fresh = enrolment_token(http, org, event)
    code, output = enroll(box, hub, fresh)
    assert code == 1
    assert "holds an appliance already" in output and "Traceback" not in output
    assert snapshot(box) == before
    assert len(devices(http, org, event)) == 1
    assert redeem(http, fresh).status_code == 201  # the refused attempt did not spend the new token


def test_a_box_start_up_enrols_once_from_its_environment_then_skips(
    hub_db_module: str, hub: HubProcess, http: httpx.Client, tmp_path: Path
) -> None:
    """The box's init step runs at every start with the hub and token in its environment."""
    org = new_org(hub_db_module, http)
    event = new_event(http, org)
    box = tmp_path / "box"
    token = enrolment_token(http, org, event)
    env = {"KONFERENCO_HUB_URL": hub.url, "KONFERENCO_ENROL_TOKEN": token}

    first = konferenco("appliance", "enroll", "--data", str(box), "--if-missing", env=env, check=False)
    assert first.returncode == 0, first.stderr
    device_id = DataDir(box).load().device_id
    assert f"enrolled as {device_id}" in first.stdout
    assert token not in first.stdout + first.stderr
    before = snapshot(box)

    fresh = enrolment_token(http, org, event)
    again = konferenco(
        "appliance", "enroll", "--data", str(box), "--if-missing",
        env={**env, "KONFERENCO_ENROL_TOKEN": fresh}, check=False,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert f"holds appliance {device_id} already: nothing to enrol" in again.stdout
    assert snapshot(box) == before
    assert len(devices(http, org, event)) == 1
    assert redeem(http, fresh).status_code == 201  # the restart did not spend a token


def test_enrolling_without_a_token_says_where_to_get_one(hub: HubProcess, tmp_path: Path) -> None:
    box = tmp_path / "box"
    done = konferenco("appliance", "enroll", "--data", str(box), "--hub", hub.url, check=False)
    assert done.returncode == 1
    assert "no enrolment token" in done.stderr and "KONFERENCO_ENROL_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr
    assert not DataDir(box).exists()


def test_a_mistyped_token_leaves_the_directory_ready_for_the_right_one(
    hub_db_module: str, hub: HubProcess, http: httpx.Client, tmp_path: Path
) -> None:
    org = new_org(hub_db_module, http)
    event = new_event(http, org)
    box = tmp_path / "box"
    token = enrolment_token(http, org, event)
    code, output = enroll(box, hub, token[:-3])
    assert code == 1
    assert "not known to the hub" in output and "Traceback" not in output
    assert not DataDir(box).exists()
    code, output = enroll(box, hub, token)
    assert code == 0, output


def test_enrolling_against_an_unreachable_hub_says_so(tmp_path: Path) -> None:
    done = konferenco(
        "appliance",
        "enroll",
        "--data",
        str(tmp_path / "box"),
        "--hub",
        "http://127.0.0.1:9",
        "--token",
        "ke1_x",
        check=False,
    )
    assert done.returncode == 1
    assert "cannot reach the hub" in done.stderr and "Traceback" not in done.stderr


# --- credentials -------------------------------------------------------------------------------


def test_a_rolled_credential_replaces_the_old_one(hub_db_module: str, http: httpx.Client) -> None:
    org = new_org(hub_db_module, http)
    event = new_event(http, org)
    device = enrol_device(http, org, event)
    catalog = f"/api/v1/events/{event}/catalog"

    rolled = http.post("/api/v1/device/credential", headers=device.auth)
    assert rolled.status_code == 201, rolled.text
    new = rolled.json()["credential"]
    assert new.startswith("kd1_") and new != device.credential

    assert http.get(catalog, headers=bearer(new)).status_code == 200
    assert_error(http.get(catalog, headers=device.auth), 401, "unauthorized")
    assert_error(http.post("/api/v1/device/credential", headers=device.auth), 401, "unauthorized")
    assert [d["id"] for d in devices(http, org, event)] == [device.device_id]  # the same device, rolled

    assert http.post(f"/api/v1/devices/{device.device_id}/revoke", headers=org.auth).status_code == 200
    assert_error(http.post("/api/v1/device/credential", headers=bearer(new)), 401, "unauthorized")


# --- revocation of a serving appliance ---------------------------------------------------------


def test_revoking_a_serving_appliance_disconnects_and_refuses_it(
    hub_db_module: str, hub: HubProcess, http: httpx.Client, tmp_path: Path
) -> None:
    org, event, box = enrolled_box(hub_db_module, hub, http, tmp_path)
    device_id = DataDir(box).load().device_id
    credential = DataDir(box).hub_credential()
    assert credential is not None

    def connected() -> bool:
        [device] = devices(http, org, event)
        return bool(device["connected"])

    def sessions() -> set[str]:
        """The documents the hub's metrics show a sync session for."""
        lines = http.get("/metrics").text.splitlines()
        return {
            line.split('document="')[1].split('"')[0]
            for line in lines
            if line.startswith("konferenco_hub_sync_sessions{") and not line.endswith(" 0.0")
        }

    both = {str(DocName.control(event)), str(DocName.device(event, device_id))}
    with ApplianceProcess(box):
        wait_for(lambda: sessions() >= both, timeout=20, what="the appliance to sync both its documents")
        assert connected()

        revoked = http.post(f"/api/v1/devices/{device_id}/revoke", headers=org.auth)
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["status"] == "revoked"
        wait_for(lambda: not connected(), timeout=5, what="the hub to close the revoked appliance's sessions")
        assert not sessions() & both

        [device] = devices(http, org, event)
        assert device["revoked_at"] is not None
        refused = http.get(f"/api/v1/events/{event}/catalog", headers=bearer(credential))
        assert "revoked" in assert_error(refused, 401, "unauthorized")

    control = ControlDoc(stored_document(hub_db_module, str(DocName.control(event))))
    assert [(r.target, r.value) for r in control.revocations()] == [("device", device_id)]
    again = http.post(f"/api/v1/devices/{device_id}/revoke", headers=org.auth)
    assert again.status_code == 200
    assert devices(http, org, event)[0]["revoked_at"] == device["revoked_at"]  # the first revocation stands


def test_a_cancelled_ticket_is_refused_at_a_synced_door_before_the_next_catalog_delta(
    hub_db_module: str, hub: HubProcess, http: httpx.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    org, event, box = enrolled_box(hub_db_module, hub, http, tmp_path)
    reader = DataDir(box).reader()
    try:
        ada, badge = reader.execute(
            "SELECT id, badge_code FROM attendee WHERE name = 'Ada Lovelace'"
        ).fetchone()
    finally:
        reader.close()
    staff = konferenco("appliance", "issue-token", "--data", str(box), "--role", "door").stdout.split()[-1]
    monkeypatch.setenv("KONFERENCO_CATALOG_INTERVAL", "3600")  # only sync can bring the news in time
    assert_error(
        http.post(f"/api/v1/events/{event}/attendees/nobody/cancel", headers=org.auth), 404, "not_found"
    )

    with ApplianceProcess(box) as door:
        wait_for(lambda: devices(http, org, event)[0]["connected"], timeout=20, what="the box to sync")
        cancelled = http.post(f"/api/v1/events/{event}/attendees/{ada}/cancel", headers=org.auth)
        assert cancelled.status_code == 200, cancelled.text
        attempts = iter(range(1000))

        def refused() -> dict[str, object] | None:
            answer = httpx.post(
                f"{door.url}/api/v1/scans",
                json={"nonce": f"n{next(attempts)}", "gate": "main", "code": badge},
                headers=bearer(staff),
            ).json()
            return answer if answer["result"] == "revoked" else None

        answer = wait_for(refused, timeout=15, interval=0.3, what="the door to refuse the cancelled ticket")
        assert "ticket cancelled" in str(answer["reason"]), answer  # the revocation's reason, in words
    reader = DataDir(box).reader()
    try:
        status = reader.execute("SELECT status FROM attendee WHERE id = ?", (ada,)).fetchone()[0]
    finally:
        reader.close()
    assert status == "valid"  # the box's catalog is unchanged: the revocation travelled by sync
    catalog = decode_bundle(http.get(f"/api/v1/events/{event}/catalog", headers=org.auth).content).catalog
    assert {a.name: a.status for a in catalog.attendees}["Ada Lovelace"] == "cancelled"


def test_a_serving_appliance_picks_up_attendees_imported_on_the_hub(
    hub_db_module: str, hub: HubProcess, http: httpx.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    org, event, box = enrolled_box(hub_db_module, hub, http, tmp_path)
    monkeypatch.setenv("KONFERENCO_CATALOG_INTERVAL", "1")
    staff = konferenco("appliance", "issue-token", "--data", str(box), "--role", "door").stdout.split()[-1]
    with ApplianceProcess(box) as door:
        imported = http.post(
            f"/api/v1/events/{event}/attendees/import",
            content=b"external_ref,name,ticket_type,order_ref\nT-9,Katherine Johnson,general,O-9\n",
            headers=org.auth,
        )
        assert imported.status_code == 200, imported.text
        row = next(
            r for r in csv.DictReader(io.StringIO(badge_export(http, org, event))) if r["order_ref"] == "O-9"
        )

        def on_the_roster() -> bool:
            reader = DataDir(box).reader()
            try:
                found = reader.execute("SELECT 1 FROM attendee WHERE name = 'Katherine Johnson'").fetchone()
            finally:
                reader.close()
            return found is not None

        wait_for(on_the_roster, timeout=15, interval=0.3, what="the catalog delta to reach the serving box")
        answer = httpx.post(
            f"{door.url}/api/v1/scans",
            json={"nonce": "late-1", "gate": "main", "code": row["badge_code"]},
            headers=bearer(staff),
        ).json()
        assert answer["result"] == "admitted", answer
        assert answer["attendee"]["name"] == "Katherine Johnson"  # the door greets her by name


# --- what a device may write -------------------------------------------------------------------


def open_sync(hub: HubProcess, doc: str, device: Device) -> ClientConnection:
    return connect(f"ws://127.0.0.1:{hub.port}/sync/{doc}", additional_headers=device.auth, open_timeout=10)


def push(hub: HubProcess, doc: str, device: Device, update: bytes) -> tuple[int, str]:
    """Send the handshake and one update; return the close code and reason the hub answers with."""
    with open_sync(hub, doc, device) as ws:
        try:
            ws.send(step1(EMPTY_STATE_VECTOR))
            ws.send(update_message(update))
            while True:
                ws.recv(timeout=10)
        except ConnectionClosed as exc:
            assert exc.rcvd is not None, "the hub did not say why it closed"
            return exc.rcvd.code, exc.rcvd.reason
    raise AssertionError("unreachable")


def test_a_device_cannot_write_another_devices_log_or_the_control_document(
    hub_db_module: str, hub: HubProcess, http: httpx.Client
) -> None:
    org = new_org(hub_db_module, http)
    event = new_event(http, org)
    mine, theirs = enrol_device(http, org, event), enrol_device(http, org, event)
    their_log = str(DocName.device(event, theirs.device_id))
    control = str(DocName.control(event))
    control_before = stored_updates(hub_db_module, control)

    code, reason = push(hub, their_log, mine, scan_update())
    assert code == 4403
    assert "may not write" in reason
    code, reason = push(hub, control, mine, scan_update())  # a scanner is no organizer
    assert code == 4403
    assert "organizer" in reason
    assert stored_updates(hub_db_module, their_log) == 0
    assert stored_updates(hub_db_module, control) == control_before

    # The same update into its own log is stored: the refusals above were about whose log it is.
    own_log = str(DocName.device(event, mine.device_id))
    with open_sync(hub, own_log, mine) as ws:
        ws.send(step1(EMPTY_STATE_VECTOR))
        ws.send(update_message(scan_update()))
        wait_for(
            lambda: stored_updates(hub_db_module, own_log) == 1, timeout=10, what="the scan to be stored"
        )


def test_a_device_cannot_reach_another_organizations_event(
    hub_db_module: str, hub: HubProcess, http: httpx.Client
) -> None:
    acme, globex = new_org(hub_db_module, http), new_org(hub_db_module, http)
    acme_event, globex_event = new_event(http, acme), new_event(http, globex)
    globex_device = enrol_device(http, globex, globex_event)
    enrol_device(http, acme, acme_event)  # so the hub serves Acme's event

    target = str(DocName.device(acme_event, globex_device.device_id))  # "its own" log, in Acme's event
    code, reason = push(hub, target, globex_device, scan_update())
    assert code in (4403, 4404), reason
    assert stored_updates(hub_db_module, target) == 0


def badge_export(http: httpx.Client, org: Org, event: str) -> str:
    response = http.get(f"/api/v1/events/{event}/badges.csv", headers=org.auth)
    assert response.status_code == 200, response.text
    return response.text
