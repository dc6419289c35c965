"""Who may read and write which document (DESIGN.md §2, "writers").

Permissions are per document because a Yjs update can touch anything in
its document: there is no finer grain to enforce.

========================  ==============================  ==============================
document                  may read                        may write
========================  ==============================  ==============================
``…/control``             every peer of the event         hub; devices with ``organizer``
``…/device/{d}``          every peer of the event         hub (as relay); device ``d``
========================  ==============================  ==============================

A *viewer* (a browser page, a signage player, a third-party tool) reads and
never writes.  Data flows freely from a server to the clients it
authenticated, and from a client only into documents its role may write —
so an appliance relays other devices' logs to the clients that connect to
it, but nobody can push a log into a peer under another device's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import msgspec

from sync.names import DocName


class Role(StrEnum):
    HUB = "hub"
    DEVICE = "device"
    VIEWER = "viewer"


class Capability(StrEnum):
    SCANNER = "scanner"
    KIOSK = "kiosk"
    PRINTER = "printer"
    ORGANIZER = "organizer"


class PeerIdentity(msgspec.Struct, frozen=True, kw_only=True):
    """An authenticated peer, as the authentication hook established it."""

    peer_id: str
    role: Role
    #: Events this peer belongs to; ``("*",)`` for a hub serving all of its tenant's events.
    events: tuple[str, ...]
    device_id: str | None = None
    capabilities: tuple[Capability, ...] = ()

    def in_event(self, event_id: str) -> bool:
        return "*" in self.events or event_id in self.events


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


def may_read(peer: PeerIdentity, doc: DocName) -> Decision:
    if not peer.in_event(doc.event_id):
        return Decision(False, f"{peer.peer_id} is not a peer of event {doc.event_id}")
    return Decision(True)


def may_write(peer: PeerIdentity, doc: DocName) -> Decision:
    readable = may_read(peer, doc)
    if not readable:
        return readable
    if peer.role == Role.HUB:
        return Decision(True)
    if peer.role == Role.VIEWER:
        return Decision(False, f"{peer.peer_id} is a viewer and may not change {doc}")
    if doc.kind == "control":
        if Capability.ORGANIZER in peer.capabilities:
            return Decision(True)
        return Decision(False, f"device {peer.device_id} lacks the organizer capability to change {doc}")
    if doc.device_id == peer.device_id:
        return Decision(True)
    return Decision(False, f"device {peer.device_id} may not write the log of device {doc.device_id}")
