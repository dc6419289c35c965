"""Discovery on real mDNS, pinned to 127.0.0.1 (this workplace allows no multicast out of eth0).

Each test uses fresh instance names, so zeroconf users in other tests on the
same loopback do not disturb it.  Third-party services (a network printer, a
garbled peer) are published by a plain AsyncZeroconf, exactly as a device
on the LAN would answer.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from drivers.base import Manifest
from drivers.discovery import (
    PEER_TYPE,
    PRINTER_TYPE,
    Advertiser,
    Browser,
    DiscoveredService,
    DiscoveryChange,
    DiscoverySettings,
    InterfaceError,
    ManifestError,
    default_route_interface,
    load_manifests,
    manifest,
    matching_domains,
    open_zeroconf,
    resolve_interfaces,
    zeroconf_table,
)
from drivers.discovery.matchers import DomainMatcher

LOOPBACK = DiscoverySettings(interfaces=["127.0.0.1"], port=8443)
ROUTE_HEADER = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"


async def until(condition: Callable[[], Any], within: float = 5.0, what: str = "condition") -> Any:
    """Poll ``condition`` until it is truthy; fail the test after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.02)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def route_table(path: Path, *rows: tuple[str, str, str, int, str]) -> Path:
    """A /proc/net/route lookalike: rows of (iface, destination, flags, metric, mask) in its hex format."""
    body = "".join(f"{i}\t{d}\t00000000\t{f}\t0\t0\t{m}\t{k}\t0\t0\t0\n" for i, d, f, m, k in rows)
    path.write_text(ROUTE_HEADER + body)
    return path


def default_via(path: Path, iface: str) -> Path:
    return route_table(path, (iface, "00000000", "0003", 0, "00000000"))


def by_name(browser: Browser, name: str) -> DiscoveredService | None:
    return next((s for s in browser.discovered() if s.name == name), None)


def listed(browser: Browser, name: str) -> DiscoveredService:
    service = by_name(browser, name)
    assert service is not None, f"{name} is not listed"
    return service


def field_of(browser: Browser, name: str, attr: str) -> Any:
    """An attribute of a listed service, or None while it is not listed (for polling)."""
    service = by_name(browser, name)
    return getattr(service, attr) if service is not None else None


def write_manifest(root: Path, domain: str, body: dict[str, Any] | str) -> Path:
    folder = root / domain
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "manifest.json"
    path.write_text(body if isinstance(body, str) else json.dumps(body))
    return path


@pytest.fixture
async def publisher() -> AsyncIterator[AsyncZeroconf]:
    """Another device on the LAN (a printer, a foreign responder), pinned to loopback."""
    aiozc = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    yield aiozc
    await aiozc.async_close()


