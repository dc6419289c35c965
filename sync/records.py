"""The records that live in an event's CRDT documents, as msgspec structs.

Every record is validated twice: when a local writer appends it (a bug
fails loudly, before anything is stored) and when it is read back from a
document, because remote peers and third-party Yjs clients can put any JSON
in an array.  Records are stored as plain JSON objects so a JavaScript
``yjs`` reader sees ordinary data; ``kind`` tags the variant.

Times are integer milliseconds since the epoch.  Yjs hands numbers back as
floats, so decoding runs in msgspec's lax mode, which turns an integral
float back into an ``int`` and still rejects ``5.5``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

import msgspec

# The schedule's shapes: the control document stores them, konferenco.schedule owns them.
from konferenco.schedule.model import Room as Room
from konferenco.schedule.model import Session as Session
from konferenco.types import Millis, new_id, now_ms

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+\Z")]
Text = Annotated[str, msgspec.Meta(max_length=500)]
ShortText = Annotated[str, msgspec.Meta(max_length=120)]
BadgeCode = Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
CapabilityName = Annotated[str, msgspec.Meta(max_length=32)]


class Record(msgspec.Struct, kw_only=True, frozen=True, tag_field="kind", omit_defaults=True):
    """Common to every logged record: a unique id and the writer's clock."""

    id: Id = msgspec.field(default_factory=new_id)
    at: Millis = msgspec.field(default_factory=now_ms)


# --- device log records (written by one device alone) -----------------------------------

ScanResult = Literal[
    "admitted",
    "already_admitted",
    "invalid",
    "revoked",
    "not_yet_valid",
    "expired",
    "wrong_list",
    "unknown_badge",
    "room_full",
]


class Scan(Record, kw_only=True, frozen=True, tag="scan"):
    """One badge presented at a gate, admitted or not (every scan is kept)."""

    nonce: Id
    gate: ShortText
    direction: Literal["entry", "exit"] = "entry"
    result: ScanResult
    reason: Text = ""
    code: BadgeCode | None = None
    nfc_uid: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    attendee_id: Id | None = None
    list_id: Id | None = None
    device_time: Millis | None = None
    staff: Id | None = None


class Annulment(Record, kw_only=True, frozen=True, tag="annulment"):
    """Staff undid a check-in; the scan itself stays in the log."""

    scan_id: Id
    reason: Text = ""
    staff: Id | None = None


class BadgePrint(Record, kw_only=True, frozen=True, tag="print"):
    job_id: Id
    attendee_id: Id
    printer: ShortText
    status: Literal["done", "failed", "uncertain"]
    reason: Text = ""


class WalkIn(Record, kw_only=True, frozen=True, tag="walk_in"):
    """An attendee registered at the desk; their badge is signed by the device key."""

    attendee_id: Id
    name: Text
    company: Text = ""
    email: Text = ""
    ticket_type_id: Id
    badge_code: BadgeCode | None = None
    nfc_uid: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    staff: Id | None = None


class TagLink(Record, kw_only=True, frozen=True, tag="tag_link"):
    """An NFC tag (wristband, card) handed to an attendee at this device.

    For one tag, the latest link wins on every replica (ordered by time,
    then document and record id), so a tag can be handed out again.
    """

    attendee_id: Id
    nfc_uid: Annotated[str, msgspec.Meta(pattern=r"^([0-9A-F]{2}){4,10}\Z")]
    staff: Id | None = None


class DeviceKey(Record, kw_only=True, frozen=True, tag="device_key"):
    """The key this device signs walk-in badges with, certified by an event key.

    Published in the device's own log so every peer learns it and can verify
    walk-in badges offline; peers trust it only if the certificate checks out.
    """

    public_key: Annotated[str, msgspec.Meta(max_length=64)]  # base64, raw Ed25519
    not_after: Millis  # seconds since the epoch; 0 = no expiry
    signature: Annotated[str, msgspec.Meta(max_length=128)]  # base64, by an event key
    #: What the device may write, certified with the key (empty: a certificate from before 0.3).
    capabilities: Annotated[list[CapabilityName], msgspec.Meta(max_length=8)] = []


class Proposal(Record, kw_only=True, frozen=True, tag="proposal"):
    """A grassroots session an attendee proposed at this device.

    ``proposer`` is the attendee the device identified by a badge scan
    (never a typed name); ``ref`` is the short reference shown to them.
    """

    proposal_id: Id
    title: Text
    host: Text  # the host's name as it will be shown
    description: Annotated[str, msgspec.Meta(max_length=4000)] = ""
    proposer: Id | None = None
    ref: ShortText = ""
    duration_min: Annotated[int, msgspec.Meta(ge=5, le=24 * 60)] = 60
    attendance: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] | None = None
    wished_rooms: Annotated[list[Id], msgspec.Meta(max_length=20)] = []
    wished_from: Millis | None = None
    wished_to: Millis | None = None
    type: ShortText = "grassroots"
    language: Annotated[str, msgspec.Meta(max_length=16)] = ""
    staff: Id | None = None


