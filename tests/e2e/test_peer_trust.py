"""Peers prove who they are, both ways, on a real LAN of real processes (sync/peer_proof.py).

* **A** serves the event ``e1`` (a standalone box holding the event key, as
  the demo is);
* **B** is a second box of the same event: it knows the event's keys from
  A's signed catalog, and carries a certificate of its own key signed by the
  event key (what enrolment hands out);
* **R** is a rogue on the same network: a box that made up its own ``e1``
  event, keys and certificate, and issues tokens that let B in.

B syncs with A with no token at all, by certificate; B refuses R as an
upstream even though R would accept it, and nothing of B's reaches R; R's
certificate does not get it into A; a device the organizer revoked is
refused by A.  Each refusal shows on ``/healthz``.
"""

from __future__ import annotations

import asyncio
import csv
import json
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from appliance.config import DataDir
from appliance.peers import CertifiedCapabilities
from konferenco.badges import b64, device_certificate_message, raw_public_key
from sync.peer_proof import client_token, decode_b64
from sync.permissions import Capability
from sync.records import DeviceKey
from tests.e2e.hub_setup import create_event, create_organization, enrol, sign_in
from tests.helpers import ApplianceProcess, Box, HubProcess, free_port, konferenco, scratch_database, wait_for

EVENT = "e1"


@dataclass
class Lan:
    root: Path
    a: ApplianceProcess
    r: ApplianceProcess
    a_token: str  # organizer token at A
    codes: list[str]


def _token(data: Path, role: str) -> str:
    return konferenco("appliance", "issue-token", "--data", str(data), "--role", role).stdout.strip()


def _certify(issuer: Path, box: Path, device_id: str, capabilities: list[str]) -> None:
    """What enrolment does: the event key (held by A here) certifies B's key, B keeps the certificate."""
    event_key = DataDir(issuer).event_key(EVENT)
    assert event_key is not None
    public = raw_public_key(DataDir(box).device_key().public_key())
    signature = event_key.sign(device_certificate_message(EVENT, device_id, public, 0, capabilities))
    certificate = DeviceKey(
        public_key=b64(public), not_after=0, signature=b64(signature), capabilities=capabilities
    )
    DataDir(box).save_device_certificate(EVENT, certificate)


@pytest.fixture(scope="module")
def lan(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lan]:
    root = tmp_path_factory.mktemp("lan")
    a_dir, r_dir = root / "A", root / "R"
    konferenco("demo", "seed", "--data", str(a_dir), "--event", EVENT, "--attendees", "50")
    konferenco(
        "demo", "seed", "--data", str(r_dir), "--event", EVENT, "--attendees", "50"
    )  # the rogue's own e1
    konferenco("appliance", "badges", "--data", str(a_dir), "--out", str(root / "badges.csv"))
    with (root / "badges.csv").open(newline="", encoding="utf-8") as f:
        codes = [row["badge_code"] for row in csv.DictReader(f)]
    a, r = ApplianceProcess(a_dir, _listening(a_dir)), ApplianceProcess(r_dir, _listening(r_dir))
    a.start()
    try:
        r.start()
        yield Lan(root, a, r, _token(a_dir, "organizer"), codes)
    finally:
        r.stop()
        a.stop()


def _listening(data: Path) -> int:
    """Announce the box on the LAN (mDNS on 127.0.0.1) and hear the others; the port it will serve on."""
    port = free_port()
    konferenco(
        "appliance", "devices", "add", "--data", str(data), "--id", "lan", "--domain", "discovery",
        "--set", "interfaces=127.0.0.1", "--set", f"port={port}",
    )  # fmt: skip
    return port


def _device_id(data: Path) -> str:
    return str(json.loads((data / "appliance.json").read_text())["device_id"])


def _box_b(lan: Lan, name: str, capabilities: list[str] | None) -> Path:
    """A second box of the event: A's catalog, and (unless ``capabilities`` is None) a certificate."""
    data = lan.root / name
    catalog_key = json.loads((lan.a.data / "appliance.json").read_text())["catalog_keys"][0]
    konferenco(
        "appliance", "init", "--data", str(data), "--event", EVENT, "--device-id", name,
        "--catalog-key", catalog_key,
    )  # fmt: skip
    konferenco("appliance", "import", "--data", str(data), str(lan.a.data / "catalog.json"))
    if capabilities is not None:
        _certify(lan.a.data, data, name, capabilities)
    return data


