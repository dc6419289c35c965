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
