"""Discovery: announce this appliance and find peers and network printers on the venue LAN (zeroconf/mDNS).

Two drivers with the usual lifecycle (``connect`` / ``disconnect`` / ``state``):

- :class:`Advertiser` registers ``_konferenco._tcp.local.`` with a TXT record
  (event, device id, role, API port, ``v=1``) and says goodbye on disconnect;
- :class:`Browser` keeps a table of resolved peers and of the services the
  drivers' manifests claim (:func:`zeroconf_table`), with an async callback on
  every change.

Both speak mDNS only on the configured interfaces or on the default route's
interface, never on all of them (see ``interfaces.py``).  They can share one
:class:`zeroconf.asyncio.AsyncZeroconf` from :func:`open_zeroconf`.
"""

from typing import Any

from drivers.base import Driver, ScanSink
from drivers.discovery.advertiser import Advertiser
from drivers.discovery.browser import PEER_KIND, Browser, ChangeCallback, DiscoveredService, DiscoveryChange
from drivers.discovery.interfaces import (
    DiscoverySettings,
    InterfaceError,
    default_route_interface,
    open_zeroconf,
    resolve_interfaces,
)
from drivers.discovery.lifecycle import MANIFEST as manifest
from drivers.discovery.matchers import (
    DomainMatcher,
    ManifestError,
    load_manifests,
    matching_domains,
    zeroconf_table,
)
from konferenco.peer_record import (
    PEER_TYPE,
    PRINTER_TYPE,
    PROTOCOL_VERSION,
    PeerInfo,
    parse_peer,
    peer_properties,
)

__all__ = [
    "PEER_KIND",
    "PEER_TYPE",
    "PRINTER_TYPE",
    "PROTOCOL_VERSION",
    "Advertiser",
    "Browser",
    "ChangeCallback",
    "DiscoveredService",
    "DiscoveryChange",
    "DiscoverySettings",
    "DomainMatcher",
    "InterfaceError",
    "ManifestError",
    "PeerInfo",
    "create",
    "default_route_interface",
    "load_manifests",
    "manifest",
    "matching_domains",
    "open_zeroconf",
    "parse_peer",
    "peer_properties",
    "resolve_interfaces",
    "zeroconf_table",
]


def create(settings: dict[str, Any], sink: ScanSink | None = None) -> Driver:
    """The family's entry point (``drivers.registry``): a :class:`Browser` of the venue LAN.

    Announcing needs an identity (event, device id) the settings do not
    carry: the appliance builds its own pair of advertiser and browser.
    """
    values = dict(settings)
    values.pop("name", None)
    return Browser(DiscoverySettings.from_dict(values))