@pytest.fixture
def veth() -> Iterator[tuple[str, str]]:
    """A second interface (name, IPv4): a veth pair whose far end sits in a namespace we create.

    Needs root (CAP_NET_ADMIN); both the link and the namespace are deleted afterwards, so nothing
    persists and no packet leaves this machine.
    """
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 to create a veth pair for a second interface")
    tag = f"{os.getpid() % 100000}{random.randrange(100)}"
    near, far, netns = f"kzd{tag}", f"kzp{tag}", f"kz-discovery-{tag}"
    address = f"10.254.{random.randrange(1, 255)}.1"

    def ip(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", *args], capture_output=True, text=True, check=False, timeout=10)

    setup = [
        ("netns", "add", netns),
        ("link", "add", near, "type", "veth", "peer", "name", far),
        ("link", "set", far, "netns", netns),
        ("addr", "add", f"{address}/24", "dev", near),
        ("link", "set", near, "up"),
        ("-n", netns, "link", "set", far, "up"),
    ]
    try:
        for args in setup:
            done = ip(*args)
            if done.returncode != 0:
                pytest.skip(f"cannot create a veth pair here: ip {' '.join(args)}: {done.stderr.strip()}")
        yield near, address
    finally:
        ip("link", "del", near)
        ip("netns", "del", netns)


def sender_addresses(aiozc: AsyncZeroconf) -> list[str]:
    return sorted(t.sock_name[0] for t in aiozc.zeroconf.engine.senders)


# -- manifests and the zeroconf table ----------------------------------------------------------------------


def test_every_driver_manifest_is_wellformed() -> None:
    """Fails when any drivers/*/manifest.json cannot be decoded or declares a bad zeroconf type."""
    manifests = load_manifests()
    assert "discovery" in {m.domain for m in manifests}
    table = zeroconf_table()
    assert all(isinstance(rows, list) and rows for rows in table.values())
    settings = {s.name: s for s in manifest.settings}
    assert set(settings) == {"interfaces", "port"}
    # the manifest documents the same defaults the code applies
    defaults = DiscoverySettings.from_dict({k: s.default for k, s in settings.items()})
    assert defaults == DiscoverySettings()


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ("{not json", "malformed"),
        ({"domain": "printer", "name": "P", "zeroconf": "_pdl-datastream._tcp.local."}, "zeroconf"),
        ({"domain": "printer", "name": "P", "zeroconf": [{"type": "_http._tcp.local"}]}, "must end with"),
        ({"domain": "printer", "name": "P", "zeroconf": [{"type": "_conference-display._tcp.local."}]}, "15"),
        ({"domain": "printer", "name": "P", "zeroconf": [{"type": "Office._ipp._tcp.local."}]}, "instance"),
        ({"domain": "printers", "name": "P"}, "differs from its folder"),
        (
            {
                "domain": "printer",
                "name": "P",
                "zeroconf": [{"type": PRINTER_TYPE, "properties": {"Ty": "*"}}],
            },
            "lower",
        ),
        ({"domain": "printer"}, "name"),
    ],
)
def test_malformed_manifest_is_reported_with_its_path(
    tmp_path: Path, body: dict[str, Any] | str, complaint: str
) -> None:
    write_manifest(tmp_path, "scanner", {"domain": "scanner", "name": "Scanner"})
    bad = write_manifest(tmp_path, "printer", body)
    with pytest.raises(ManifestError) as err:
        zeroconf_table(tmp_path)
    assert str(bad) in str(err.value)
    assert complaint.lower() in str(err.value).lower()


def test_table_groups_matchers_by_service_type(tmp_path: Path) -> None:
    write_manifest(
        tmp_path,
        "printer",
        {
            "domain": "printer",
            "name": "Badge printer",
            "zeroconf": [
                {"type": PRINTER_TYPE},
                {"type": "_printer._tcp.local.", "properties": {"ty": "epson*"}},
            ],
        },
    )
    write_manifest(
        tmp_path,
        "signage",
        {"domain": "signage", "name": "Signage", "zeroconf": [{"type": PRINTER_TYPE, "name": "xibo*"}]},
    )
    write_manifest(tmp_path, "scanner", {"domain": "scanner", "name": "QR scanner"})
    (tmp_path / "not-a-driver").mkdir()
    assert zeroconf_table(tmp_path) == {
        PRINTER_TYPE: [DomainMatcher(domain="printer"), DomainMatcher(domain="signage", name="xibo*")],
        "_printer._tcp.local.": [DomainMatcher(domain="printer", properties={"ty": "epson*"})],
    }


def test_matching_uses_name_and_property_globs_case_insensitively() -> None:
    table = {
        PRINTER_TYPE: [
            DomainMatcher(domain="printer", name="epson*"),
            DomainMatcher(domain="labeler", properties={"product": "(zebra*"}),
        ]
    }
    epson = "EPSON TM-T20III._pdl-datastream._tcp.local."
    zebra = "ZD421._pdl-datastream._tcp.local."
    assert matching_domains(table, PRINTER_TYPE, epson, {}) == ["printer"]
    assert matching_domains(table, PRINTER_TYPE, zebra, {"product": "(Zebra ZD421)"}) == ["labeler"]
    assert matching_domains(table, PRINTER_TYPE, zebra, {}) == []  # a missing property never matches
    assert matching_domains(table, PRINTER_TYPE, epson, {"product": "(ZEBRA)"}) == ["printer", "labeler"]
    assert matching_domains(table, "_ipp._tcp.local.", epson, {}) == []


# -- settings and interfaces ---------------------------------------------------------------------------------


