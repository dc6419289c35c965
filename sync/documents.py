"""Typed views of an event's two kinds of CRDT document.

* :class:`DeviceLog` — ``event/{id}/device/{device}``: one append-only
  ``Array`` named ``log`` of :data:`~sync.records.DeviceRecord`.
* :class:`ControlDoc` — ``event/{id}/control``: an append-only ``log`` of
  :data:`~sync.records.ControlRecord` (revocations, amendments, grassroots
  decisions) plus three maps for what really is "current value" state and
  changes rarely: ``settings``, ``rooms`` and ``sessions``.

Append-only arrays, because overwritten map keys leave tombstones forever
(research/crdt-sync.md §4) and because "first scan wins" must be decided
from data, not from Yjs' higher-client-id-wins rule.

:func:`observe` turns what a transaction changed (local or remote) into
typed :class:`Change` values for projections.  A value that fails
validation becomes a :class:`Quarantined` change: reported and stored
aside, never raised into the code that applies an update.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import msgspec
from pycrdt import Array, ArrayEvent, Doc, Map, MapEvent, Subscription

from sync.names import DocName
from sync.permissions import Capability, may_append
from sync.protocol import CONTENT_ANY, CONTENT_DOC, CONTENT_TYPE, inserted_items
from sync.records import (
    Amendment,
    ControlRecord,
    Decision,
    DeviceRecord,
    Id,
    Revocation,
    Room,
    Scan,
    Session,
    from_json_value,
    logged_record,
    normalise,
    printable_key,
    storable,
    storable_key,
    to_json_value,
)

JSON = Any
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class RootSpec:
    kind: Literal["log", "map"]
    type: Any  # the msgspec type each item/value must satisfy


DEVICE_ROOTS: dict[str, RootSpec] = {"log": RootSpec("log", DeviceRecord)}
CONTROL_ROOTS: dict[str, RootSpec] = {
    "log": RootSpec("log", ControlRecord),
    "settings": RootSpec("map", Any),
    "rooms": RootSpec("map", Room),
    "sessions": RootSpec("map", Session),
}


def roots_of(name: DocName) -> dict[str, RootSpec]:
    return CONTROL_ROOTS if name.kind == "control" else DEVICE_ROOTS


@dataclass(frozen=True, slots=True)
class Appended:
    """A record appended to a log (by us or, after sync, by its writer)."""

    doc: DocName
    root: str
    record: Any


@dataclass(frozen=True, slots=True)
class Assigned:
    """A map entry set (``value``) or removed (``value is None``)."""

    doc: DocName
    root: str
    key: str
    value: Any


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A value in a document that does not validate; kept aside for staff."""

    doc: DocName
    root: str
    key: str | None
    raw: JSON
    error: str


Change = Appended | Assigned | Quarantined


def validate(spec: RootSpec, value: JSON) -> Any:
    if spec.type is Any:
        msgspec.json.encode(value)  # settings must at least be JSON
        storable(value)
        return normalise(value)
    if spec.kind == "log":
        return logged_record(value, spec.type)
    return from_json_value(value, spec.type)


def checked(record: msgspec.Struct, type_: Any) -> dict[str, JSON]:
    """Round-trip a record through validation before it enters a document."""
    value = to_json_value(record)
    from_json_value(value, type_)
    return value


# --- what a peer may put into a document ---------------------------------------------------