class HostEdit(Record, kw_only=True, frozen=True, tag="host_edit"):
    """A grassroots host changed their session's title or description at a kiosk (badge scanned).

    Kept in the device's log (a kiosk may not write the control document);
    every replica lays the latest edit, by ``(at, id)``, over the session,
    and only if ``attendee_id`` is the session's host.
    """

    session_id: Id
    attendee_id: Id
    title: Text | None = None
    description: Annotated[str, msgspec.Meta(max_length=4000)] | None = None


class PeerRefused(Record, kw_only=True, frozen=True, tag="peer_refused"):
    """This device refused a sync peer that could not prove it belongs to the event.

    Written so the organizer learns of rogue boxes on the venue LAN from the
    hub's console, not only from the box's ``/healthz``.
    """

    peer: ShortText  # the upstream's URL, or what an incoming peer presented itself as
    direction: Literal["upstream", "incoming"]
    reason: Text = ""


DeviceRecord = (
    Scan | Annulment | BadgePrint | WalkIn | Proposal | HostEdit | DeviceKey | TagLink | PeerRefused
)


# --- control document records (hub and organizer devices) --------------------------------


class Revocation(Record, kw_only=True, frozen=True, tag="revocation"):
    """A badge, an attendee or a signing key that must no longer be admitted."""

    target: Literal["badge", "attendee", "key", "device"]
    value: Id
    reason: Text = ""
    by: Id | None = None


class Amendment(Record, kw_only=True, frozen=True, tag="amendment"):
    """A roster correction made on site (e.g. a name's spelling)."""

    attendee_id: Id
    field: Literal["name", "company", "email", "ticket_type_id"]
    value: Text
    by: Id | None = None


class Decision(Record, kw_only=True, frozen=True, tag="decision"):
    """An organizer's decision on a grassroots proposal.

    ``scheduled`` (``accepted`` from before 0.4 means the same) approves it
    into ``session_id`` in a room and slot; ``withdrawn`` takes an approval
    back.  Which decision counts when two devices decided offline is
    :mod:`konferenco.schedule.grassroots`' rule.
    """

    proposal_id: Id
    decision: Literal["accepted", "rejected", "scheduled", "withdrawn"]
    room_id: Id | None = None
    starts_at: Millis | None = None
    ends_at: Millis | None = None
    by: Id | None = None
    session_id: Id | None = None
    reason: Text = ""
    overlap_reason: Text = ""  # set when the organizer approved an overlap explicitly


ControlRecord = Revocation | Amendment | Decision

R = TypeVar("R")


def to_json_value(record: msgspec.Struct) -> dict[str, Any]:
    """The JSON object stored in the document (what a Yjs client sees)."""
    value = msgspec.to_builtins(record)
    assert isinstance(value, dict)
    return value


def normalise(value: Any) -> Any:
    """Undo Yjs' numbers-are-doubles for free-form JSON: ``5.0`` becomes ``5``."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def from_json_value(value: Any, type_: type[R] | Any) -> R:
    """Validate a value read from a document; raise ``msgspec.ValidationError``."""
    storable(value)
    return msgspec.convert(value, type_, strict=False)


#: A NUL character in JSON text: ``\u0000`` after an even number of backslashes (a literal
#: backslash before "u0000" is escaped itself, and is text, not a NUL).
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


_NUL_WHY = "a NUL character (U+0000), which no database here can store"


def storable(value: Any) -> None:
    """Raise ``msgspec.ValidationError`` if a text inside ``value`` holds a NUL character.

    The HTTP APIs refuse NUL at the edge (konferenco/edge_input.py), but a
    peer's update carries whatever its writer put in: a JavaScript string
    may hold U+0000, PostgreSQL cannot store it (one such record made the
    hub refuse the device's whole log, again at every retry), and SQLite and
    C libraries cut text at it.  Such a value is quarantined like any other
    invalid one.  One C-speed encode of the value, so a 2,000-record batch
    pays well under a millisecond.  (Lone surrogates cannot arrive: Yjs
    strings travel as UTF-8.)
    """
    try:
        encoded = msgspec.json.encode(value)
    except (TypeError, UnicodeEncodeError):
        return  # not plain JSON: the conversion that follows says why
    if b"u0000" in encoded and _NUL_ESCAPE.search(encoded):
        raise msgspec.ValidationError(
            "a text holds a NUL character (U+0000), which no database here can store"
        )


def storable_key(key: str) -> str:
    """A map key, or ``msgspec.ValidationError`` if it holds NUL (see :func:`storable`)."""
    if "\x00" in key:
        raise msgspec.ValidationError(
            "the key holds a NUL character (U+0000), which no database here can store"
        )
    return key


def printable_key(key: str) -> str:
    """A key fit for a report (the quarantine table): NUL shown as U+FFFD."""
    return key.replace("\x00", "\ufffd")


def logged_record(value: Any, type_: Any) -> Any:
    """Validate a record read from a log.

    ``id`` and ``at`` have defaults for writers, but a stored record must
    carry them: filled in on read they would change at every read, and a
    projection keyed by id would count the record again each time.
    """
    record = from_json_value(value, type_)
    missing = [field for field in ("id", "at") if field not in value]
    if missing:
        raise msgspec.ValidationError(f"Object missing required field `{missing[0]}`")
    return record