def _health(process: ApplianceProcess) -> dict[str, Any]:
    return dict(httpx.get(f"{process.url}/healthz", timeout=10).json())


def _scan(process: ApplianceProcess, token: str, code: str) -> dict[str, Any]:
    response = httpx.post(
        f"{process.url}/api/v1/scans",
        json={"code": code, "nonce": uuid.uuid4().hex, "gate": "north"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def _logs_of(data: Path) -> set[str]:
    with sqlite3.connect(f"file:{data / 'appliance.db'}?mode=ro", uri=True) as conn:
        return {row[0] for row in conn.execute("SELECT DISTINCT doc FROM checkin")}


def test_a_certified_box_syncs_without_a_token_and_refuses_a_rogue_upstream(lan: Lan) -> None:
    b_dir = _box_b(lan, "box-b", ["organizer", "scanner"])
    # R would let B in: it issued B a token (a rogue wants B's data). A needs none: B has a certificate.
    r_token = konferenco(
        "appliance", "peer-token", "--data", str(lan.r.data), "--role", "device",
        "--peer-id", "box-b", "--device-id", "box-b",
    ).stdout.strip()  # fmt: skip
    b = ApplianceProcess(
        b_dir, _listening(b_dir), "--upstream", lan.a.url, "--upstream-token", "", "--upstream-peer", "A",
        "--upstream", lan.r.url, "--upstream-token", r_token, "--upstream-peer", "R",
    )  # fmt: skip
    with b:
        scanned = _scan(b, _token(b_dir, "door"), lan.codes[0])
        assert scanned["result"] == "admitted"
        own_log = f"event/{EVENT}/device/box-b"
        # A took B's certificate instead of a token, and has B's scan
        wait_for(lambda: own_log in _logs_of(lan.a.data), timeout=30, what="B's scan at A")
        # B published its certificate in its log at start: A knows, offline, what B may write
        a_data = DataDir(lan.a.data)
        certified = CertifiedCapabilities(a_data)
        assert wait_for(lambda: certified("box-b"), what="B's certificate at A") == frozenset(
            {Capability.ORGANIZER, Capability.SCANNER}
        )
        assert certified("box-nobody") is None
        # R proved nothing B trusts: B says so on /healthz, and sends R nothing
        untrusted = wait_for(
            lambda: _health(b)["peers"]["untrusted_upstreams"], timeout=30, what="R reported untrusted"
        )
        assert [u["url"] for u in untrusted] == [lan.r.url]
        assert "not signed by a key of event e1" in untrusted[0]["reason"]
        assert own_log not in _logs_of(lan.r.data)
        # The technician choosing an upstream among the boxes heard on the LAN sees which are genuine
        door = _token(b_dir, "door")
        a_id, r_id = _device_id(lan.a.data), _device_id(lan.r.data)

        def heard() -> dict[str, dict[str, Any]]:
            response = httpx.get(
                f"{b.url}/api/v1/peers", headers={"Authorization": f"Bearer {door}"}, timeout=30
            )
            assert response.status_code == 200, response.text
            return {p["device_id"]: p for p in response.json()}

        def both_heard() -> dict[str, dict[str, Any]] | None:
            found = heard()
            return found if found.keys() >= {a_id, r_id} else None

        peers = wait_for(both_heard, timeout=30, what="A and R heard")
        assert peers is not None
        assert peers[a_id]["trusted"] is True and peers[a_id]["url"] == lan.a.url
        assert peers[r_id]["trusted"] is False
        assert "not signed by a key of event e1" in peers[r_id]["detail"]
        # A itself is trusted: only R is listed, and A reported nothing refused
        assert _health(lan.a)["peers"]["refused_peers"] == []


def _rogue_connects_to(target: ApplianceProcess, rogue: DataDir) -> tuple[int, str]:
    """R presents its own certificate to ``target`` as a client, as B would; the close code and reason."""
    from appliance.peers import box_prover

    async def attempt() -> tuple[int, str]:
        async with httpx.AsyncClient(timeout=10) as http:
            challenge = (await http.get(f"{target.url}/sync/challenge")).json()["challenge"]
        doc = f"event/{EVENT}/device/{rogue.load().device_id}"
        token = client_token(box_prover(rogue, rogue.load()), decode_b64(challenge), doc)
        url = target.url.replace("http://", "ws://") + f"/sync/{doc}"
        async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
            try:
                await asyncio.wait_for(ws.recv(), 10)
            except ConnectionClosed as exc:
                assert exc.rcvd is not None
                return exc.rcvd.code, exc.rcvd.reason
        raise AssertionError("the connection stayed open")

    return asyncio.run(attempt())


def test_a_rogue_certificate_does_not_get_in_and_is_reported(lan: Lan) -> None:
    code, reason = _rogue_connects_to(lan.a, DataDir(lan.r.data))
    assert code == 4401
    assert "not signed by a key of event e1" in reason
    refused = _health(lan.a)["peers"]["refused_peers"]
    assert any("not signed by a key of event e1" in r["reason"] for r in refused)


def test_a_revoked_device_is_refused_once_the_revocation_has_reached_the_peer(lan: Lan) -> None:
    c_dir = _box_b(lan, "box-c", ["scanner"])
    revoke = httpx.post(
        f"{lan.a.url}/api/v1/revocations",
        json={"target": "device", "value": "box-c", "reason": "stolen from the cloakroom"},
        headers={"Authorization": f"Bearer {lan.a_token}"},
        timeout=10,
    )
    assert revoke.status_code in (200, 201), revoke.text
    code, reason = _rogue_connects_to(lan.a, DataDir(c_dir))
    assert code == 4401
    assert "revoked" in reason


def test_a_rogue_upstream_met_at_the_venue_shows_in_the_hubs_console(lan: Lan, tmp_path: Path) -> None:
    """An enrolled box refuses the rogue, and the organizer at home sees which box met it, and why."""
    with scratch_database("kf_rogue") as url:
        create_organization(url)
        hub = HubProcess(url, tmp_path / "secrets").start()
        box: Box | None = None
        try:
            organizer = create_event(sign_in(hub.url), attendees=5)
            box = enrol(organizer, tmp_path / "door", "North door")
            r_token = konferenco(
                "appliance", "peer-token", "--data", str(lan.r.data), "--role", "device",
                "--peer-id", box.device_id, "--device-id", box.device_id,
            ).stdout.strip()  # fmt: skip
            box.process = ApplianceProcess(
                box.data, None, "--upstream", lan.r.url, "--upstream-token", r_token, "--upstream-peer", "R"
            )
            box.process.start()
            rows = wait_for(lambda: _refusals_at_hub(url), timeout=60, what="the refusal at the hub")
            device_id, peer, direction, reason = rows[0]
            assert (device_id, peer, direction) == (box.device_id, lan.r.url, "upstream")
            assert "did not prove who it is" in reason  # R holds no certificate of our event
        finally:
            if box is not None:
                box.process.stop()
            hub.stop()


def _refusals_at_hub(database_url: str) -> list[tuple[str, str, str, str]]:
    async def query() -> list[tuple[str, str, str, str]]:
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch("SELECT device_id, peer, direction, reason FROM peer_refusal ORDER BY at")
        finally:
            await conn.close()
        return [(r["device_id"], r["peer"], r["direction"], r["reason"]) for r in rows]

    return asyncio.run(query())


def test_a_box_without_a_certificate_says_it_cannot_authenticate_and_sends_nothing(lan: Lan) -> None:
    """Set up from the catalog but never certified (no enrolment): no token, no certificate, no sync."""
    data = _box_b(lan, "box-d", capabilities=None)
    with ApplianceProcess(data, None, "--upstream", lan.a.url, "--upstream-peer", "A") as d:
        _scan(d, _token(data, "door"), lan.codes[3])  # recorded in its own log, whatever the answer

        def complaint() -> str:
            errors = [str(t.get("last_error") or "") for t in _health(d)["tasks"]]
            return next((e for e in errors if "cannot authenticate" in e), "")

        said = wait_for(complaint, timeout=30, what="the box to say it cannot authenticate")
        assert "holds no certificate for event e1" in said
        assert f"event/{EVENT}/device/box-d" not in _logs_of(lan.a.data)
