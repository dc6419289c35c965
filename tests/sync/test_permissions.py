"""The read/write table of :mod:`sync.permissions`, row by row.

========================  ==============================  ==============================
document                  may read                        may write
========================  ==============================  ==============================
``…/control``             every peer of the event         hub; devices with ``organizer``
``…/device/{d}``          every peer of the event         hub (as relay); device ``d``
========================  ==============================  ==============================

Viewers read and never write; nobody reads or writes another event's documents.
"""

from __future__ import annotations

import pytest

from sync.names import DocName
from sync.permissions import Capability, Decision, PeerIdentity, Role, may_read, may_write

A = "ev-a"
B = "ev-b"

CONTROL_A = DocName.parse(f"event/{A}/control")
LOG_A_D1 = DocName.parse(f"event/{A}/device/d1")
LOG_A_D2 = DocName.parse(f"event/{A}/device/d2")
CONTROL_B = DocName.parse(f"event/{B}/control")
LOG_B_D1 = DocName.parse(f"event/{B}/device/d1")

ALL_A = [CONTROL_A, LOG_A_D1, LOG_A_D2]
ALL_B = [CONTROL_B, LOG_B_D1]


def hub(events: tuple[str, ...] = (A,)) -> PeerIdentity:
    return PeerIdentity(peer_id="hub-1", role=Role.HUB, events=events)


def device(
    device_id: str = "d1", events: tuple[str, ...] = (A,), capabilities: tuple[Capability, ...] = ()
) -> PeerIdentity:
    return PeerIdentity(
        peer_id=f"peer-{device_id}",
        role=Role.DEVICE,
        events=events,
        device_id=device_id,
        capabilities=capabilities,
    )


def viewer(events: tuple[str, ...] = (A,)) -> PeerIdentity:
    return PeerIdentity(peer_id="signage-3", role=Role.VIEWER, events=events)


def assert_denied(decision: Decision, *mentions: str) -> None:
    assert isinstance(decision, Decision)
    assert not decision
    assert decision.allowed is False
    assert decision.reason, "a refusal must say why"
    assert decision.reason[0].isalpha() and " " in decision.reason
    for text in mentions:
        assert text in decision.reason, (text, decision.reason)


def assert_allowed(decision: Decision) -> None:
    assert isinstance(decision, Decision)
    assert decision
    assert decision.allowed is True


# --- reading -------------------------------------------------------------------------


@pytest.mark.parametrize("doc", ALL_A, ids=str)
@pytest.mark.parametrize(
    "peer",
    [
        hub(),
        device("d1"),
        device("d2"),
        device("d9", capabilities=(Capability.ORGANIZER,)),
        device("d3", capabilities=(Capability.SCANNER,)),
        viewer(),
    ],
    ids=lambda p: f"{p.role}-{p.device_id}",
)
def test_every_peer_of_the_event_reads_every_document(peer: PeerIdentity, doc: DocName) -> None:
    assert_allowed(may_read(peer, doc))


@pytest.mark.parametrize("doc", ALL_B, ids=str)
@pytest.mark.parametrize(
    "peer",
    [hub(), device("d1"), device("d1", capabilities=(Capability.ORGANIZER,)), viewer()],
    ids=lambda p: f"{p.role}-{p.device_id}",
)
def test_peer_of_event_a_cannot_read_or_write_event_b(peer: PeerIdentity, doc: DocName) -> None:
    # device d1 of event A is not device d1 of event B
    assert_denied(may_read(peer, doc), peer.peer_id, B)
    assert_denied(may_write(peer, doc), peer.peer_id, B)


# --- control document ----------------------------------------------------------------


def test_hub_writes_the_control_document() -> None:
    assert_allowed(may_write(hub(), CONTROL_A))


def test_device_with_organizer_capability_writes_control() -> None:
    peer = device("d1", capabilities=(Capability.SCANNER, Capability.ORGANIZER))
    assert_allowed(may_write(peer, CONTROL_A))


@pytest.mark.parametrize(
    "caps",
    [(), (Capability.SCANNER,), (Capability.KIOSK, Capability.PRINTER)],
    ids=lambda c: "+".join(c) or "none",
)
def test_device_without_organizer_may_not_write_control(caps: tuple[Capability, ...]) -> None:
    decision = may_write(device("d1", capabilities=caps), CONTROL_A)
    assert_denied(decision, "d1", "organizer", str(CONTROL_A))


def test_organizer_capability_does_not_grant_other_device_logs() -> None:
    organizer = device("d1", capabilities=(Capability.ORGANIZER,))
    assert_allowed(may_write(organizer, LOG_A_D1))
    assert_denied(may_write(organizer, LOG_A_D2), "d1", "d2")


