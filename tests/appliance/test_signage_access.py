"""``GET /api/v1/signage/access`` and the ``/signage`` pages, against a real appliance process.

What a sign needs to start: the broker's WebSocket URL (the host the page came from, the
set-up's port), the read-only credentials, the topic base, the rooms, the event's time
zone and the appliance's clock; a clear reason when signage is not set up yet.
"""

from __future__ import annotations

import getpass
import json
import time
from pathlib import Path

import httpx

from appliance.signage_access import _public
from tests.helpers import ApplianceProcess, konferenco


def test_a_sign_learns_the_broker_rooms_zone_and_clock(tmp_path: Path) -> None:
    data = tmp_path / "data"
    konferenco("demo", "seed", "--data", str(data), "--attendees", "5")
    with ApplianceProcess(data) as server:
        before = httpx.get(f"{server.url}/api/v1/signage/access").json()
        assert before["broker"] is None and "broker-config" in before["problem"]
        page = httpx.get(f"{server.url}/signage")
        assert page.status_code == 200 and "broker-config" in page.text  # the technician is told
    konferenco(
        "appliance", "signage", "broker-config", "--data", str(data), "--out", str(tmp_path / "out"),
        "--ws-port", "9123", "--user", getpass.getuser(),
    )  # fmt: skip
    secrets = json.loads((data / "secrets" / "signage-broker.json").read_text())
    with ApplianceProcess(data) as server:
        started = time.time() * 1000
        access = httpx.get(f"{server.url}/api/v1/signage/access").json()
        assert started - 1000 <= access["now"] <= time.time() * 1000 + 1000
        assert access["broker"] == {
            "url": "ws://127.0.0.1:9123",  # the host the page was loaded from
            "username": "signage",
            "password": secrets["signage_password"],
            "base": f"konferenco/{secrets['venue']}/v1",
        }
        assert access["timezone"] == "Europe/Vienna" and access["problem"] == ""
        assert access["stale_after_ms"] == 3 * access["interval_ms"] == 15_000
        rooms = {r["id"]: r["name"] for r in access["rooms"]}
        assert rooms["main-hall"] == "Main Hall"
        by_name = httpx.get(
            f"{server.url}/api/v1/signage/access", headers={"Host": f"signs.local:{server.port}"}
        ).json()
        assert by_name["broker"]["url"] == "ws://signs.local:9123"

        listing = httpx.get(f"{server.url}/signage")
        assert listing.status_code == 200
        assert 'href="/signage/main-hall"' in listing.text and 'href="/signage/wall"' in listing.text
        assert "script-src 'self'" in listing.headers["content-security-policy"]
        sign = httpx.get(f"{server.url}/signage/main-hall")
        assert sign.status_code == 200 and 'data-room="main-hall"' in sign.text
        assert httpx.get(f"{server.url}/signage/wall").status_code == 200
        assert httpx.get(f"{server.url}/signage/no%20such%23room").status_code == 404
        assert (
            httpx.get(f"{server.url}/signage/static/js/sign.js")
            .headers["content-type"]
            .startswith("text/javascript")
        )
        assert httpx.get(f"{server.url}/signage/static/../web/pages.py").status_code == 404


def test_the_credentials_are_not_handed_to_the_internet() -> None:
    assert _public("8.8.8.8") and _public("2001:4860:4860::8888") and _public("::ffff:8.8.8.8")
    for address in ("127.0.0.1", "10.1.2.3", "192.168.0.9", "172.16.4.4", "fe80::1", "::1", "testclient"):
        assert not _public(address), address
