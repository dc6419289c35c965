"""Which network interfaces mDNS uses, and the settings that choose them.

python-zeroconf binds every interface by default, which floods Docker hosts
with duplicate packets and fails on virtual adapters (edge-parts.md F).  An
appliance therefore speaks mDNS only on the venue LAN: the interfaces its
settings name, or else the single interface that carries the default route.
There is deliberately no "all interfaces" choice.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import ifaddr
import msgspec
from zeroconf import IPVersion
from zeroconf.asyncio import AsyncZeroconf

#: Linux's IPv4 routing table (``ip route`` reads the same data).
ROUTE_TABLE = Path("/proc/net/route")
_RTF_UP = 0x1


class InterfaceError(RuntimeError):
    """No usable IPv4 address for the configured interfaces (yet: a cable or a DHCP lease may come)."""


class DiscoverySettings(msgspec.Struct, frozen=True, kw_only=True):
    """The discovery driver's settings (``manifest.json`` → ``settings``).

    ``interfaces``: interface names (``eth0``) or local IPv4 addresses; empty
    means the interface of the default route.  ``port``: the TCP port this
    appliance advertises for its API and sync endpoint.
    """

    interfaces: list[str] = []
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 8080

    @classmethod
    def from_dict(cls, settings: Mapping[str, Any]) -> DiscoverySettings:
        """Settings as stored in ``appliance.json`` (``interfaces`` may be a comma-separated string)."""
        data = dict(settings)
        raw = data.get("interfaces")
        if isinstance(raw, str):
            data["interfaces"] = [part.strip() for part in raw.split(",") if part.strip()]
        return msgspec.convert(data, type=cls)


def default_route_interface(route_table: Path = ROUTE_TABLE) -> str | None:
    """The interface of the IPv4 default route with the lowest metric, or None without one."""
    try:
        lines = route_table.read_text().splitlines()[1:]
    except OSError:
        return None
    best: tuple[int, str] | None = None
    for line in lines:
        fields = line.split()
        if len(fields) < 8:
            continue
        iface, destination, flags, metric, mask = fields[0], fields[1], fields[3], fields[6], fields[7]
        try:
            up = int(flags, 16) & _RTF_UP
            is_default = int(destination, 16) == 0 and int(mask, 16) == 0
            rank = int(metric)
        except ValueError:
            continue
        if up and is_default and (best is None or rank < best[0]):
            best = (rank, iface)
    return best[1] if best else None


def _ipv4_by_adapter() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for adapter in ifaddr.get_adapters():
        out[adapter.name] = [ip.ip for ip in adapter.ips if isinstance(ip.ip, str)]
    return out


def resolve_interfaces(interfaces: Sequence[str] = (), route_table: Path = ROUTE_TABLE) -> list[str]:
    """The IPv4 addresses zeroconf should bind, from interface names or addresses.

    Raises :class:`InterfaceError` with a message staff can act on when a name
    is unknown, has no IPv4 address, an address is not this machine's, or (with
    no explicit list) there is no default route.
    """
    wanted = list(interfaces)
    if not wanted:
        iface = default_route_interface(route_table)
        if iface is None:
            raise InterfaceError("no IPv4 default route: set the discovery 'interfaces' setting explicitly")
        wanted = [iface]
    adapters = _ipv4_by_adapter()
    local = {ip for ips in adapters.values() for ip in ips}
    out: list[str] = []
    for entry in wanted:
        out.extend(_addresses_of(entry, adapters, local))
    return list(dict.fromkeys(out))


def _addresses_of(entry: str, adapters: dict[str, list[str]], local: set[str]) -> Iterable[str]:
    try:
        address = ipaddress.ip_address(entry)
    except ValueError:
        address = None
    if address is not None:
        if address.version != 4:
            raise InterfaceError(f"{entry}: discovery uses IPv4 only (give an IPv4 address or a name)")
        if entry not in local:
            raise InterfaceError(f"{entry} is not an address of this machine")
        return [entry]
    if entry not in adapters:
        raise InterfaceError(f"no network interface named {entry!r}")
    if not adapters[entry]:
        raise InterfaceError(f"interface {entry!r} has no IPv4 address (cable unplugged or no DHCP lease?)")
    return adapters[entry]


def open_zeroconf(addresses: Sequence[str]) -> AsyncZeroconf:
    """An AsyncZeroconf that sends and joins the mDNS group only on ``addresses`` (IPv4).

    Call it inside the running event loop; close it with ``await aiozc.async_close()``.
    """
    if not addresses:
        raise InterfaceError("refusing to open zeroconf on no interface (it would mean all of them)")
    return AsyncZeroconf(interfaces=list(addresses), ip_version=IPVersion.V4Only)