def test_settings_accept_appliance_json_shapes() -> None:
    assert DiscoverySettings.from_dict(
        {"interfaces": " eth0, 10.0.0.2 ,", "port": 9000}
    ) == DiscoverySettings(interfaces=["eth0", "10.0.0.2"], port=9000)
    assert DiscoverySettings.from_dict({"interfaces": ["lo"]}).interfaces == ["lo"]
    assert DiscoverySettings.from_dict({}).interfaces == []
    for bad in ({"port": 0}, {"port": 70000}, {"port": "http"}, {"interfaces": 5}):
        with pytest.raises(msgspec.ValidationError):
            DiscoverySettings.from_dict(bad)


def test_default_route_is_read_from_the_routing_table(tmp_path: Path) -> None:
    table = route_table(
        tmp_path / "route",
        ("eth1", "000200C0", "0001", 0, "00FFFFFF"),  # a LAN route, not the default
        ("wlan0", "00000000", "0003", 600, "00000000"),
        ("eth0", "00000000", "0003", 100, "00000000"),
        ("eth9", "00000000", "0002", 0, "00000000"),  # not up
    )
    assert default_route_interface(table) == "eth0"
    (tmp_path / "garbage").write_text(ROUTE_HEADER + "eth0 zz yy\nonly-one-field\n")
    assert default_route_interface(tmp_path / "garbage") is None
    assert (
        default_route_interface(route_table(tmp_path / "none", ("eth1", "000200C0", "0001", 0, "00FFFFFF")))
        is None
    )
    assert default_route_interface(tmp_path / "missing") is None


def test_interfaces_resolve_to_this_machines_ipv4_addresses(tmp_path: Path) -> None:
    assert resolve_interfaces(["lo"]) == ["127.0.0.1"]
    assert resolve_interfaces(["127.0.0.1", "lo"]) == ["127.0.0.1"]
    assert resolve_interfaces([], default_via(tmp_path / "route", "lo")) == ["127.0.0.1"]
    problems = {
        "nosuch0": "no network interface named 'nosuch0'",
        "192.0.2.254": "not an address of this machine",
        "::1": "IPv4 only",
    }
    for entry, message in problems.items():
        with pytest.raises(InterfaceError, match=message):
            resolve_interfaces([entry])
    with pytest.raises(InterfaceError, match="no IPv4 default route"):
        resolve_interfaces([], tmp_path / "missing")
    with pytest.raises(InterfaceError, match="no interface"):
        open_zeroconf([])


def test_default_on_this_machine_is_one_interface_not_all() -> None:
    """Without a setting, only the default route's interface is used (no socket is opened here)."""
    iface = default_route_interface()
    if iface is None:
        pytest.skip("this machine has no IPv4 default route")
    chosen = resolve_interfaces()
    assert chosen == resolve_interfaces([iface])
    assert "127.0.0.1" not in chosen or iface == "lo"


# -- on the air ---------------------------------------------------------------------------------------------


