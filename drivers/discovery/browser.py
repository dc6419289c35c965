"""Find peers and devices on the venue LAN: a table of resolved services, kept current.

The browser watches ``_konferenco._tcp.local.`` (peer appliances) and every
service type in the zeroconf table built from the drivers' manifests (network
printers: ``_pdl-datastream._tcp.local.``).  Each service is resolved to its
address, port and TXT properties and kept under its unique id ``(type,
name)``: when a device gets a new IP the entry is updated, never duplicated
(Home Assistant's abort-if-configured-with-updates).  Goodbye packets remove
an entry at once; a device unplugged without one disappears when its records
expire, and ``last_seen`` (bumped by every record heard from it) tells how
fresh an entry is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Literal

import msgspec
from zeroconf import IPVersion, RecordUpdate, RecordUpdateListener, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from drivers.base import Millis
from drivers.discovery.interfaces import ROUTE_TABLE, DiscoverySettings
from drivers.discovery.lifecycle import ZeroconfUser
from drivers.discovery.matchers import DomainMatcher, ZeroconfTable, matching_domains, zeroconf_table
from konferenco.peer_record import PEER_TYPE, PeerInfo, parse_peer
from konferenco.types import now_ms

log = logging.getLogger(__name__)

PEER_KIND = "peer"

#: After an address change the old A record lingers for 1 s (RFC 6762 §10.2 cache flush); look again after it.
_SETTLE_SECONDS = 1.2


class DiscoveredService(msgspec.Struct, frozen=True, kw_only=True):
    """A service seen on the LAN, resolved.

    ``kind`` is ``"peer"`` for another Konferenco appliance, otherwise the
    driver domain whose manifest matcher claimed it (``"printer"``);
    ``domains`` lists every domain that matched.  ``host`` is the newest
    IPv4 address.  TXT keys are lower-case; values are text (invalid UTF-8 is
    replaced, never fatal).  Times are Unix milliseconds.
    """

    type: str
    name: str
    kind: str
    domains: list[str]
    host: str
    addresses: list[str]
    port: int
    server: str
    properties: dict[str, str]
    first_seen: Millis
    last_seen: Millis

    @property
    def unique_id(self) -> tuple[str, str]:
        return (self.type, self.name)

    @property
    def peer(self) -> PeerInfo | None:
        """The decoded peer record for a Konferenco appliance, None for others or a malformed record."""
        return parse_peer(self.properties) if self.type == PEER_TYPE else None


class DiscoveryChange(msgspec.Struct, frozen=True, kw_only=True):
    change: Literal["added", "updated", "removed"]
    service: DiscoveredService


#: Called on the owner's loop, one change at a time in the order they happened.
ChangeCallback = Callable[[DiscoveryChange], Awaitable[None]]


class _LastSeen(RecordUpdateListener):
    """Hears every record zeroconf receives, to keep ``last_seen`` honest (browsers report only changes)."""

    def __init__(self, browser: Browser) -> None:
        self._browser = browser

    def async_update_records(self, zc: Zeroconf, now: float, records: list[RecordUpdate]) -> None:
        names = {update.new.name.lower() for update in records if not update.new.is_expired(now)}
        if names:  # zeroconf's ``now`` is monotonic; entries carry Unix time
            self._browser._heard(names, now_ms())

    def async_update_records_complete(self) -> None:
        return None


class Browser(ZeroconfUser):
    """Browses peers and the manifests' service types; :meth:`discovered` is the current table.

    ``matchers``: the zeroconf table (default: every ``drivers/*/manifest.json``).
    ``on_change``: awaited for each added / updated / removed entry.
    ``exclude_device_id``: this appliance's own id, so it does not list itself.
    ``zeroconf``: share the caller's instance instead of opening one on ``settings.interfaces``.
    """

    def __init__(
        self,
        settings: DiscoverySettings,
        *,
        matchers: Mapping[str, list[DomainMatcher]] | None = None,
        on_change: ChangeCallback | None = None,
        exclude_device_id: str | None = None,
        zeroconf: AsyncZeroconf | None = None,
        resolve_timeout: float = 3.0,
        retry_seconds: float = 30.0,
        route_table: Path = ROUTE_TABLE,
    ) -> None:
        super().__init__(settings, zeroconf=zeroconf, retry_seconds=retry_seconds, route_table=route_table)
        self.matchers: ZeroconfTable = dict(matchers) if matchers is not None else zeroconf_table()
        self.types = sorted({PEER_TYPE, *self.matchers})
        self._on_change = on_change
        self._exclude = exclude_device_id
        self._resolve_ms = resolve_timeout * 1000
        self._services: dict[tuple[str, str], DiscoveredService] = {}
        self._resolving: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._browser: AsyncServiceBrowser | None = None
        self._listener = _LastSeen(self)
        self._changes: asyncio.Queue[DiscoveryChange] = asyncio.Queue()
        self._deliverer: asyncio.Task[None] | None = None

    @property
    def unique_id(self) -> str:
        return "zeroconf:browser"

    def _label(self) -> str:
        return "LAN discovery"

    def discovered(self, kind: str | None = None) -> list[DiscoveredService]:
        """The services known now (optionally only one kind: ``"peer"``, ``"printer"``), sorted by id."""
        return sorted(
            (s for s in self._services.values() if kind is None or s.kind == kind),
            key=lambda s: s.unique_id,
        )

    async def connect(self) -> None:
        if self._on_change is not None and self._deliverer is None:
            self._deliverer = asyncio.create_task(self._deliver(), name="discovery changes")
        await super().connect()

    async def disconnect(self) -> None:
        """Stop browsing; the table empties without calling ``on_change`` (the owner asked for it)."""
        if self._deliverer is not None:
            self._deliverer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._deliverer
            self._deliverer = None
        await super().disconnect()
        while not self._changes.empty():
            self._changes.get_nowait()

    # -- zeroconf side ------------------------------------------------------------------------------------
    async def _start(self, aiozc: AsyncZeroconf) -> None:
        zc = aiozc.zeroconf
        zc.async_add_listener(self._listener, None)

        def handler(
            zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
        ) -> None:
            self._on_state_change(aiozc, service_type, name, state_change)

        self._browser = AsyncServiceBrowser(zc, self.types, handlers=[handler])

    async def _stop(self, aiozc: AsyncZeroconf) -> None:
        aiozc.zeroconf.async_remove_listener(self._listener)
        browser, self._browser = self._browser, None
        if browser is not None:
            with contextlib.suppress(Exception):
                await browser.async_cancel()
        tasks = list(self._resolving.values())
        self._resolving.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for key in list(self._services):
            self._remove(key)

    def _on_state_change(
        self, aiozc: AsyncZeroconf, type_: str, name: str, state_change: ServiceStateChange
    ) -> None:
        key = (type_, name)
        running = self._resolving.pop(key, None)
        if running is not None:
            running.cancel()
        if state_change is ServiceStateChange.Removed:
            self._remove(key)
            return
        settle = state_change is ServiceStateChange.Updated
        task = asyncio.create_task(self._resolve(aiozc, key, settle), name=f"resolve {name}")
        self._resolving[key] = task
        task.add_done_callback(lambda t: self._forget(key, t))

    def _forget(self, key: tuple[str, str], task: asyncio.Task[None]) -> None:
        if self._resolving.get(key) is task:
            del self._resolving[key]

    async def _resolve(self, aiozc: AsyncZeroconf, key: tuple[str, str], settle: bool) -> None:
        type_, name = key
        for attempt in range(2 if settle else 1):
            if attempt:
                await asyncio.sleep(_SETTLE_SECONDS)
            info = AsyncServiceInfo(type_, name)
            try:
                found = await info.async_request(aiozc.zeroconf, self._resolve_ms)
            except Exception:  # zeroconf closing under us, malformed records: skip this round
                log.exception("resolving %s failed", name)
                return
            if not found:
                log.info("%s did not resolve within %.1f s", name, self._resolve_ms / 1000)
                continue
            self._apply(key, info)

    # -- the table ------------------------------------------------------------------------------------------
    def _apply(self, key: tuple[str, str], info: AsyncServiceInfo) -> None:
        type_, name = key
        addresses = info.parsed_addresses(IPVersion.V4Only)
        if not addresses or not info.port:
            return
        properties = _decode(info.properties)
        if type_ == PEER_TYPE:
            kind, domains = PEER_KIND, [PEER_KIND]
            if self._exclude is not None and properties.get("device") == self._exclude:
                return
        else:
            domains = matching_domains(self.matchers, type_, name, properties)
            if not domains:  # the type is browsed for a domain whose globs do not accept this one
                self._remove(key)
                return
            kind = domains[0]
        old = self._services.get(key)
        now = now_ms()
        new = DiscoveredService(
            type=type_,
            name=name,
            kind=kind,
            domains=domains,
            host=addresses[0],
            addresses=addresses,
            port=info.port,
            server=info.server or "",
            properties=properties,
            first_seen=old.first_seen if old is not None else now,
            last_seen=now,
        )
        self._services[key] = new
        if old is None:
            self._emit("added", new)
        elif msgspec.structs.replace(old, last_seen=now) != new:
            self._emit("updated", new)

    def _remove(self, key: tuple[str, str]) -> None:
        old = self._services.pop(key, None)
        if old is not None:
            self._emit("removed", old)

    def _heard(self, names: set[str], now: int) -> None:
        for key, service in self._services.items():
            if service.last_seen < now and (service.name.lower() in names or service.server.lower() in names):
                self._services[key] = msgspec.structs.replace(service, last_seen=now)

    def _emit(self, change: Literal["added", "updated", "removed"], service: DiscoveredService) -> None:
        log.info("%s %s (%s) at %s:%d", change, service.name, service.kind, service.host, service.port)
        if self._on_change is not None:
            self._changes.put_nowait(DiscoveryChange(change=change, service=service))

    async def _deliver(self) -> None:
        assert self._on_change is not None
        while True:
            change = await self._changes.get()
            try:
                await self._on_change(change)
            except Exception:  # the owner's bug must not stop discovery
                log.exception("discovery callback failed on %s %s", change.change, change.service.name)


def _decode(properties: Mapping[bytes, bytes | None]) -> dict[str, str]:
    """TXT properties as text: lower-case keys (RFC 6763 §6.4), a bare key maps to ``""``."""
    return {
        key.decode("utf-8", "replace").lower(): (value or b"").decode("utf-8", "replace")
        for key, value in properties.items()
    }