class UpdateRefused(ValueError):
    """A peer's update that does not fit the document, or holds records its writer may not write.

    ``code`` is stable: ``unknown_root``, ``nested_type`` and ``wrong_shape``
    are malformed for our document model (close 4400); ``not_allowed`` is a
    capability refusal (close 4403).  Nothing of the update was stored.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def screen_update(name: DocName, update: bytes, capabilities: frozenset[Capability] | None) -> None:
    """Refuse an update before it is stored: unknown roots, nested types, disallowed record kinds.

    Read from the update's bytes (:func:`sync.protocol.inserted_items`),
    because Yrs only shows what an update holds by applying it, and an
    update must be judged before it is stored and applied.  Pass the part of
    the update the replica lacks (``get_update(update, state)``), so what is
    already here is never judged again.  ``capabilities`` bounds the record
    kinds of a device log (None: the hub, which may write every kind).  In
    the control document only organizers and the hub write at all, and every
    control kind is theirs, so kinds are not looked at there.

    Raises :class:`UpdateRefused`, or :class:`~sync.protocol.ProtocolError`
    if the bytes are not an update.
    """
    roots = roots_of(name)
    check_kinds = capabilities is not None and name.kind == "device"
    for item in inserted_items(update):
        if item.nested or item.content in (CONTENT_TYPE, CONTENT_DOC):
            raise UpdateRefused(
                "nested_type", f"{name} holds plain JSON values; a shared type or subdocument was sent"
            )
        if item.root is not None:
            spec = roots.get(item.root)
            if spec is None:
                raise UpdateRefused(
                    "unknown_root", f"{name} has no root {item.root!r} (only {', '.join(sorted(roots))})"
                )
            if (spec.kind == "map") != (item.key is not None):
                want = "keyed entries" if spec.kind == "map" else "a list"
                raise UpdateRefused("wrong_shape", f"root {item.root!r} of {name} is {want}")
        if check_kinds and item.content == CONTENT_ANY:
            for kind in item.kinds:
                if kind is not None:
                    allowed = may_append(capabilities, "device", kind)
                    if not allowed:
                        raise UpdateRefused("not_allowed", f"device {name.device_id}: {allowed.reason}")


def screen_changes(
    changes: Sequence[Change], capabilities_of: Callable[[str], frozenset[Capability] | None]
) -> tuple[list[Change], list[Quarantined]]:
    """Split off the appended records their log's device may not write: (kept, quarantined).

    The projections' own check (the last of three, see :mod:`sync.permissions`):
    a record can reach a replica relayed by a peer that never checked it.
    ``capabilities_of(device id)`` is None when this replica does not know the
    device's capabilities: then the server it connected to checked them.
    """
    known: dict[str, frozenset[Capability] | None] = {}
    out: list[Change] = []
    refused: list[Quarantined] = []
    for change in changes:
        if isinstance(change, Appended) and change.doc.kind == "device" and change.doc.device_id:
            device = change.doc.device_id
            if device not in known:
                known[device] = capabilities_of(device)
            kind = type(change.record).__struct_config__.tag
            allowed = may_append(known[device], "device", str(kind))
            if not allowed:
                raw = to_json_value(change.record)
                refused.append(
                    Quarantined(change.doc, change.root, None, raw, f"device {device}: {allowed.reason}")
                )
                continue
        out.append(change)
    return out, refused


def changes_of(name: DocName, root: str, spec: RootSpec, event: ArrayEvent | MapEvent) -> Iterator[Change]:
    if isinstance(event, ArrayEvent):
        delta: list[dict[str, Any]] = event.delta  # type: ignore[attr-defined]
        for op in delta:
            inserted = op.get("insert")
            if inserted:
                yield from _appended(name, root, spec, inserted)
        return
    keys: dict[str, dict[str, Any]] = event.keys  # type: ignore[attr-defined]
    for key, change in keys.items():
        if change["action"] == "delete":
            yield Assigned(name, root, key, None)
            continue
        raw = change["newValue"]
        try:
            yield Assigned(name, root, storable_key(key), validate(spec, raw))
        except (msgspec.ValidationError, TypeError) as exc:
            yield Quarantined(name, root, printable_key(key), _jsonable(raw), str(exc))


def _appended(name: DocName, root: str, spec: RootSpec, items: list[Any]) -> Iterator[Change]:
    """Validate inserted log items, all at once when they are all valid.

    A device's Step 2 inserts tens of thousands of records in one event;
    one msgspec call over the list is several times faster than one per
    item.  Only if that fails are the items checked one by one, so the
    invalid ones can be quarantined and the rest kept.
    """
    if spec.type is not Any and all(isinstance(i, dict) and "id" in i and "at" in i for i in items):
        try:
            records: list[Any] = from_json_value(items, list[spec.type])  # type: ignore[name-defined]
        except (msgspec.ValidationError, TypeError):
            pass
        else:
            for record in records:
                yield Appended(name, root, record)
            return
    for raw in items:
        try:
            yield Appended(name, root, validate(spec, raw))
        except (msgspec.ValidationError, TypeError) as exc:
            yield Quarantined(name, root, None, _jsonable(raw), str(exc))


def _jsonable(raw: Any) -> JSON:
    """Shared types (a nested Map an outsider wrote) become plain JSON for the report."""
    to_py = getattr(raw, "to_py", None)
    return to_py() if callable(to_py) else raw


def observe(name: DocName, doc: Doc[Any], sink: Callable[[Change], None]) -> list[Subscription]:
    """Report every change to the document's roots, typed, to ``sink``."""

    def handler(root: str, spec: RootSpec) -> Callable[[Any], None]:
        def on_event(event: Any) -> None:
            for change in changes_of(name, root, spec, event):
                sink(change)

        return on_event

    subscriptions = []
    for root, spec in roots_of(name).items():
        shared = doc.get(root, type=Array if spec.kind == "log" else Map)
        subscriptions.append(shared.observe(handler(root, spec)))
    return subscriptions


