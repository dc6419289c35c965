"""The appliance's health report over a real box: its loops, and "degraded" while its hub is unreachable."""

from __future__ import annotations

import socket
from pathlib import Path

import msgspec
import pytest

from appliance.box import Box
from appliance.config import DataDir, DeviceConfig
from appliance.demo import seed
from tests.helpers import until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def data(tmp_path: Path) -> DataDir:
    data = DataDir(tmp_path / "box")
    await seed(data, "demo", count=5, rng_seed=3)
    return data


async def test_a_box_whose_hub_is_unreachable_is_degraded_and_says_why(
    data: DataDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KONFERENCO_CATALOG_INTERVAL", "0.2")
    hub = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    config = data.load()
    config.hub_url = hub
    data.save(config)
    data.save_hub_credential("kd1_not-a-real-credential")
    box = Box(data)
    await box.start()
    try:
        await until(lambda: box.health()["status"] == "degraded", what="a degraded report")
        await until(
            lambda: all(t["failures"] for t in box.health()["tasks"]), what="every loop to have failed"
        )
        report = msgspec.json.decode(msgspec.json.encode(box.health()))  # as /healthz sends it
    finally:
        await box.stop()
    assert report["device_id"] == config.device_id and report["events"] == ["demo"]
    tasks = {t["name"]: t for t in report["tasks"]}
    # Until the hub answers, the sync client does not know its documents: it retries the list.
    assert set(tasks) == {"catalog pull", "sync hub: document list"}
    pull = tasks["catalog pull"]
    assert pull["state"] == "backing_off"
    assert pull["last_error"].startswith(f"HubLinkError: cannot reach the hub at {hub}")
    assert pull["next_run_at"] > pull["last_error_at"], "it says when it tries again"
    assert all(t["state"] == "backing_off" for t in tasks.values())


async def test_a_standalone_box_with_a_sign_is_ok(data: DataDir, mosquitto_port: int) -> None:
    config = data.load()
    sign = DeviceConfig(id="hall-sign", domain="signage", settings={"venue": "hall", "port": mosquitto_port})
    data.save(msgspec.structs.replace(config, devices=[sign]))
    box = Box(data)
    await box.start()
    try:
        await until(lambda: box.health()["tasks"][0]["runs"] >= 1, what="the sign's first update")
        report = box.health()
    finally:
        await box.stop()
    assert report["status"] == "ok"
    assert [(t["name"], t["state"], t["failures"]) for t in report["tasks"]] == [
        ("signage feed demo", "running", 0)
    ]
    assert report["tasks"][0]["last_success_at"] is not None


@pytest.fixture
def mosquitto_port() -> int:
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", 1883)) != 0:
            pytest.skip("no Mosquitto on 127.0.0.1:1883")
    return 1883
