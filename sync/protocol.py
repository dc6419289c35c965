"""The y-protocols wire format, decoded strictly.

A frame is ``varUint outer-type`` followed by a body (y-protocols ``sync.js`` and
y-websocket).  Sync bodies are ``varUint sync-type`` + ``varUint8Array payload``;
awareness bodies are one ``varUint8Array``.  pycrdt ships helpers for this, but
they trust their input: a truncated varint or a 4 GiB length prefix from a
hostile peer would reach Yrs or allocate memory before anything checks it.
Everything a peer sends passes through :func:`decode` first, which rejects
anything that is not exactly one well-formed message under the size cap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum

#: The default cap on one message (y-websocket has none).  A scan takes
#: 120-190 bytes in a device log, so 16 MiB carries a Step 2 of roughly
#: 90,000-135,000 scans; docs/architecture.md, "Limits", says what happens past that.
DEFAULT_MAX_MESSAGE = 16 * 1024 * 1024

#: The largest frame the WebSocket server itself takes in (uvicorn's ``ws_max_size``): twice
#: our cap, so a message over the cap still reaches :func:`decode` and is refused with close
#: code 4413 and a reason.  A frame past this ceiling is cut off by the transport (1009,
#: "message too big") before we see it: without a ceiling a peer could make the server
#: buffer any amount of memory.
TRANSPORT_MAX_FRAME = 2 * DEFAULT_MAX_MESSAGE

#: lib0 varints are JavaScript numbers: anything above 2**53 - 1 cannot be
#: produced by a real Yjs peer, so it is treated as corruption.
MAX_VAR_UINT = 2**53 - 1
_MAX_VAR_UINT_BYTES = 8


class MessageType(IntEnum):
    SYNC = 0
    AWARENESS = 1
    AUTH = 2
    QUERY_AWARENESS = 3


class SyncType(IntEnum):
    STEP1 = 0
    STEP2 = 1
    UPDATE = 2


class ProtocolError(ValueError):
    """A frame that is not a well-formed y-protocols message.

    ``code`` is stable and machine-readable; the message is for people.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class MessageTooLarge(ProtocolError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__("too_large", f"message of {size} bytes exceeds the limit of {limit} bytes")
        self.size = size
        self.limit = limit


@dataclass(frozen=True, slots=True)
class SyncMessage:
    kind: SyncType
    payload: bytes


@dataclass(frozen=True, slots=True)
class AwarenessMessage:
    payload: bytes


@dataclass(frozen=True, slots=True)
class QueryAwarenessMessage:
    pass


@dataclass(frozen=True, slots=True)
class AuthMessage:
    """y-protocols ``auth.js``: the only defined reply is "permission denied" (0)."""

    denied: bool
    reason: str


Message = SyncMessage | AwarenessMessage | QueryAwarenessMessage | AuthMessage


def write_var_uint(value: int) -> bytes:
    if value < 0 or value > MAX_VAR_UINT:
        raise ValueError(f"varUint out of range: {value}")
    out = bytearray()
    while value > 0x7F:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


def read_var_uint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    """Read one lib0 varUint at ``pos``; return ``(value, next position)``."""
    value = 0
    shift = 0
    for i in range(_MAX_VAR_UINT_BYTES):
        if pos + i >= len(buf):
            raise ProtocolError("truncated", "truncated varint: the message ends inside a number")
        byte = buf[pos + i]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            if value > MAX_VAR_UINT:
                raise ProtocolError("bad_varint", "varint exceeds 2**53 - 1")
            return value, pos + i + 1
        shift += 7
    raise ProtocolError("bad_varint", "varint longer than 8 bytes")


def read_var_bytes(buf: bytes | memoryview, pos: int) -> tuple[bytes, int]:
    length, pos = read_var_uint(buf, pos)
    end = pos + length
    if end > len(buf):
        raise ProtocolError(
            "truncated", f"length prefix says {length} bytes but only {len(buf) - pos} follow"
        )
    return bytes(buf[pos:end]), end


def write_var_bytes(data: bytes) -> bytes:
    return write_var_uint(len(data)) + data


def encode(message: Message) -> bytes:
    match message:
        case SyncMessage(kind, payload):
            return bytes((MessageType.SYNC, kind)) + write_var_bytes(payload)
        case AwarenessMessage(payload):
            return bytes((MessageType.AWARENESS,)) + write_var_bytes(payload)
        case QueryAwarenessMessage():
            return bytes((MessageType.QUERY_AWARENESS,))
        case AuthMessage(denied, reason):
            return bytes((MessageType.AUTH, 0 if denied else 1)) + write_var_bytes(reason.encode())
    raise TypeError(f"not a message: {message!r}")


def step1(state_vector: bytes) -> bytes:
    return encode(SyncMessage(SyncType.STEP1, state_vector))


def step2(update: bytes) -> bytes:
    return encode(SyncMessage(SyncType.STEP2, update))


def update_message(update: bytes) -> bytes:
    return encode(SyncMessage(SyncType.UPDATE, update))


def decode(frame: bytes, max_size: int = DEFAULT_MAX_MESSAGE) -> Message:
    """Decode exactly one message; raise :class:`ProtocolError` on anything else."""
    if len(frame) > max_size:
        raise MessageTooLarge(len(frame), max_size)
    if not frame:
        raise ProtocolError("empty", "empty message")
    outer, pos = read_var_uint(frame, 0)
    message: Message
    if outer == MessageType.SYNC:
        kind, pos = read_var_uint(frame, pos)
        if kind not in (SyncType.STEP1, SyncType.STEP2, SyncType.UPDATE):
            raise ProtocolError("unknown_sync_type", f"unknown sync message type {kind}")
        payload, pos = read_var_bytes(frame, pos)
        if kind == SyncType.STEP1:
            decode_state_vector(payload)
        message = SyncMessage(SyncType(kind), payload)
    elif outer == MessageType.AWARENESS:
        payload, pos = read_var_bytes(frame, pos)
        decode_awareness(payload)
        message = AwarenessMessage(payload)
    elif outer == MessageType.QUERY_AWARENESS:
        message = QueryAwarenessMessage()
    elif outer == MessageType.AUTH:
        kind, pos = read_var_uint(frame, pos)
        reason, pos = read_var_bytes(frame, pos)
        message = AuthMessage(kind == 0, reason.decode("utf-8", "replace"))
    else:
        raise ProtocolError("unknown_type", f"unknown message type {outer}")
    if pos != len(frame):
        raise ProtocolError("trailing_bytes", f"{len(frame) - pos} unexpected bytes after the message")
    return message


StateVector = dict[int, int]


def decode_state_vector(data: bytes) -> StateVector:
    """Decode a v1 state vector: ``varUint n`` then n x (client, clock)."""
    count, pos = read_var_uint(data, 0)
    if count > len(data):  # each entry needs at least two bytes
        raise ProtocolError("truncated", f"state vector claims {count} entries in {len(data)} bytes")
    sv: StateVector = {}
    for _ in range(count):
        client, pos = read_var_uint(data, pos)
        clock, pos = read_var_uint(data, pos)
        sv[client] = clock
    if pos != len(data):
        raise ProtocolError("trailing_bytes", "unexpected bytes after the state vector")
    return sv


def encode_state_vector(sv: StateVector) -> bytes:
    out = bytearray(write_var_uint(len(sv)))
    for client, clock in sorted(sv.items()):
        out += write_var_uint(client) + write_var_uint(clock)
    return bytes(out)


@dataclass(frozen=True, slots=True)
class AwarenessEntry:
    client_id: int
    clock: int
    state: object  # the decoded JSON; None means the client left


def decode_awareness(payload: bytes) -> list[AwarenessEntry]:
    """Validate an awareness update (it is relayed verbatim, so it must be sound)."""
    count, pos = read_var_uint(payload, 0)
    if count > len(payload):
        raise ProtocolError("truncated", f"awareness update claims {count} entries in {len(payload)} bytes")
    entries = []
    for _ in range(count):
        client, pos = read_var_uint(payload, pos)
        clock, pos = read_var_uint(payload, pos)
        raw, pos = read_var_bytes(payload, pos)
        try:
            # lib0 strings are UTF-8 and JSON.parse knows no NaN: be exactly as strict,
            # since this payload is relayed verbatim to JavaScript peers.
            state = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ProtocolError("bad_awareness", f"awareness state is not JSON: {exc}") from None
        entries.append(AwarenessEntry(client, clock, state))
    if pos != len(payload):
        raise ProtocolError("trailing_bytes", "unexpected bytes after the awareness update")
    return entries


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


DeleteSet = dict[int, list[tuple[int, int]]]


def read_delete_set(data: bytes, pos: int) -> tuple[DeleteSet, int]:
    """Read a v1 delete set: per client, ranges of (clock, length)."""
    clients, pos = read_var_uint(data, pos)
    ds: DeleteSet = {}
    for _ in range(clients):
        client, pos = read_var_uint(data, pos)
        n, pos = read_var_uint(data, pos)
        ranges = ds.setdefault(client, [])
        for _ in range(n):
            clock, pos = read_var_uint(data, pos)
            length, pos = read_var_uint(data, pos)
            ranges.append((clock, length))
    return ds, pos


def delete_set_of_diff(diff: bytes) -> DeleteSet | None:
    """Return the delete set of a v1 update that carries no structs, else None.

    Used on the result of ``get_update(update, our_state)``: if nothing but a
    delete set remains, the update adds no content we lack.
    """
    groups, pos = read_var_uint(diff, 0)
    if groups:
        return None
    ds, pos = read_delete_set(diff, pos)
    return ds


def delete_set_covers(ours: DeleteSet, theirs: DeleteSet) -> bool:
    """True if every range deleted in ``theirs`` is already deleted in ``ours``."""
    for client, ranges in theirs.items():
        have = sorted(ours.get(client, []))
        for clock, length in ranges:
            if length == 0:
                continue
            start, end = clock, clock + length
            for h_clock, h_len in have:
                if h_clock <= start < h_clock + h_len:
                    start = h_clock + h_len
                    if start >= end:
                        break
            if start < end:
                return False
    return True


# --- reading what an update inserts, without applying it ----------------------------------
#
# A peer's update must be judged before it is stored (DESIGN.md §2: stored before
# applied, and our state vector is an acknowledgement), and Yrs only reveals what
# an update holds by applying it.  So the v1 struct encoding is read here, as
# yjs' ``encoding.js`` writes it: enough to see which root each new item names,
# whether it is a map entry, what kind of content it carries and, for
# ``ContentAny`` (what pycrdt and yjs write for plain values), the ``kind`` of
# each JSON object.  Everything else is skipped, not decoded: this runs on every
# update a device sends, and a 2,000-record shard must cost a few milliseconds.

#: Item content references (yjs ``readItemContent``).
CONTENT_DELETED = 1
CONTENT_JSON = 2
CONTENT_BINARY = 3
CONTENT_STRING = 4
CONTENT_EMBED = 5
CONTENT_FORMAT = 6
CONTENT_TYPE = 7
CONTENT_ANY = 8
CONTENT_DOC = 9
_GC = 0
_SKIP = 10
#: Nesting deeper than this in one value is refused (a hostile peer's stack bomb).
MAX_ANY_DEPTH = 64


@dataclass(frozen=True, slots=True)
class InsertedItem:
    """One item an update inserts, as far as its bytes say.

    ``root`` is the root it names, or None when its parent is inferred from
    a neighbour (every item but the first of a run) or is a nested shared
    type (``nested``).  ``kinds`` has one entry per value of ``ContentAny``:
    the object's ``kind`` if it is an object with a string ``kind``, else None.
    """

    root: str | None
    nested: bool
    key: str | None
    content: int
    kinds: tuple[str | None, ...] = ()


def _uint(buf: bytes, pos: int) -> tuple[int, int]:
    byte = buf[pos]
    if byte < 0x80:
        return byte, pos + 1
    return read_var_uint(buf, pos)


def _string(buf: bytes, pos: int) -> tuple[str, int]:
    n, pos = _uint(buf, pos)
    end = pos + n
    if end > len(buf):
        raise ProtocolError("bad_update", "the update ends inside a string")
    try:
        return buf[pos:end].decode("utf-8"), end
    except UnicodeDecodeError:
        raise ProtocolError("bad_update", "a string in the update is not UTF-8") from None


_FIXED = {124: 4, 123: 8, 122: 8}  # float32, float64, bigint64


def _skip_any(buf: bytes, pos: int, depth: int) -> int:
    """Skip one lib0 ``writeAny`` value; return the position after it."""
    if depth > MAX_ANY_DEPTH:
        raise ProtocolError("bad_update", f"a value nests deeper than {MAX_ANY_DEPTH} levels")
    tag = buf[pos]
    pos += 1
    if tag in (119, 116):  # string, Uint8Array: length-prefixed
        n, pos = _uint(buf, pos)
        return pos + n
    if tag == 118:  # object: n x (key, value)
        n, pos = _uint(buf, pos)
        for _ in range(n):
            k, pos = _uint(buf, pos)
            pos = _skip_any(buf, pos + k, depth + 1)
        return pos
    if tag == 117:  # array
        n, pos = _uint(buf, pos)
        for _ in range(n):
            pos = _skip_any(buf, pos, depth + 1)
        return pos
    if tag == 125:  # varInt: at most 8 bytes, like varUint
        for i in range(_MAX_VAR_UINT_BYTES):
            if buf[pos + i] < 0x80:
                return pos + i + 1
        raise ProtocolError("bad_update", "varint longer than 8 bytes")
    if tag in _FIXED:
        return pos + _FIXED[tag]
    if tag in (127, 126, 121, 120):  # undefined, null, false, true
        return pos
    raise ProtocolError("bad_update", f"unknown value type {tag} in the update")


def _kind_of(buf: bytes, pos: int) -> tuple[str | None, int]:
    """A top-level value's ``kind`` (an object's string ``kind`` field), and the position after it."""
    if buf[pos] != 118:
        return None, _skip_any(buf, pos, 0)
    kind = None
    n, pos = _uint(buf, pos + 1)
    for _ in range(n):
        k, pos = _uint(buf, pos)
        key_end = pos + k
        if buf[pos:key_end] == b"kind" and buf[key_end] == 119:
            kind, pos = _string(buf, key_end + 1)
        else:
            pos = _skip_any(buf, key_end, 1)
    return kind, pos


def inserted_items(update: bytes) -> list[InsertedItem]:
    """Every item a v1 update inserts; :class:`ProtocolError` (``bad_update``) if it does not decode.

    The delete set that follows the structs is read too, and nothing may
    follow it.  Every loop reads at least one byte per turn, so a hostile
    count runs into the end of the update, not into memory.
    """
    try:
        items, pos = _read_structs(update)
        pos = _skip_delete_set(update, pos)
    except IndexError:
        raise ProtocolError("bad_update", "the update ends inside a struct") from None
    if pos != len(update):
        raise ProtocolError("bad_update", "the update's lengths do not add up to its size")
    return items


def _read_structs(buf: bytes) -> tuple[list[InsertedItem], int]:
    items: list[InsertedItem] = []
    clients, pos = _uint(buf, 0)
    for _ in range(clients):
        structs, pos = _uint(buf, pos)
        _, pos = _uint(buf, pos)  # client
        _, pos = _uint(buf, pos)  # first clock
        for _ in range(structs):
            info = buf[pos]
            pos += 1
            ref = info & 0x1F
            if ref in (_GC, _SKIP):
                _, pos = _uint(buf, pos)  # length
                continue
            has_origin, has_right = bool(info & 0x80), bool(info & 0x40)
            for _ in range(2 * has_origin + 2 * has_right):  # (client, clock) ids
                _, pos = _uint(buf, pos)
            root: str | None = None
            nested = False
            key: str | None = None
            if not (has_origin or has_right):
                named, pos = _uint(buf, pos)
                if named == 1:
                    root, pos = _string(buf, pos)
                else:
                    _, pos = _uint(buf, pos)  # the parent item's id
                    _, pos = _uint(buf, pos)
                    nested = True
                if info & 0x20:
                    key, pos = _string(buf, pos)
            kinds: tuple[str | None, ...] = ()
            if ref == CONTENT_ANY:
                n, pos = _uint(buf, pos)
                found = []
                for _ in range(n):
                    kind, pos = _kind_of(buf, pos)
                    found.append(kind)
                kinds = tuple(found)
            else:
                pos = _skip_content(buf, pos, ref)
            items.append(InsertedItem(root, nested, key, ref, kinds))
    return items, pos


def _skip_content(buf: bytes, pos: int, ref: int) -> int:
    if ref == CONTENT_DELETED:
        return _uint(buf, pos)[1]
    if ref == CONTENT_JSON:
        n, pos = _uint(buf, pos)
        for _ in range(n):
            k, pos = _uint(buf, pos)
            pos += k
        return pos
    if ref in (CONTENT_BINARY, CONTENT_STRING, CONTENT_EMBED):
        k, pos = _uint(buf, pos)
        return pos + k
    if ref == CONTENT_FORMAT:
        for _ in range(2):
            k, pos = _uint(buf, pos)
            pos += k
        return pos
    if ref == CONTENT_TYPE:
        type_ref, pos = _uint(buf, pos)
        if type_ref in (3, 5):  # YXmlElement, YXmlHook carry a name
            k, pos = _uint(buf, pos)
            pos += k
        return pos
    if ref == CONTENT_DOC:
        k, pos = _uint(buf, pos)
        return _skip_any(buf, pos + k, 0)
    raise ProtocolError("bad_update", f"unknown content type {ref} in the update")


def _skip_delete_set(buf: bytes, pos: int) -> int:
    clients, pos = _uint(buf, pos)
    for _ in range(clients):
        _, pos = _uint(buf, pos)
        ranges, pos = _uint(buf, pos)
        for _ in range(2 * ranges):
            _, pos = _uint(buf, pos)
    return pos
