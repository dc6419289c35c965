"""Two real appliance processes find each other on the LAN (mDNS pinned to 127.0.0.1)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import ApplianceProcess, free_port, konferenco, wait_for


def _box(root: Path, name: str, event: str) -> tuple[Path, int, str]:
    data = root / name
    port = free_port()
    konferenco("appliance", "init", "--data", str(data), "--event", event, "--device-id", name)
    konferenco(
        "appliance", "devices", "add", "--data", str(data), "--id", "lan", "--domain", "discovery",
        "--set", "interfaces=127.0.0.1", "--set", f"port={port}",
    )  # fmt: skip
    token = konferenco("appliance", "issue-token", "--data", str(data), "--role", "desk").stdout.strip()
    return data, port, token


@pytest.fixture(scope="module")
def boxes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[tuple[ApplianceProcess, str]]]:
    root = tmp_path_factory.mktemp("lan")
    made = [_box(root, name, "expo") for name in ("box-a", "box-b")]
    processes = [ApplianceProcess(data, port) for data, port, _ in made]
    for process in processes:
        process.start()
    try:
        yield [(process, token) for process, (_, _, token) in zip(processes, made, strict=True)]
    finally:
        for process in processes:
            process.stop()


def _discovered(process: ApplianceProcess, token: str) -> list[dict[str, object]]:
    response = httpx.get(
        f"{process.url}/api/v1/devices/discovered", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert response.status_code == 200, response.text
    return list(response.json())


def test_each_appliance_lists_the_other_as_a_peer_with_its_api_port(
    boxes: list[tuple[ApplianceProcess, str]],
) -> None:
    (a, a_token), (b, b_token) = boxes

    def peers_of(process: ApplianceProcess, token: str) -> dict[str, dict[str, object]]:
        return {
            str(s["properties"].get("device")): s  # type: ignore[union-attr]
            for s in _discovered(process, token)
            if s["kind"] == "peer"
        }

    seen_by_a = wait_for(lambda: peers_of(a, a_token).get("box-b"), timeout=20, what="box-a to hear box-b")
    seen_by_b = wait_for(lambda: peers_of(b, b_token).get("box-a"), timeout=20, what="box-b to hear box-a")
    assert seen_by_a["port"] == b.port and seen_by_b["port"] == a.port
    assert seen_by_a["properties"]["event"] == "expo"  # type: ignore[index]
    assert "box-a" not in peers_of(a, a_token)  # a box does not list itself


def test_a_network_printer_announcing_itself_is_listed(boxes: list[tuple[ApplianceProcess, str]]) -> None:
    from zeroconf import IPVersion, ServiceInfo, Zeroconf

    (a, a_token), _ = boxes
    zc = Zeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    info = ServiceInfo(
        "_pdl-datastream._tcp.local.",
        "Lobby thermal printer._pdl-datastream._tcp.local.",
        addresses=[socket.inet_aton("127.0.0.1")],
        port=9100,
        server="lobby-printer.local.",
    )
    zc.register_service(info)
    try:
        printer = wait_for(
            lambda: next(
                (s for s in _discovered(a, a_token) if s["kind"] == "printer" and s["port"] == 9100), None
            ),
            timeout=20,
            what="the printer to be listed",
        )
        assert "Lobby thermal printer" in str(printer["name"])
        listed = konferenco("appliance", "devices", "--data", str(a.data), "--port", str(a.port))
        assert "discovered printer" in listed.stdout and "Lobby thermal printer" in listed.stdout
    finally:
        zc.unregister_service(info)
        zc.close()
