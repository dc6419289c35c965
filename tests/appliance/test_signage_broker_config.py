"""``konferenco appliance signage broker-config``: the broker the signs read, and what its ACL allows.

A real Mosquitto runs on the files the command writes: the appliance's user reads and
writes its venue's topics; the signs' user (whose password any sign page gets) reads only
what a sign shows and writes only its own heartbeat, over MQTT and over WebSockets; a
wrong password and an anonymous client are refused.  The passwords are never printed and
are kept in ``secrets/`` with mode 0600; running the command again keeps them.
"""

from __future__ import annotations

import getpass
import json
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from appliance.cli.signage import password_hash
from tests.helpers import free_port, konferenco
from tests.kiosk_ui.signage.conftest import MOSQUITTO, SignBroker

pytestmark = pytest.mark.skipif(
    MOSQUITTO is None, reason="mosquitto is not installed (make setup installs it)"
)


class Client:
    """A paho client that records what it hears and the broker's answers (MQTT 5 reason codes)."""

    def __init__(self, port: int, user: str | None, password: str | None, *, websockets: bool = False,
                 client_id: str = "") -> None:  # fmt: skip
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"t-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
            transport="websockets" if websockets else "tcp",
        )
        if user is not None:
            self.client.username_pw_set(user, password)
        self.connack: Any = None
        self.granted: list[Any] = []
        self.acks: dict[int, Any] = {}
        self.messages: list[tuple[str, bytes]] = []
        self.ready = threading.Event()
        self.client.on_connect = self._connected
        self.client.on_subscribe = lambda c, u, mid, codes, p: self.granted.extend(codes)
        self.client.on_publish = lambda c, u, mid, code, p: self.acks.__setitem__(mid, code)
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, bytes(m.payload)))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.ready.wait(5), "no CONNACK"

    def _connected(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self.connack = reason
        self.ready.set()

    def subscribe(self, topic: str) -> Any:
        before = len(self.granted)
        self.client.subscribe(topic, qos=1)
        deadline = time.monotonic() + 5
        while len(self.granted) == before and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.granted[-1]

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> Any:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        deadline = time.monotonic() + 5
        while info.mid not in self.acks and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.acks[info.mid]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, SignBroker, dict[str, Any], str]]:
    root = tmp_path_factory.mktemp("broker")
    data = root / "data"
    konferenco("demo", "seed", "--data", str(data), "--attendees", "5")
    port, ws_port = free_port(), free_port()
    result = konferenco(
        "appliance", "signage", "broker-config", "--data", str(data), "--out", str(root / "out"),
        "--port", str(port), "--ws-port", str(ws_port), "--bind", "127.0.0.1", "--user", getpass.getuser(),
    )  # fmt: skip
    secrets = json.loads((data / "secrets" / "signage-broker.json").read_text())
    for password in (secrets["appliance_password"], secrets["signage_password"]):
        assert password not in result.stdout + result.stderr  # never shown
    broker = SignBroker(root / "out" / "mosquitto.conf", port, ws_port)
    broker.start()
    try:
        yield data, broker, secrets, f"konferenco/{secrets['venue']}/v1"
    finally:
        broker.stop()


