"""What an appliance says about itself on the LAN: the ``_konferenco._tcp.local.`` TXT record.

Writer (:func:`peer_properties`, used by the appliance's advertiser) and reader
(:func:`parse_peer`, used by its browser and by the staff TUI) live together, in the
shared core, so the sides cannot drift.  ``v`` comes
first (DNS-SD's ``txtvers`` convention); a reader that meets another ``v``
still sees the peer but knows it may not speak the same sync protocol.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import msgspec

PEER_TYPE = "_konferenco._tcp.local."
PRINTER_TYPE = "_pdl-datastream._tcp.local."
PROTOCOL_VERSION = "1"

#: A TXT string is one length byte plus at most 255 bytes of ``key=value`` (RFC 6763 §6.1).
_MAX_TXT_ITEM = 255


class PeerInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A Konferenco appliance seen on the LAN, decoded from its TXT record."""

    version: str
    event: str
    device_id: str
    role: str
    api_port: int


def peer_properties(*, event: str, device_id: str, role: str, api_port: int) -> dict[str, str]:
    """The TXT properties an appliance advertises; ValueError on values that cannot be sent."""
    props = {
        "v": PROTOCOL_VERSION,
        "event": event,
        "device": device_id,
        "role": role,
        "api_port": str(api_port),
    }
    for key, value in props.items():
        if not value:
            raise ValueError(f"peer TXT {key!r} must not be empty")
        if len(key.encode()) + 1 + len(value.encode()) > _MAX_TXT_ITEM:
            raise ValueError(f"peer TXT {key!r} is longer than a TXT string can hold (255 bytes)")
    if not 1 <= api_port <= 65535:
        raise ValueError(f"api_port {api_port} is not a TCP port")
    return props


def parse_peer(properties: Mapping[str, str]) -> PeerInfo | None:
    """The peer described by these TXT properties, or None if they are not a usable Konferenco record."""
    try:
        port = int(properties["api_port"])
        info = PeerInfo(
            version=properties["v"],
            event=properties["event"],
            device_id=properties["device"],
            role=properties["role"],
            api_port=port,
        )
    except (KeyError, ValueError):
        return None
    if not (1 <= port <= 65535 and info.event and info.device_id):
        return None
    return info


def host_label(device_id: str) -> str:
    """A DNS host label for this device (``dev-7.local.``): letters, digits and hyphens, at most 63 bytes."""
    label = re.sub(r"[^a-z0-9-]+", "-", device_id.lower()).strip("-")[:63].strip("-")
    return label or "konferenco"