async def test_advertise_browse_resolve_update_and_goodbye() -> None:
    """Two appliances: one announces itself; the other lists it with its TXT, a change, a goodbye."""
    device = unique("dev")
    changes: list[DiscoveryChange] = []

    async def record(change: DiscoveryChange) -> None:
        changes.append(change)

    advertiser = Advertiser(LOOPBACK, event_id="ev-2025", device_id=device, role="scanner")
    browser = Browser(DiscoverySettings(interfaces=["lo"]), matchers={}, on_change=record)
    started = time.monotonic()
    await asyncio.gather(browser.connect(), advertiser.connect())
    try:
        assert advertiser.state().state == "connected", advertiser.state()
        name = advertiser.service_name
        assert name == f"Konferenco {device}.{PEER_TYPE}"
        peer = await until(lambda: by_name(browser, name), what="the peer to resolve")
        assert time.monotonic() - started < 5
        assert (peer.kind, peer.host, peer.addresses, peer.port) == ("peer", "127.0.0.1", ["127.0.0.1"], 8443)
        assert peer.properties == {
            "v": "1",
            "event": "ev-2025",
            "device": device,
            "role": "scanner",
            "api_port": "8443",
        }
        info = peer.peer
        assert info is not None
        assert (info.version, info.event, info.device_id, info.role, info.api_port) == (
            "1",
            "ev-2025",
            device,
            "scanner",
            8443,
        )
        assert peer.unique_id == (PEER_TYPE, name)
        assert browser.discovered(kind="printer") == []

        # a re-announcement without changes refreshes last_seen but is not a change
        await advertiser.update()
        await until(lambda: (field_of(browser, name, "last_seen") or 0) > peer.last_seen, what="last_seen")
        assert [c.change for c in changes if c.service.name == name] == ["added"]

        await advertiser.update(role="organizer")
        await until(
            lambda: (field_of(browser, name, "properties") or {}).get("role") == "organizer",
            what="the TXT update",
        )
        assert [s.name for s in browser.discovered()].count(name) == 1
        updated = listed(browser, name)
        assert updated.first_seen == peer.first_seen and updated.last_seen >= peer.last_seen

        await advertiser.disconnect()  # goodbye packets
        assert advertiser.state().state == "disconnected" and advertiser.service_name is None
        await until(lambda: by_name(browser, name) is None, what="the goodbye to remove the peer")
        await until(lambda: len([c for c in changes if c.service.name == name]) == 3, what="three callbacks")
        mine = [(c.change, c.service.properties["role"]) for c in changes if c.service.name == name]
        assert mine == [("added", "scanner"), ("updated", "organizer"), ("removed", "organizer")]
    finally:
        await advertiser.disconnect()
        await advertiser.disconnect()  # idempotent
        await browser.disconnect()
    assert browser.discovered() == []
    assert browser.state().state == "disconnected"


async def test_printer_is_listed_and_a_new_ip_updates_it(tmp_path: Path, publisher: AsyncZeroconf) -> None:
    """A raw-port printer found via the printer manifest's matcher; DHCP moves it; it says goodbye."""
    write_manifest(
        tmp_path, "printer", {"domain": "printer", "name": "P", "zeroconf": [{"type": PRINTER_TYPE}]}
    )
    seen: list[tuple[str, str]] = []

    async def flaky(change: DiscoveryChange) -> None:
        seen.append((change.change, change.service.host))
        if len(seen) == 1:
            raise RuntimeError("a bug in the owner's callback")

    browser = Browser(LOOPBACK, matchers=zeroconf_table(tmp_path), on_change=flaky)
    assert PRINTER_TYPE in browser.types and PEER_TYPE in browser.types
    name = f"{unique('EPSON TM-T20')}.{PRINTER_TYPE}"

    def printer_at(ip: str) -> AsyncServiceInfo:
        return AsyncServiceInfo(
            PRINTER_TYPE,
            name,
            addresses=[socket.inet_aton(ip)],
            port=9100,
            properties={b"Product": b"(TM-T20III)", b"ty": b"EPSON TM-T20III", b"flag": None},
            server="epson-tm.local.",
        )

    await browser.connect()
    try:
        await (await publisher.async_register_service(printer_at("127.0.0.1")))
        printer = await until(lambda: by_name(browser, name), what="the printer")
        assert (printer.kind, printer.domains, printer.host, printer.port) == (
            "printer",
            ["printer"],
            "127.0.0.1",
            9100,
        )
        assert printer.properties == {"product": "(TM-T20III)", "ty": "EPSON TM-T20III", "flag": ""}
        assert printer.peer is None
        printers = browser.discovered(kind="printer")
        assert name in [s.name for s in printers] and {s.kind for s in printers} == {"printer"}
        assert name not in [s.name for s in browser.discovered(kind="peer")]

        # RFC 6762 §10.2: a cache flush spares records received within the last second (same burst),
        # so a lease change is only seen as a *change* once the old announcement is over a second old.
        await asyncio.sleep(1.1)
        await (await publisher.async_update_service(printer_at("127.0.0.9")))
        await until(lambda: field_of(browser, name, "host") == "127.0.0.9", what="the newest address first")
        await until(
            lambda: field_of(browser, name, "addresses") == ["127.0.0.9"], what="the new address alone"
        )
        moved = listed(browser, name)
        assert moved.host == "127.0.0.9" and moved.first_seen == printer.first_seen
        assert [s.name for s in browser.discovered()].count(name) == 1

        await (await publisher.async_unregister_service(printer_at("127.0.0.9")))
        await until(lambda: by_name(browser, name) is None, what="the goodbye")
        # the first callback raised; later changes were still delivered, in order
        await until(lambda: seen and seen[-1] == ("removed", "127.0.0.9"), what="the removal callback")
        assert seen[0] == ("added", "127.0.0.1")
        assert ("updated", "127.0.0.9") in seen
    finally:
        await browser.disconnect()


