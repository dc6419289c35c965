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

Inside a document, what a device may append depends on its capabilities
(:data:`RECORD_KINDS`): a scanner counts people in, it does not register
them.  That is checked three times: by the local writer
(:meth:`sync.replica.Replica.log`), by a server receiving a device's log
(:func:`sync.documents.screen_update`) and by every projection
(:func:`sync.documents.screen_changes`), since a record can reach a replica
by relay from a peer that did not check.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import msgspec

from konferenco.errors import KonferencoError
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


# --- record kinds per capability ----------------------------------------------------------

DocKind = Literal["control", "device"]


@dataclass(frozen=True, slots=True)
class KindRule:
    """Where a record kind lives and which capabilities let a device append it."""

    doc: DocKind
    writers: frozenset[Capability]


#: Record kind (``kind`` in the stored JSON) -> the document it belongs to and who may append it.
#: The hub is not in the table: it may write everything (it relays and it is the authority).
RECORD_KINDS: dict[str, KindRule] = {
    "scan": KindRule("device", frozenset({Capability.SCANNER, Capability.KIOSK, Capability.ORGANIZER})),
    "annulment": KindRule("device", frozenset({Capability.SCANNER, Capability.ORGANIZER})),
    "tag_link": KindRule("device", frozenset({Capability.KIOSK, Capability.ORGANIZER})),
    "walk_in": KindRule("device", frozenset({Capability.KIOSK, Capability.ORGANIZER})),
    # Its certificate, signed by an event key: the hub's word, which every device publishes.
    "device_key": KindRule("device", frozenset(Capability)),
    "proposal": KindRule("device", frozenset({Capability.KIOSK, Capability.ORGANIZER})),
    "host_edit": KindRule("device", frozenset({Capability.KIOSK, Capability.ORGANIZER})),
    "print": KindRule("device", frozenset({Capability.PRINTER, Capability.ORGANIZER})),
    # Any device may say it refused a rogue peer: a report for the organizer, it changes no state.
    "peer_refused": KindRule("device", frozenset(Capability)),
    "revocation": KindRule("control", frozenset({Capability.ORGANIZER})),
    "amendment": KindRule("control", frozenset({Capability.ORGANIZER})),
    "decision": KindRule("control", frozenset({Capability.ORGANIZER})),
}

#: What a device credential that names no capability may do: count people at a door.
#: (``appliance peer-token --role device`` without ``--capability`` mints such tokens.)
UNSTATED_CAPABILITIES = frozenset({Capability.SCANNER})


def device_capabilities(peer: PeerIdentity) -> frozenset[Capability] | None:
    """The capabilities that bound what ``peer`` may append; None for the hub (unbounded)."""
    if peer.role == Role.HUB:
        return None
    if peer.role == Role.VIEWER:
        return frozenset()
    return frozenset(peer.capabilities) or UNSTATED_CAPABILITIES


def may_append(capabilities: frozenset[Capability] | None, doc: DocKind, kind: str) -> Decision:
    """May a writer with ``capabilities`` (None: the hub) append a record of ``kind`` to a ``doc``?

    A kind nobody knows is not refused here: it is no record of ours, so
    validation quarantines it like any other foreign value.
    """
    rule = RECORD_KINDS.get(kind)
    if rule is None or capabilities is None:
        return Decision(True)
    if rule.doc != doc:
        return Decision(False, f"{kind} records belong in the {rule.doc} document, not a {doc} document")
    if capabilities & rule.writers:
        return Decision(True)
    needed = " or ".join(sorted(rule.writers))
    held = ", ".join(sorted(capabilities)) or "none"
    return Decision(False, f"writing {kind} records needs the {needed} capability (held: {held})")


class KindNotAllowed(KonferencoError, PermissionError):
    """This box may not write a record of this kind (its capabilities say so); nothing was stored."""

    code = "forbidden"

    def __init__(self, kind: str, decision: Decision, capabilities: frozenset[Capability]) -> None:
        rule = RECORD_KINDS.get(kind)
        super().__init__(
            f"this appliance may not record {kind.replace('_', ' ')}s: {decision.reason}",
            kind=kind,
            capabilities=sorted(rule.writers) if rule else [],
            held=sorted(capabilities),
        )