def test_the_files_are_private_and_the_publisher_is_configured(setup: Any) -> None:
    data, broker, secrets, _ = setup
    out = broker.conf.parent
    for path in (
        out / "mosquitto.conf",
        out / "passwd",
        out / "acl",
        data / "secrets" / "signage-broker.json",
    ):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    conf = (out / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf and "persistence true" in conf and "protocol websockets" in conf
    assert secrets["signage_password"] not in (out / "passwd").read_text()  # hashes only
    device = next(
        d for d in json.loads((data / "appliance.json").read_text())["devices"] if d["domain"] == "signage"
    )
    assert device["settings"]["username"] == "appliance"
    assert device["settings"]["password"] == secrets["appliance_password"]
    assert device["settings"]["port"] == broker.port


def test_running_it_again_keeps_the_passwords_unless_asked(tmp_path: Path) -> None:
    data = tmp_path / "data"
    konferenco("demo", "seed", "--data", str(data), "--attendees", "5")
    args = ("appliance", "signage", "broker-config", "--data", str(data), "--out", str(tmp_path / "out"),
            "--user", getpass.getuser())  # fmt: skip
    konferenco(*args)
    stored = data / "secrets" / "signage-broker.json"
    first = json.loads(stored.read_text())
    konferenco(*args, "--ws-port", "9101")
    again = json.loads(stored.read_text())
    assert again == first | {"ws_port": 9101}  # signs and the publisher keep working
    konferenco(*args, "--new-passwords")
    renewed = json.loads(stored.read_text())
    assert renewed["signage_password"] != first["signage_password"]
    assert renewed["appliance_password"] != first["appliance_password"]
    assert (tmp_path / "out" / "passwd").read_text().count("$7$101$") == 2
    bad = konferenco(*args, "--port", "9001", check=False)
    assert bad.returncode != 0 and "two ports" in bad.stdout + bad.stderr


def test_the_same_password_hash_as_mosquitto_passwd_makes() -> None:
    line = password_hash("secret", salt=b"0123456789ab")
    assert line.startswith("$7$101$MDEyMzQ1Njc4OWFi$") and len(line.split("$")[-1]) == 88


def test_wrong_passwords_and_anonymous_clients_are_refused(setup: Any) -> None:
    _, broker, secrets, _ = setup
    for user, password in (("signage", "not-it"), ("appliance", secrets["signage_password"]), (None, None)):
        client = Client(broker.port, user, password)
        try:
            assert client.connack.is_failure, (user, client.connack)
        finally:
            client.close()


def test_signs_read_what_a_sign_shows_and_write_nothing_else(setup: Any) -> None:
    _, broker, secrets, base = setup
    appliance = Client(broker.port, "appliance", secrets["appliance_password"])
    sign = Client(broker.port, "signage", secrets["signage_password"], client_id="door-hall-a")
    try:
        assert not appliance.connack.is_failure and not sign.connack.is_failure
        assert appliance.subscribe(f"{base}/#").value < 0x80
        # Reading: the rooms, alerts and the appliance's status, yes; everything under the venue, no.
        assert sign.subscribe(f"{base}/rooms/hall-a/#").value < 0x80
        assert sign.subscribe(f"{base}/alerts/+").value < 0x80
        assert sign.subscribe(f"{base}/appliance/status").value < 0x80
        assert sign.subscribe(f"{base}/displays/door-hall-a/cmd").value < 0x80
        # Outside the read set: Mosquitto 2.0 grants the SUBSCRIBE and checks every message against
        # the ACL as it delivers it, so the sign never gets one (asserted below).
        for topic in (f"{base}/#", f"{base}/displays/other-sign/cmd", "konferenco/other-venue/v1/rooms/#"):
            sign.subscribe(topic)
        # Writing: a schedule or an alert is refused and reaches nobody; its own heartbeat goes through.
        assert sign.publish(f"{base}/rooms/hall-a/schedule", b'{"rev": 9}', retain=True).is_failure
        assert sign.publish(f"{base}/alerts/fake", b'{"rev": 9, "text": "x"}', retain=True).is_failure
        assert sign.publish(f"{base}/displays/other-sign/heartbeat", b"{}").is_failure
        assert not sign.publish(f"{base}/displays/door-hall-a/heartbeat", b'{"ts": 1}').is_failure
        # The appliance's state reaches the sign; another display's command and other topics do not.
        for topic in ("displays/other-sign/cmd", "private/audit", "rooms/hall-a/now"):
            assert not appliance.publish(f"{base}/{topic}", b'{"rev": 1}').is_failure
        other = Client(broker.port, "appliance", secrets["appliance_password"])
        other.publish("konferenco/other-venue/v1/rooms/hall-a/now", b'{"rev": 1}')  # not even its own user
        other.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(t.endswith("/now") for t, _ in sign.messages):
            time.sleep(0.05)
        time.sleep(0.3)
        heard = [t for t, _ in appliance.messages]
        assert f"{base}/displays/door-hall-a/heartbeat" in heard
        assert f"{base}/rooms/hall-a/schedule" not in heard and f"{base}/alerts/fake" not in heard
        assert f"{base}/displays/other-sign/heartbeat" not in heard
        shown = {t for t, _ in sign.messages}
        assert f"{base}/rooms/hall-a/now" in shown
        assert f"{base}/displays/other-sign/cmd" not in shown and f"{base}/private/audit" not in shown
        assert not any(t.startswith("konferenco/other-venue/") for t in shown)
    finally:
        appliance.close()
        sign.close()


def test_browser_signs_connect_over_websockets(setup: Any) -> None:
    _, broker, secrets, base = setup
    sign = Client(broker.ws_port, "signage", secrets["signage_password"], websockets=True)
    try:
        assert not sign.connack.is_failure
        assert sign.subscribe(f"{base}/appliance/status").value < 0x80
    finally:
        sign.close()
    refused = Client(broker.ws_port, "signage", "wrong", websockets=True)
    try:
        assert refused.connack.is_failure
    finally:
        refused.close()