async def test_default_interfaces_pin_mdns_to_the_default_route(tmp_path: Path) -> None:
    """With no interface setting, zeroconf binds the default route's interface only (here: lo), never all."""
    route = default_via(tmp_path / "route", "lo")
    device = unique("dev")
    advertiser = Advertiser(
        DiscoverySettings(), event_id="ev", device_id=device, role="kiosk", route_table=route
    )
    browser = Browser(DiscoverySettings(), matchers={}, route_table=route)
    await asyncio.gather(advertiser.connect(), browser.connect())
    try:
        for user in (advertiser, browser):
            aiozc = user.zeroconf
            assert aiozc is not None
            assert user.addresses == ["127.0.0.1"]
            assert aiozc.zeroconf._interfaces == ["127.0.0.1"]
            assert sender_addresses(aiozc) == ["127.0.0.1"]
            assert "127.0.0.1" in user.state().detail
        peer = await until(lambda: by_name(browser, advertiser.service_name or ""), what="the peer")
        assert peer.addresses == ["127.0.0.1"]
    finally:
        await advertiser.disconnect()
        await browser.disconnect()


async def test_advertiser_follows_an_address_change(tmp_path: Path, veth: tuple[str, str]) -> None:
    """The default route moves to another interface: goodbye on the old one, announcement on the new one."""
    iface, address = veth
    route = default_via(tmp_path / "route", "lo")
    device = unique("dev")
    advertiser = Advertiser(
        DiscoverySettings(),
        event_id="ev",
        device_id=device,
        role="kiosk",
        route_table=route,
        retry_seconds=0.1,
    )
    name = f"Konferenco {device}.{PEER_TYPE}"
    heard: list[tuple[str, str]] = []

    async def record(change: DiscoveryChange) -> None:
        if change.service.name == name:
            heard.append((change.change, change.service.host))

    browser = Browser(LOOPBACK, matchers={}, on_change=record)
    await asyncio.gather(advertiser.connect(), browser.connect())
    try:
        await until(lambda: heard == [("added", "127.0.0.1")], what="the announcement on lo")
        default_via(route, iface)
        await until(lambda: ("removed", "127.0.0.1") in heard, what="the goodbye on lo")
        await until(
            lambda: advertiser.addresses == [address] and advertiser.service_name is not None,
            what="re-registration on the new interface",
        )
        aiozc = advertiser.zeroconf
        assert aiozc is not None and sender_addresses(aiozc) == [address]
        assert advertiser.state().state == "connected" and address in advertiser.state().detail

        default_via(route, "lo")
        await until(lambda: heard[-1] == ("added", "127.0.0.1") and len(heard) > 2, what="back on lo")
        assert advertiser.addresses == ["127.0.0.1"]
    finally:
        await asyncio.gather(advertiser.disconnect(), browser.disconnect())


async def test_missing_interface_is_reported_then_recovers(tmp_path: Path) -> None:
    """A box that boots before its NIC: connect() does not raise, reports why, and comes up on its own."""
    route = default_via(tmp_path / "route", "nosuch0")
    device = unique("dev")
    advertiser = Advertiser(
        DiscoverySettings(),
        event_id="ev",
        device_id=device,
        role="kiosk",
        route_table=route,
        retry_seconds=0.1,
    )
    explicit = Browser(DiscoverySettings(interfaces=["nosuch1"]), matchers={})
    browser = Browser(LOOPBACK, matchers={})
    await asyncio.gather(advertiser.connect(), explicit.connect(), browser.connect())
    try:
        state = advertiser.state()
        assert (state.state, state.domain) == ("error", "discovery")
        assert "nosuch0" in state.detail
        assert advertiser.zeroconf is None and advertiser.service_name is None
        assert explicit.state().state == "error" and "nosuch1" in explicit.state().detail

        default_via(route, "lo")  # the interface comes up
        await until(lambda: advertiser.state().state == "connected", what="the retry")
        assert await until(lambda: by_name(browser, f"Konferenco {device}.{PEER_TYPE}"), what="the peer")
    finally:
        await advertiser.disconnect()
        await explicit.disconnect()
        await browser.disconnect()
    assert explicit.state().state == "disconnected"