def read_all(name: DocName, doc: Doc[Any]) -> Iterator[Change]:
    """Every value currently in the document, as changes (rebuilding a projection)."""
    for root, spec in roots_of(name).items():
        if spec.kind == "log":
            for raw in doc.get(root, type=Array).to_py() or ():
                try:
                    yield Appended(name, root, validate(spec, raw))
                except (msgspec.ValidationError, TypeError) as exc:
                    yield Quarantined(name, root, None, raw, str(exc))
        else:
            for key, raw in (doc.get(root, type=Map).to_py() or {}).items():
                try:
                    yield Assigned(name, root, storable_key(key), validate(spec, raw))
                except (msgspec.ValidationError, TypeError) as exc:
                    yield Quarantined(name, root, printable_key(key), raw, str(exc))


def _valid(items: Any, type_: Any) -> list[Any]:
    """The log records that validate (the others are reported by :func:`observe`)."""
    out = []
    for raw in items or ():
        try:
            out.append(logged_record(raw, type_))
        except (msgspec.ValidationError, TypeError):
            continue
    return out


def _valid_map(shared: Map[Any], type_: type[R]) -> dict[str, R]:
    out: dict[str, R] = {}
    for key, raw in (shared.to_py() or {}).items():
        try:
            out[storable_key(key)] = from_json_value(raw, type_)
        except (msgspec.ValidationError, TypeError):
            continue
    return out


class DeviceLog:
    """``event/{id}/device/{device}``: what one device saw and did, in order."""

    def __init__(self, doc: Doc[Any]) -> None:
        self.doc = doc
        self._log = doc.get("log", type=Array)

    def append(self, record: DeviceRecord) -> DeviceRecord:
        self._log.append(checked(record, DeviceRecord))
        return record

    def extend_checked(self, values: list[dict[str, JSON]]) -> None:
        """Append records already through :func:`checked` in one insert (one observer event).

        For :meth:`sync.replica.Replica.log`, which checks each record as it
        arrives so a bad one fails its caller alone, and must not pay for the
        check twice on the scan path.
        """
        self._log.extend(values)

    def append_scan(self, **fields: Any) -> Scan:
        scan = Scan(**fields)
        self.append(scan)
        return scan

    def __len__(self) -> int:
        return len(self._log)

    def records(self) -> list[DeviceRecord]:
        """Valid records in log order (invalid ones are reported by :func:`observe`)."""
        return _valid(self._log.to_py(), DeviceRecord)


class ControlDoc:
    """``event/{id}/control``: what the hub and organizers decide for the event."""

    def __init__(self, doc: Doc[Any]) -> None:
        self.doc = doc
        self._log = doc.get("log", type=Array)
        self._settings = doc.get("settings", type=Map)
        self._rooms = doc.get("rooms", type=Map)
        self._sessions = doc.get("sessions", type=Map)

    def append(self, record: ControlRecord) -> ControlRecord:
        self._log.append(checked(record, ControlRecord))
        return record

    def revoke(
        self,
        target: Literal["badge", "attendee", "key", "device"],
        value: str,
        reason: str = "",
        by: str | None = None,
    ) -> Revocation:
        record = Revocation(target=target, value=value, reason=reason, by=by)
        self.append(record)
        return record

    def amend(self, attendee_id: str, field: Any, value: str, by: str | None = None) -> Amendment:
        record = Amendment(attendee_id=attendee_id, field=field, value=value, by=by)
        self.append(record)
        return record

    def decide(self, proposal_id: str, decision: Any, **fields: Any) -> Decision:
        record = Decision(proposal_id=proposal_id, decision=decision, **fields)
        self.append(record)
        return record

    def set_setting(self, key: str, value: JSON) -> None:
        msgspec.json.encode(value)
        self._settings[key] = value

    def put_room(self, room: Room) -> None:
        self._rooms[room.id] = checked(room, Room)

    def remove_room(self, room_id: Id) -> None:
        self._rooms.pop(room_id, None)

    def put_session(self, session: Session) -> None:
        self._sessions[session.id] = checked(session, Session)

    def remove_session(self, session_id: Id) -> None:
        self._sessions.pop(session_id, None)

    def _log_of(self, type_: type[Any]) -> list[Any]:
        return [r for r in _valid(self._log.to_py(), ControlRecord) if isinstance(r, type_)]

    def revocations(self) -> list[Revocation]:
        return self._log_of(Revocation)

    def amendments(self) -> list[Amendment]:
        return self._log_of(Amendment)

    def decisions(self) -> list[Decision]:
        return self._log_of(Decision)

    def settings(self) -> dict[str, JSON]:
        return {k: normalise(v) for k, v in (self._settings.to_py() or {}).items()}

    def rooms(self) -> dict[str, Room]:
        return _valid_map(self._rooms, Room)

    def sessions(self) -> dict[str, Session]:
        return _valid_map(self._sessions, Session)
