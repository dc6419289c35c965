"""A venue's room signs for the tests: a demo appliance, its own Mosquitto, and helpers to publish.

Real parts only: ``konferenco demo seed``, then ``konferenco appliance signage
broker-config`` (the set-up a technician runs) writing the broker's files on free
ports; ``mosquitto -c`` on those files (stopped and started again on the same ports
for the restart tests); ``konferenco appliance serve`` with the signage publisher the
set-up configured; an organizer's token to change the schedule through the API.
Alerts and capacity figures are published as the appliance's broker user would
(the appliance has no alert API yet).
"""

from __future__ import annotations

import getpass
import json
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.browser import CHROMIUM, CHROMIUM_ARGS, playwright_driver
from tests.helpers import ApplianceProcess, free_port, konferenco, wait_for

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

MOSQUITTO = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
)
ROOM = "sign-hall"
ROOM_NAME = "Sign Hall"
FULL_ROOM = "small-room"
needs_mosquitto = pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto is not installed (make setup)")


class SignBroker:
    """``mosquitto -c`` on the files broker-config wrote; stop and start again on the same ports."""

    def __init__(self, conf: Path, port: int, ws_port: int) -> None:
        assert MOSQUITTO is not None
        self.conf, self.port, self.ws_port = conf, port, ws_port
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def start(self) -> None:
        self.runs += 1
        log = self.conf.parent / f"mosquitto-{self.runs}.log"
        with log.open("wb") as out:
            self.proc = subprocess.Popen([str(MOSQUITTO), "-c", str(self.conf)], stdout=out, stderr=out)
        deadline = time.monotonic() + 10
        for port in (self.port, self.ws_port):
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"mosquitto exited with {self.proc.returncode}:\n{log.read_text()}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()  # by PID: only the broker this test started
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


def mqtt_client(
    port: int, username: str, password: str, client_id: str = "", v5: bool = False
) -> mqtt.Client:
    """A connected paho client (MQTT 5 when V5: its PUBACK and SUBACK carry the broker's refusals)."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id or f"test-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
    )
    client.username_pw_set(username, password)
    return client


@dataclass
class Signs:
    """The appliance, its broker and what a test needs to change what the signs show."""

    root: Path
    data: Path
    out: Path
    broker: SignBroker
    process: ApplianceProcess
    organizer: str
    venue: str

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def base(self) -> str:
        return f"konferenco/{self.venue}/v1"

    def secrets(self) -> dict[str, Any]:
        return dict(json.loads((self.data / "secrets" / "signage-broker.json").read_text()))

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.organizer}"}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=15, **kwargs)

    def put_room(self, room: str, name: str, capacity: int | None = None) -> None:
        body: dict[str, Any] = {"name": name, "grassroots": True}
        if capacity is not None:
            body["capacity"] = capacity
        answer = self.api("PUT", f"/api/v1/rooms/{room}", json=body)
        assert answer.status_code == 200, answer.text

    def add_session(
        self, room: str, title: str, starts_at: int, minutes: int, **extra: Any
    ) -> dict[str, Any]:
        body = {"title": title, "room_id": room, "starts_at": starts_at, "duration_min": minutes, **extra}
        answer = self.api("POST", "/api/v1/sessions", json=body)
        assert answer.status_code == 201, answer.text
        return dict(answer.json()["session"])

    def put_session(self, session: dict[str, Any], **changes: Any) -> dict[str, Any]:
        body = {
            "title": session["title"],
            "room_id": session["room_id"],
            "starts_at": session["starts_at"],
            "ends_at": session["ends_at"],
            "speakers": session["speakers"],
            **changes,
        }
        answer = self.api("PUT", f"/api/v1/sessions/{session['id']}", json=body)
        assert answer.status_code == 200, answer.text
        return dict(answer.json()["session"])

    def publish(self, topic: str, payload: bytes | str, *, retain: bool = True) -> None:
        """Publish as the appliance's broker user (alerts; a capacity figure the door would make)."""
        client = mqtt_client(self.broker.port, "appliance", self.secrets()["appliance_password"])
        client.connect("127.0.0.1", self.broker.port)
        client.loop_start()
        try:
            info = client.publish(f"{self.base}/{topic}", payload, qos=1, retain=retain)
            info.wait_for_publish(5)
        finally:
            client.disconnect()
            client.loop_stop()

    def alert(self, alert_id: str, text: str, **fields: Any) -> None:
        now = int(time.time() * 1000)
        payload = {"rev": now, "ts": now, "id": alert_id, "text": text, "level": "info", "priority": 50,
                   "rooms": [], "expires_at": None, **fields}  # fmt: skip
        self.publish(f"alerts/{alert_id}", json.dumps(payload))

    def clear_alert(self, alert_id: str) -> None:
        self.publish(f"alerts/{alert_id}", b"")

    def capacity(self, room: str, count: int, capacity: int) -> None:
        now = int(time.time() * 1000)
        state = "full" if count >= capacity else "nearly_full" if count >= 0.9 * capacity else "open"
        payload = {"rev": now, "ts": now, "room": room, "count": count, "capacity": capacity, "state": state}
        self.publish(f"rooms/{room}/capacity", json.dumps(payload))

    def start_appliance(self) -> None:
        self.process = ApplianceProcess(self.data, self.process.port).start()


def now_ms() -> int:
    return int(time.time() * 1000)


def make_signs(root: Path) -> Generator[Signs, None, None]:
    data, out = root / "data", root / "broker"
    konferenco("demo", "seed", "--data", str(data), "--attendees", "10", "--seed", "3")
    port, ws_port = free_port(), free_port()
    konferenco(
        "appliance", "signage", "broker-config", "--data", str(data), "--out", str(out),
        "--port", str(port), "--ws-port", str(ws_port), "--bind", "127.0.0.1", "--user", getpass.getuser(),
    )  # fmt: skip
    broker = SignBroker(out / "mosquitto.conf", port, ws_port)
    broker.start()
    organizer = konferenco(
        "appliance", "issue-token", "--data", str(data), "--role", "organizer", "--name", "Olga"
    ).stdout.strip()
    process = ApplianceProcess(data).start()
    venue = json.loads((data / "secrets" / "signage-broker.json").read_text())["venue"]
    signs = Signs(root, data, out, broker, process, organizer, venue)
    try:
        signs.put_room(ROOM, ROOM_NAME)
        signs.put_room(FULL_ROOM, "Small Room", capacity=20)
        yield signs
    finally:
        signs.process.stop()
        broker.stop()


@pytest.fixture(scope="module")
def signs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Signs]:
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (make setup installs it)")
    yield from make_signs(tmp_path_factory.mktemp("signs"))


@pytest.fixture(scope="module")
def driver(signs: Signs) -> Iterator[Playwright]:
    """Playwright, once per module and after the appliance."""
    yield from playwright_driver()


@pytest.fixture(scope="module")
def browser(driver: Playwright) -> Iterator[Browser]:
    browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


def connected(page: Any, timeout: float = 15) -> None:
    """Wait until the sign is connected to the broker and has heard the appliance online."""
    wait_for(
        lambda: page.evaluate(
            "document.body.dataset.link === 'up' && document.body.dataset.status === 'online'"
        ),
        timeout=timeout,
        what="the sign to connect to the broker",
    )