async def test_garbled_peer_is_listed_safely_and_self_is_excluded(publisher: AsyncZeroconf) -> None:
    device = unique("self")
    advertiser = Advertiser(LOOPBACK, event_id="ev", device_id=device, role="kiosk")
    everyone = Browser(LOOPBACK, matchers={})
    others = Browser(LOOPBACK, matchers={}, exclude_device_id=device)
    garbled = AsyncServiceInfo(
        PEER_TYPE,
        f"{unique('garbled')}.{PEER_TYPE}",
        addresses=[socket.inet_aton("127.0.0.1")],
        port=8080,
        properties={b"v": b"\xff\xfe", b"api_port": b"not-a-port", b"EVENT": b"ev"},
        server="garbled.local.",
    )
    await asyncio.gather(everyone.connect(), others.connect())

    async def publish() -> None:
        await (await publisher.async_register_service(garbled))

    await asyncio.gather(advertiser.connect(), publish())
    try:
        await until(lambda: by_name(everyone, advertiser.service_name or ""), what="our own announcement")
        await until(lambda: by_name(everyone, garbled.name), what="the garbled peer in one browser")
        listed = await until(lambda: by_name(others, garbled.name), what="the garbled peer in the other")
        assert listed.kind == "peer" and listed.peer is None
        assert listed.properties == {"v": "\ufffd\ufffd", "api_port": "not-a-port", "event": "ev"}
        assert by_name(others, advertiser.service_name or "") is None
        assert others.state().state == "connected"
    finally:
        for user in (advertiser, everyone, others):
            await user.disconnect()


async def test_shared_zeroconf_is_used_and_left_open() -> None:
    """The appliance may run both on one instance it owns; disconnecting them must not close it."""
    aiozc = open_zeroconf(["127.0.0.1"])
    device = unique("dev")
    advertiser = Advertiser(LOOPBACK, event_id="ev", device_id=device, role="kiosk", zeroconf=aiozc)
    other = Advertiser(LOOPBACK, event_id="ev", device_id=unique("peer"), role="kiosk")
    browser = Browser(LOOPBACK, matchers={}, zeroconf=aiozc)
    try:
        await asyncio.gather(browser.connect(), advertiser.connect(), other.connect())
        assert advertiser.zeroconf is aiozc and advertiser.addresses == []
        assert "shared" in advertiser.state().detail
        peer = await until(lambda: by_name(browser, other.service_name or ""), what="the other appliance")
        assert peer.host == "127.0.0.1"
        await advertiser.disconnect()
        await browser.disconnect()
        assert not aiozc.zeroconf.done  # still open for its owner
        assert aiozc.zeroconf.registry.async_get_info_name(f"Konferenco {device}.{PEER_TYPE}") is None
    finally:
        await other.disconnect()
        await aiozc.async_close()


def test_bad_advertiser_input_is_refused_early() -> None:
    for kwargs, message in [
        ({"device_id": ""}, "device"),
        ({"event_id": "e" * 300}, "255 bytes"),
        ({"role": ""}, "role"),
        ({"instance_name": "a.b"}, "no dots"),
        ({"instance_name": "x" * 64}, "63 bytes"),
    ]:
        args: dict[str, Any] = {"event_id": "ev", "device_id": "dev", "role": "kiosk", **kwargs}
        with pytest.raises(ValueError, match=message):
            Advertiser(LOOPBACK, **args)


def test_manifest_is_the_drivers_manifest() -> None:
    assert isinstance(manifest, Manifest) and manifest.domain == "discovery"
    assert Advertiser.manifest is manifest and Browser.manifest is manifest