# --- device logs ---------------------------------------------------------------------


@pytest.mark.parametrize("doc", ALL_A, ids=str)
def test_hub_writes_all_documents_of_its_events(doc: DocName) -> None:
    assert_allowed(may_write(hub(), doc))


def test_device_writes_its_own_log() -> None:
    assert_allowed(may_write(device("d1"), LOG_A_D1))
    assert_allowed(may_write(device("d2"), LOG_A_D2))


def test_device_may_not_write_another_devices_log() -> None:
    decision = may_write(device("d1"), LOG_A_D2)
    assert_denied(decision, "d1", "d2", "log")
    # ... but may read it (an appliance relays other devices' logs)
    assert_allowed(may_read(device("d1"), LOG_A_D2))


def test_device_identity_is_the_device_id_not_the_peer_id() -> None:
    # a peer whose peer_id looks like the device but whose device_id differs
    peer = PeerIdentity(peer_id="d2", role=Role.DEVICE, events=(A,), device_id="d1")
    assert_denied(may_write(peer, LOG_A_D2), "d1", "d2")
    assert_allowed(may_write(peer, LOG_A_D1))


def test_device_id_is_case_sensitive() -> None:
    assert_denied(may_write(device("D1"), LOG_A_D1), "D1", "d1")


# --- viewers -------------------------------------------------------------------------


@pytest.mark.parametrize("doc", ALL_A, ids=str)
def test_viewer_reads_but_never_writes(doc: DocName) -> None:
    peer = viewer()
    assert_allowed(may_read(peer, doc))
    assert_denied(may_write(peer, doc), "signage-3", "viewer", str(doc))


def test_viewer_with_a_device_id_and_organizer_still_never_writes() -> None:
    peer = PeerIdentity(
        peer_id="v",
        role=Role.VIEWER,
        events=(A,),
        device_id="d1",
        capabilities=(Capability.ORGANIZER,),
    )
    assert_denied(may_write(peer, LOG_A_D1), "viewer", str(LOG_A_D1))
    assert_denied(may_write(peer, CONTROL_A), "viewer", str(CONTROL_A))


def test_viewer_of_all_events_still_never_writes() -> None:
    peer = viewer(events=("*",))
    assert_allowed(may_read(peer, CONTROL_B))
    assert_denied(may_write(peer, CONTROL_B), "viewer")


# --- "*" and several events ----------------------------------------------------------


@pytest.mark.parametrize("doc", ALL_A + ALL_B, ids=str)
def test_star_hub_reads_and_writes_every_event(doc: DocName) -> None:
    peer = hub(events=("*",))
    assert peer.in_event(doc.event_id)
    assert_allowed(may_read(peer, doc))
    assert_allowed(may_write(peer, doc))


def test_star_device_is_still_limited_to_its_own_log() -> None:
    peer = device("d1", events=("*",))
    assert_allowed(may_write(peer, LOG_B_D1))
    assert_denied(may_write(peer, LOG_A_D2), "d1", "d2")
    assert_denied(may_write(peer, CONTROL_B), "organizer")


def test_peer_of_several_events() -> None:
    peer = device("d1", events=(A, B))
    assert_allowed(may_write(peer, LOG_A_D1))
    assert_allowed(may_write(peer, LOG_B_D1))
    other = DocName.parse("event/ev-c/device/d1")
    assert_denied(may_read(peer, other), peer.peer_id, "ev-c")


def test_no_events_means_no_access() -> None:
    peer = hub(events=())
    assert_denied(may_read(peer, CONTROL_A), A)
    assert_denied(may_write(peer, CONTROL_A), A)


def test_event_membership_is_exact() -> None:
    # "ev-a" does not grant "ev-ab" or "ev" (no prefix matching)
    peer = hub(events=(A,))
    assert not peer.in_event("ev-ab")
    assert not peer.in_event("ev")
    assert_denied(may_read(peer, DocName.parse("event/ev-ab/control")), "ev-ab")


def test_decision_truthiness() -> None:
    assert Decision(True)
    assert not Decision(False, "no")
    assert Decision(True).reason == ""


def test_a_device_writes_every_shard_of_its_own_log_and_no_other() -> None:
    device = PeerIdentity(peer_id="d1", role=Role.DEVICE, events=("e1",), device_id="d1")
    assert may_write(device, DocName.parse("event/e1/device/d1/3"))
    refused = may_write(device, DocName.parse("event/e1/device/d2/3"))
    assert not refused and "d2" in refused.reason
