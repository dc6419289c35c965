"""The lifecycle shared by advertiser and browser: start on the right interfaces, retry, follow IP changes.

A venue box boots before its switch, loses its DHCP lease, gets a new address.
So ``connect()`` never raises because the network is not ready: it reports
``error`` with the reason and a watch task retries every ``retry_seconds``,
and when the interface addresses change it restarts on the new ones.  With a
*shared* :class:`AsyncZeroconf` (owned by the caller) there is nothing to
watch: the owner chose the interfaces.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from pathlib import Path

from zeroconf.asyncio import AsyncZeroconf

from drivers.base import DeviceState, Manifest, State, load_manifest
from drivers.discovery.interfaces import DiscoverySettings, open_zeroconf, resolve_interfaces
from konferenco.types import now_ms

log = logging.getLogger(__name__)

MANIFEST: Manifest = load_manifest(__file__)


class ZeroconfUser(ABC):
    """Owns (or borrows) an AsyncZeroconf and keeps its own work running on it."""

    manifest: Manifest = MANIFEST

    def __init__(
        self,
        settings: DiscoverySettings,
        *,
        zeroconf: AsyncZeroconf | None,
        retry_seconds: float,
        route_table: Path,
    ) -> None:
        self.settings = settings
        self._shared = zeroconf
        self._aiozc: AsyncZeroconf | None = None
        self._retry_seconds = retry_seconds
        self._route_table = route_table
        #: The IPv4 addresses mDNS is bound to (empty when not connected or when shared).
        self.addresses: list[str] = []
        self._wanted = False
        self._watch: asyncio.Task[None] | None = None
        self._state: State = "disconnected"
        self._detail = "not connected"
        self._since = now_ms()
        self._lock = asyncio.Lock()

    # -- what subclasses do ---------------------------------------------------------------------------
    @property
    @abstractmethod
    def unique_id(self) -> str: ...

    @abstractmethod
    def _label(self) -> str:
        """The name staff see in the device list."""

    @abstractmethod
    async def _start(self, aiozc: AsyncZeroconf) -> None:
        """Begin the work on a running zeroconf (register, browse)."""

    @abstractmethod
    async def _stop(self, aiozc: AsyncZeroconf) -> None:
        """End the work cleanly (goodbye packets, cancel browsers); must not raise."""

    # -- the Driver lifecycle ------------------------------------------------------------------------
    @property
    def zeroconf(self) -> AsyncZeroconf | None:
        """The zeroconf instance in use, or None while not connected."""
        return self._aiozc

    async def connect(self) -> None:
        """Start; returns after the first attempt, which may leave the state at ``error`` (retried)."""
        if self._wanted:
            return
        self._wanted = True
        async with self._lock:
            await self._attempt()
        self._watch = asyncio.create_task(self._watch_loop(), name=f"{self.unique_id} watch")

    async def disconnect(self) -> None:
        """Stop the work (goodbyes are sent and awaited) and release the sockets; idempotent."""
        self._wanted = False
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        async with self._lock:
            await self._teardown()
        self._set_state("disconnected", "disconnected")

    def state(self) -> DeviceState:
        return DeviceState(
            unique_id=self.unique_id,
            domain=self.manifest.domain,
            name=self._label(),
            state=self._state,
            detail=self._detail,
            since=self._since,
        )

    # -- internals --------------------------------------------------------------------------------------
    def _set_state(self, state: State, detail: str) -> None:
        if (state, detail) != (self._state, self._detail):
            self._state, self._detail, self._since = state, detail, now_ms()

    def _interface_addresses(self) -> list[str]:
        return resolve_interfaces(self.settings.interfaces, self._route_table)

    async def _attempt(self) -> None:
        try:
            if self._shared is not None:
                aiozc, addresses = self._shared, []
            else:
                addresses = self._interface_addresses()
                aiozc = open_zeroconf(addresses)
            self.addresses = addresses
            try:
                await aiozc.zeroconf.async_wait_for_start()
                await self._start(aiozc)
            except BaseException:
                self.addresses = []
                if aiozc is not self._shared:
                    await aiozc.async_close()
                raise
        except Exception as exc:  # the network is not ready, or the config is wrong: report, retry
            log.warning("%s: %s", self.unique_id, exc)
            self._set_state("error", str(exc) or type(exc).__name__)
            return
        self._aiozc = aiozc
        where = ", ".join(addresses) if addresses else "a shared zeroconf instance"
        self._set_state("connected", f"mDNS on {where}")

    async def _teardown(self) -> None:
        aiozc, self._aiozc, self.addresses = self._aiozc, None, []
        if aiozc is None:
            return
        await self._stop(aiozc)
        if aiozc is not self._shared:
            await aiozc.async_close()

    async def _watch_loop(self) -> None:
        while self._wanted:
            await asyncio.sleep(self._retry_seconds)
            async with self._lock:
                if self._aiozc is None:
                    await self._attempt()
                elif self._shared is None and self._addresses_changed():
                    log.info("%s: interface addresses changed, restarting mDNS", self.unique_id)
                    await self._teardown()
                    await self._attempt()

    def _addresses_changed(self) -> bool:
        try:
            return self._interface_addresses() != self.addresses
        except Exception:  # the interface went away: restart, which reports why
            return True
