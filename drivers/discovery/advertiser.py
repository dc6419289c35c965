"""Announce this appliance on the venue LAN as ``_konferenco._tcp.local.``.

Peers find each other this way and sync directly when the hub is
unreachable (DESIGN.md §2).  The TXT record says which event the box serves,
its device id, its role and API port, and the protocol version (``peer.py``).
``disconnect()`` unregisters, which sends goodbye packets so peers drop the
box at once instead of waiting for the record to expire.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path

from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from drivers.discovery.interfaces import ROUTE_TABLE, DiscoverySettings
from drivers.discovery.lifecycle import ZeroconfUser
from konferenco.peer_record import PEER_TYPE, host_label, peer_properties

log = logging.getLogger(__name__)


class Advertiser(ZeroconfUser):
    """Registers the appliance while connected; :meth:`update` changes what it says (e.g. a new event).

    ``zeroconf``: share the caller's instance (the caller chose its interfaces
    and closes it); otherwise the advertiser opens one on ``settings.interfaces``.
    ``instance_name`` defaults to ``Konferenco <device id>``; on a clash zeroconf
    picks a free variant, see :attr:`service_name`.
    """

    def __init__(
        self,
        settings: DiscoverySettings,
        *,
        event_id: str,
        device_id: str,
        role: str,
        zeroconf: AsyncZeroconf | None = None,
        instance_name: str | None = None,
        retry_seconds: float = 30.0,
        route_table: Path = ROUTE_TABLE,
    ) -> None:
        super().__init__(settings, zeroconf=zeroconf, retry_seconds=retry_seconds, route_table=route_table)
        self._properties = peer_properties(
            event=event_id, device_id=device_id, role=role, api_port=settings.port
        )
        self.device_id = device_id
        self._instance = instance_name or f"Konferenco {device_id}"
        if "." in self._instance or len(self._instance.encode()) > 63:
            raise ValueError("an mDNS instance name has no dots and at most 63 bytes")
        self._info: AsyncServiceInfo | None = None

    @property
    def unique_id(self) -> str:
        return f"zeroconf:advertise:{self.device_id}"

    def _label(self) -> str:
        return f"LAN announcement ({self._instance})"

    @property
    def service_name(self) -> str | None:
        """The registered name (``Konferenco dev-7._konferenco._tcp.local.``); None when not registered."""
        return self._info.name if self._info is not None else None

    @property
    def properties(self) -> dict[str, str]:
        """The TXT properties advertised (or to be advertised)."""
        return dict(self._properties)

    def _service_info(self, addresses: list[str], name: str | None = None) -> AsyncServiceInfo:
        return AsyncServiceInfo(
            PEER_TYPE,
            name or f"{self._instance}.{PEER_TYPE}",
            addresses=[socket.inet_aton(a) for a in addresses],
            port=self.settings.port,
            properties=self._properties,
            server=f"{host_label(self.device_id)}.local.",
        )

    def _own_addresses(self, aiozc: AsyncZeroconf) -> list[str]:
        if self.addresses:
            return self.addresses
        # a shared instance: advertise the IPv4 addresses it sends from
        senders = [t.sock_name[0] for t in aiozc.zeroconf.engine.senders if not t.is_ipv6]
        if not senders:
            raise RuntimeError("the shared zeroconf instance has no IPv4 interface to advertise")
        return senders

    async def _start(self, aiozc: AsyncZeroconf) -> None:
        info = self._service_info(self._own_addresses(aiozc))
        await (await aiozc.async_register_service(info, allow_name_change=True))
        self._info = info
        log.info("advertising %s on %s port %d", info.name, info.parsed_addresses(), info.port)

    async def _stop(self, aiozc: AsyncZeroconf) -> None:
        info, self._info = self._info, None
        if info is None:
            return
        try:
            await (await aiozc.async_unregister_service(info))
        except Exception:  # the interface vanished under us: peers will expire the record instead
            log.exception("could not send goodbye for %s", info.name)

    async def update(self, *, event_id: str | None = None, role: str | None = None) -> None:
        """Change what the appliance says about itself; re-announced at once when registered."""
        self._properties = peer_properties(
            event=event_id if event_id is not None else self._properties["event"],
            device_id=self.device_id,
            role=role if role is not None else self._properties["role"],
            api_port=self.settings.port,
        )
        async with self._lock:
            aiozc, current = self._aiozc, self._info
            if aiozc is None or current is None:
                return
            info = self._service_info(current.parsed_addresses(), name=current.name)
            await (await aiozc.async_update_service(info))
            self._info = info
