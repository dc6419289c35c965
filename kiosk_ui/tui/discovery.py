"""Appliances on the venue LAN, found by zeroconf the way appliances find each other.

Each box advertises ``_konferenco._tcp.local.`` with its event, device id and API
port in the TXT record (``konferenco.peer_record``); the TUI browses for a few
seconds and offers what it heard.  Browsing needs multicast: on a network that
blocks it, the technician passes ``--appliance URL`` instead, and the TUI says so.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from zeroconf import ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from konferenco.peer_record import PEER_TYPE, parse_peer


@dataclass(frozen=True)
class FoundAppliance:
    """An appliance heard on the LAN: where its API is and what it serves."""

    name: str
    url: str
    event: str
    device_id: str
    role: str


async def browse(seconds: float = 3.0, interfaces: list[str] | None = None) -> list[FoundAppliance]:
    """The appliances that answered within ``seconds``, sorted by event and device.

    INTERFACES: the addresses to listen on (default: every interface), as the
    appliance's own discovery settings name them.
    """
    found: dict[str, FoundAppliance] = {}
    pending: set[asyncio.Task[None]] = set()

    async def resolve(zc: Zeroconf, service_type: str, name: str) -> None:
        info = AsyncServiceInfo(service_type, name)
        if not await info.async_request(zc, 1500):
            return
        props = {
            k.decode(errors="replace").lower(): (v or b"").decode(errors="replace")
            for k, v in info.properties.items()
        }
        peer = parse_peer(props)
        addresses = info.parsed_addresses()
        if peer is None or not addresses:
            return
        host = addresses[0]
        host = f"[{host}]" if ":" in host else host
        found[peer.device_id] = FoundAppliance(
            name=name.removesuffix("." + service_type),
            url=f"http://{host}:{peer.api_port}",
            event=peer.event,
            device_id=peer.device_id,
            role=peer.role,
        )

    def on_change(zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change in (ServiceStateChange.Added, ServiceStateChange.Updated):
            task = asyncio.ensure_future(resolve(zeroconf, service_type, name))
            pending.add(task)
            task.add_done_callback(pending.discard)

    azc = AsyncZeroconf(interfaces=interfaces) if interfaces else AsyncZeroconf()
    try:
        browser = AsyncServiceBrowser(azc.zeroconf, [PEER_TYPE], handlers=[on_change])
        await asyncio.sleep(seconds)
        await browser.async_cancel()
        if pending:
            await asyncio.wait(pending, timeout=2)
    finally:
        await azc.async_close()
    return sorted(found.values(), key=lambda f: (f.event, f.device_id))
