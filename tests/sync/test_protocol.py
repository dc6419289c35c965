"""Byte-level tests of the y-protocols framing in :mod:`sync.protocol`.

Every expected byte string below is derived by hand from the spec (lib0
``encoding.js`` and y-protocols ``sync.js`` / ``awareness.js`` / ``auth.js``),
never copied from the output of the code under test:

* varUint: little-endian base-128, 7 payload bits per byte, bit 0x80 set on
  every byte except the last.
* frame: varUint message type (0 sync, 1 awareness, 2 auth, 3 query awareness) + body.
* sync body: varUint sync type (0 step1, 1 step2, 2 update) + varUint8Array.
* varUint8Array / varString: varUint length + the bytes.
"""

from __future__ import annotations

import json

import pycrdt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pycrdt import Array, Doc, Map, Text

from sync.protocol import (
    DEFAULT_MAX_MESSAGE,
    MAX_VAR_UINT,
    AuthMessage,
    AwarenessEntry,
    AwarenessMessage,
    MessageTooLarge,
    ProtocolError,
    QueryAwarenessMessage,
    SyncMessage,
    SyncType,
    decode,
    decode_awareness,
    decode_state_vector,
    delete_set_covers,
    delete_set_of_diff,
    encode,
    encode_state_vector,
    read_var_bytes,
    read_var_uint,
    step1,
    step2,
    update_message,
    write_var_bytes,
    write_var_uint,
)

H = bytes.fromhex


def rejects(frame: bytes, code: str, **kwargs: int) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        decode(frame, **kwargs)
    assert info.value.code == code, (info.value.code, str(info.value))
    assert str(info.value), "a rejection must carry a human-readable message"
    return info.value


# --- varUint ---------------------------------------------------------------------------

VAR_UINT_VECTORS = [
    # 0 fits in 7 bits, no continuation
    (0, "00"),
    # 1 → 0b0000001
    (1, "01"),
    # 127 = 0b1111111, the largest one-byte value
    (127, "7f"),
    # 128 = 0b1_0000000 → low 7 bits 0000000 | 0x80 = 80, then 1 → 01
    (128, "8001"),
    # 300 = 0b10_0101100 → 0101100 | 0x80 = ac, then 10 = 02
    (300, "ac02"),
    # 16383 = 2**14 - 1 = 0b1111111_1111111 → ff 7f
    (16383, "ff7f"),
    # 16384 = 2**14 = 0b1_0000000_0000000 → 80 80 01
    (16384, "808001"),
    # 2**21 - 1 = three full groups → ff ff 7f
    (2**21 - 1, "ffff7f"),
    # 2**53 - 1 = 53 one bits: 7 full groups (7 * 7 = 49 bits) → ff * 7,
    # then the remaining 4 bits 0b1111 = 0f without continuation
    (2**53 - 1, "ffffffffffffff0f"),
]


@pytest.mark.parametrize(("value", "hex_"), VAR_UINT_VECTORS)
def test_var_uint_vectors(value: int, hex_: str) -> None:
    assert write_var_uint(value) == H(hex_)
    assert read_var_uint(H(hex_), 0) == (value, len(H(hex_)))


def test_var_uint_max_is_javascript_safe_integer() -> None:
    assert MAX_VAR_UINT == 2**53 - 1


def test_read_var_uint_at_offset_returns_next_position() -> None:
    # a junk byte, then 300 (ac 02), then one more byte
    value, pos = read_var_uint(H("ffac0205"), 1)
    assert (value, pos) == (300, 3)


@pytest.mark.parametrize("value", [-1, 2**53, 2**64])
def test_write_var_uint_rejects_out_of_range(value: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        write_var_uint(value)


def test_read_var_uint_rejects_above_max_safe_integer() -> None:
    # 2**53: bit 53 lies in the 8th group (bits 49..55) at position 53 - 49 = 4 → 0x10;
    # the seven groups below it are zero with continuation → 80 * 7
    with pytest.raises(ProtocolError) as info:
        read_var_uint(H("8080808080808010"), 0)
    assert info.value.code == "bad_varint"
    # 2**56 - 1 = eight full groups: ff * 7 then 7f (still only 8 bytes)
    with pytest.raises(ProtocolError) as info:
        read_var_uint(H("ffffffffffffff7f"), 0)
    assert info.value.code == "bad_varint"


def test_read_var_uint_rejects_more_than_eight_bytes() -> None:
    # nine bytes: eight with the continuation bit, then a terminator
    with pytest.raises(ProtocolError) as info:
        read_var_uint(H("808080808080808001"), 0)
    assert info.value.code == "bad_varint"
    assert "8 bytes" in str(info.value)


@pytest.mark.parametrize(
    "data",
    [
        "",  # nothing at all
        "80",  # continuation bit on the only byte
        "ff",
        "ac",  # first byte of 300 without its 02
        "ffffffffffffff",  # seven continuation bytes, then the end
    ],
)
def test_read_var_uint_truncated(data: str) -> None:
    with pytest.raises(ProtocolError) as info:
        read_var_uint(H(data), 0)
    assert info.value.code == "truncated"


def test_var_bytes() -> None:
    # length 3 → 03, then the bytes
    assert write_var_bytes(b"abc") == H("03616263")
    assert read_var_bytes(H("0361626399"), 0) == (b"abc", 4)
    # an empty array is just the zero length
    assert write_var_bytes(b"") == H("00")
    with pytest.raises(ProtocolError) as info:
        read_var_bytes(H("056162"), 0)  # says 5 bytes, 2 follow
    assert info.value.code == "truncated"


@given(st.integers(min_value=0, max_value=2**53 - 1))
def test_var_uint_round_trip_and_matches_pycrdt(value: int) -> None:
    data = write_var_uint(value)
    assert data == pycrdt.write_var_uint(value)
    assert 1 <= len(data) <= 8
    assert all(b & 0x80 for b in data[:-1]) and not data[-1] & 0x80
    assert read_var_uint(data + b"\x00", 0) == (value, len(data))


# --- sync messages -------------------------------------------------------------------

# The real yjs vector from the brief: sync (00), step1 (00), length 8 (08), then the
# state vector: 2 entries (02); client 1 (01), clock 7000 (d8 36); client 1001 (e9 07),
# clock 1500 (dc 0b).
#   7000 = 54 * 128 + 88 → 88 | 0x80 = d8, 54 = 36
#   1001 =  7 * 128 + 105 → 105 | 0x80 = e9, 7 = 07
#   1500 = 11 * 128 + 92 → 92 | 0x80 = dc, 11 = 0b
YJS_STEP1 = H("0000 08 02 01 d836 e907 dc0b")
YJS_SV = {1: 7000, 1001: 1500}


def test_real_yjs_step1_vector() -> None:
    message = decode(YJS_STEP1)
    assert message == SyncMessage(SyncType.STEP1, H("0201d836e907dc0b"))
    assert isinstance(message, SyncMessage)
    assert decode_state_vector(message.payload) == YJS_SV
    # and we produce the same bytes (our entries are sorted by client, as here)
    assert step1(encode_state_vector(YJS_SV)) == YJS_STEP1


def test_step1_encode_decode() -> None:
    # SV {5: 300}: 1 entry (01), client 5 (05), clock 300 (ac 02) → 4 bytes
    sv = H("0105ac02")
    frame = H("0000 04 0105ac02")
    assert step1(sv) == frame
    assert encode(SyncMessage(SyncType.STEP1, sv)) == frame
    assert decode(frame) == SyncMessage(SyncType.STEP1, sv)


def test_empty_state_vector_step1() -> None:
    # a fresh doc: zero entries → payload 00, length 1
    assert step1(H("00")) == H("000001 00")
    assert decode(H("00000100")) == SyncMessage(SyncType.STEP1, H("00"))


def test_step2_encode_decode() -> None:
    # sync 00, step2 01, length 2, the (empty) v1 update 00 00
    frame = H("0001 02 0000")
    assert step2(H("0000")) == frame
    assert decode(frame) == SyncMessage(SyncType.STEP2, H("0000"))


def test_update_encode_decode() -> None:
    payload = bytes(range(200))
    # length 200 = 0b1_1001000 → 1001000 | 0x80 = c8, 1 = 01
    frame = H("0002 c801") + payload
    assert update_message(payload) == frame
    assert decode(frame) == SyncMessage(SyncType.UPDATE, payload)


def test_step2_and_update_payloads_are_opaque() -> None:
    # Only step1 payloads are parsed here (Yrs checks updates); any bytes frame fine.
    assert decode(H("000103ffffff")) == SyncMessage(SyncType.STEP2, H("ffffff"))


# --- awareness, query awareness, auth ------------------------------------------------

# one entry: count 01, client 05, clock 01, state '{"a":1}' (7 bytes: 07 7b 22 61 22 3a 31 7d)
AWARENESS_PAYLOAD = H("01 05 01 07 7b2261223a317d")


def test_awareness_encode_decode() -> None:
    # type 01, then the payload as varUint8Array: 1 + 1 + 1 + 1 + 7 = 11 = 0b bytes
    frame = H("01 0b") + AWARENESS_PAYLOAD
    assert encode(AwarenessMessage(AWARENESS_PAYLOAD)) == frame
    assert decode(frame) == AwarenessMessage(AWARENESS_PAYLOAD)
    assert decode_awareness(AWARENESS_PAYLOAD) == [AwarenessEntry(5, 1, {"a": 1})]


def test_awareness_with_two_entries_and_a_departure() -> None:
    # count 02; client 300 (ac 02) clock 2 state "null" (a client that left);
    # client 1 clock 128 (80 01) state '{}' (7b 7d)
    payload = H("02 ac02 02 04 6e756c6c 01 8001 02 7b7d")
    assert decode_awareness(payload) == [AwarenessEntry(300, 2, None), AwarenessEntry(1, 128, {})]


def test_awareness_rejections() -> None:
    with pytest.raises(ProtocolError) as info:
        decode_awareness(H("01 05 01 01 7b"))  # state "{" is not JSON
    assert info.value.code == "bad_awareness"
    with pytest.raises(ProtocolError) as info:
        decode_awareness(H("01 05 01 01 ff"))  # state is not UTF-8
    assert info.value.code == "bad_awareness"
    with pytest.raises(ProtocolError) as info:
        decode_awareness(H("05 01"))  # claims 5 entries in 2 bytes
    assert info.value.code == "truncated"
    with pytest.raises(ProtocolError) as info:
        decode_awareness(AWARENESS_PAYLOAD + H("00"))
    assert info.value.code == "trailing_bytes"
    # the awareness frame itself validates its payload
    rejects(H("01 05 01 05 01 01 7b"), "bad_awareness")


def test_awareness_state_must_be_utf8_json() -> None:
    # '{}' in UTF-16-LE with a BOM: ff fe 7b 00 7d 00 (6 bytes)
    with pytest.raises(ProtocolError) as info:
        decode_awareness(H("01 05 01 06 fffe7b007d00"))
    assert info.value.code == "bad_awareness"


def test_awareness_state_rejects_non_standard_json() -> None:
    # '{"a":NaN}' = 7b 22 61 22 3a 4e 61 4e 7d (9 bytes)
    with pytest.raises(ProtocolError) as info:
        decode_awareness(H("01 05 01 09 7b2261223a4e614e7d"))
    assert info.value.code == "bad_awareness"


def test_query_awareness() -> None:
    # just the message type 03
    assert encode(QueryAwarenessMessage()) == H("03")
    assert decode(H("03")) == QueryAwarenessMessage()
    rejects(H("0300"), "trailing_bytes")


def test_auth_permission_denied() -> None:
    # auth 02, permission denied 00, reason "no" as varString: 02 6e 6f
    frame = H("02 00 02 6e6f")
    assert encode(AuthMessage(denied=True, reason="no")) == frame
    assert decode(frame) == AuthMessage(denied=True, reason="no")


def test_auth_not_denied_and_utf8_reason() -> None:
    # "é" is c3 a9 in UTF-8 → length 02
    frame = H("02 01 02 c3a9")
    assert encode(AuthMessage(denied=False, reason="é")) == frame
    assert decode(frame) == AuthMessage(denied=False, reason="é")


def test_auth_truncated_reason() -> None:
    rejects(H("0200"), "truncated")  # no reason at all
    rejects(H("020005616263"), "truncated")  # says 5 bytes, 3 follow


# --- rejections ----------------------------------------------------------------------


def test_empty_frame_rejected() -> None:
    rejects(b"", "empty")


def test_unknown_message_type_rejected() -> None:
    err = rejects(H("04"), "unknown_type")
    assert "4" in str(err)
    # 200 = 0b1_1001000 → c8 01: a well-formed but unknown two-byte type
    err = rejects(H("c801"), "unknown_type")
    assert "200" in str(err)


@pytest.mark.parametrize("kind", ["03", "7f", "8001"])  # 3, 127, 128
def test_unknown_sync_type_rejected(kind: str) -> None:
    rejects(H("00" + kind + "00"), "unknown_sync_type")


def test_truncated_varint_in_frame() -> None:
    rejects(H("80"), "truncated")  # the message type never ends
    rejects(H("00"), "truncated")  # sync without its sync type
    rejects(H("0080"), "truncated")  # sync type never ends
    rejects(H("0000"), "truncated")  # step1 without its length
    rejects(H("000080"), "truncated")  # length never ends


def test_length_prefix_longer_than_remaining_bytes() -> None:
    err = rejects(H("0002 05 0102"), "truncated")  # update says 5 bytes, 2 follow
    assert "5" in str(err) and "2" in str(err)
    rejects(H("01 0b") + AWARENESS_PAYLOAD[:-1], "truncated")
    # a 4 GiB claim: 2**32 = bit 32 in the 5th group (bits 28..34) at position 4 → 10
    rejects(H("0002 8080808010") + b"x", "truncated")


def test_huge_varint_in_frame_rejected() -> None:
    rejects(H("0002 8080808080808010"), "bad_varint")  # length 2**53
    rejects(H("0002 808080808080808001"), "bad_varint")  # 9-byte length


def test_trailing_bytes_rejected() -> None:
    err = rejects(H("0002 01 aa bbcc"), "trailing_bytes")
    assert "2" in str(err)
    rejects(YJS_STEP1 + H("00"), "trailing_bytes")
    rejects(H("02 00 00 00"), "trailing_bytes")
    rejects(H("01 0b") + AWARENESS_PAYLOAD + H("00"), "trailing_bytes")


def test_step1_payload_must_be_a_state_vector() -> None:
    rejects(H("0000 02 0501"), "truncated")  # claims 5 entries in 2 bytes
    rejects(H("0000 03 020102"), "truncated")  # 2 entries, only one present
    rejects(H("0000 04 01010203"), "trailing_bytes")  # one entry + 1 stray byte
    rejects(H("0000 00"), "truncated")  # no count at all


def test_frame_over_max_size_rejected() -> None:
    frame = update_message(b"x" * 100)  # 00 02 64 + 100 bytes = 103 bytes
    assert len(frame) == 103
    assert decode(frame, max_size=103) == SyncMessage(SyncType.UPDATE, b"x" * 100)
    with pytest.raises(MessageTooLarge) as info:
        decode(frame, max_size=102)
    err = info.value
    assert isinstance(err, ProtocolError)
    assert err.code == "too_large"
    assert (err.size, err.limit) == (103, 102)
    assert "103" in str(err) and "102" in str(err)


def test_size_is_checked_before_parsing() -> None:
    # an unparseable frame that is too large reports its size, not its syntax
    with pytest.raises(MessageTooLarge):
        decode(H("ff") * 10, max_size=9)


def test_default_max_size() -> None:
    assert DEFAULT_MAX_MESSAGE == 16 * 1024 * 1024
    with pytest.raises(MessageTooLarge):
        decode(update_message(bytes(DEFAULT_MAX_MESSAGE)))


def test_encode_rejects_non_messages() -> None:
    with pytest.raises(TypeError):
        encode("not a message")  # type: ignore[arg-type]


# --- state vectors -------------------------------------------------------------------


def test_state_vector_vectors() -> None:
    assert encode_state_vector({}) == H("00")
    assert decode_state_vector(H("00")) == {}
    # entries are written in client order: 2 entries; 3 → 0; 300 (ac 02) → 16384 (80 80 01)
    assert encode_state_vector({300: 16384, 3: 0}) == H("02 0300 ac02808001")
    assert decode_state_vector(H("02 ac02808001 0300")) == {300: 16384, 3: 0}


state_vectors = st.dictionaries(
    st.integers(min_value=0, max_value=2**53 - 1), st.integers(min_value=0, max_value=2**53 - 1), max_size=20
)


@given(state_vectors)
def test_state_vector_round_trip(sv: dict[int, int]) -> None:
    data = encode_state_vector(sv)
    assert decode_state_vector(data) == sv
    assert decode(step1(data)) == SyncMessage(SyncType.STEP1, data)


@given(state_vectors, st.binary(max_size=300), st.sampled_from([SyncType.STEP2, SyncType.UPDATE]))
def test_sync_message_round_trip(sv: dict[int, int], payload: bytes, kind: SyncType) -> None:
    message = SyncMessage(kind, payload)
    frame = encode(message)
    assert decode(frame) == message
    # sync 00, the sync type, then pycrdt's own varUint length
    assert frame == bytes((0, int(kind))) + pycrdt.write_var_uint(len(payload)) + payload
    sv_frame = step1(encode_state_vector(sv))
    assert decode(sv_frame) == SyncMessage(SyncType.STEP1, encode_state_vector(sv))


@given(st.binary(max_size=64), st.integers(min_value=1, max_value=64))
def test_truncating_a_frame_never_decodes_silently(payload: bytes, cut: int) -> None:
    frame = update_message(payload)
    cut = min(cut, len(frame))
    with pytest.raises(ProtocolError) as info:
        decode(frame[:-cut])
    assert info.value.code in {"truncated", "empty"}


@given(st.lists(st.tuples(st.integers(0, 2**40), st.integers(0, 2**40), st.text(max_size=20)), max_size=5))
def test_awareness_round_trip(entries: list[tuple[int, int, str]]) -> None:
    payload = write_var_uint(len(entries))
    for client, clock, name in entries:
        payload += write_var_uint(client) + write_var_uint(clock)
        payload += write_var_bytes(json.dumps({"user": name}).encode())
    assert decode(encode(AwarenessMessage(payload))) == AwarenessMessage(payload)
    assert decode_awareness(payload) == [AwarenessEntry(c, k, {"user": n}) for c, k, n in entries]


# --- cross-checks against pycrdt -----------------------------------------------------


def test_step1_matches_pycrdt_create_sync_message() -> None:
    doc = Doc(client_id=42)
    doc.get("t", type=Text).insert(0, "hello")
    assert step1(doc.get_state()) == pycrdt.create_sync_message(doc)


def test_update_message_matches_pycrdt() -> None:
    doc = Doc(client_id=42)
    doc.get("log", type=Array).append("x")
    update = doc.get_update()
    assert update_message(update) == pycrdt.create_update_message(update)
    assert decode(pycrdt.create_update_message(update)) == SyncMessage(SyncType.UPDATE, update)


def test_awareness_frame_matches_pycrdt() -> None:
    assert encode(AwarenessMessage(AWARENESS_PAYLOAD)) == pycrdt.create_awareness_message(AWARENESS_PAYLOAD)


def test_decode_state_vector_of_real_docs() -> None:
    # A Yjs clock counts inserted items: 5 characters of text → clock 5 for that client.
    a = Doc(client_id=7)
    a.get("t", type=Text).insert(0, "hello")
    assert decode_state_vector(a.get_state()) == {7: 5}
    # Three array items by another client (clock 3), merged into a.
    b = Doc(client_id=300)
    b.get("log", type=Array).extend([1, 2, 3])
    a.apply_update(b.get_update())
    assert decode_state_vector(a.get_state()) == {7: 5, 300: 3}
    assert decode_state_vector(Doc(client_id=9).get_state()) == {}


def test_pycrdt_answers_our_step1_and_we_decode_its_step2() -> None:
    source = Doc(client_id=11)
    source.get("t", type=Text).insert(0, "abc")
    target = Doc(client_id=12)
    ours = decode(step1(target.get_state()))
    assert isinstance(ours, SyncMessage)
    # pycrdt handles the sync body (everything after the outer type byte)
    reply = pycrdt.handle_sync_message(step1(target.get_state())[1:], source)
    assert reply is not None
    message = decode(reply)
    assert isinstance(message, SyncMessage) and message.kind == SyncType.STEP2
    target.apply_update(message.payload)
    assert str(target.get("t", type=Text)) == "abc"
    assert decode_state_vector(target.get_state()) == {11: 3}


# --- delete sets ---------------------------------------------------------------------


def test_delete_set_of_diff_hand_made() -> None:
    # 0 struct groups; 1 client; client 1 with 1 range; clock 2, length 2
    assert delete_set_of_diff(H("00 01 01 01 0202")) == {1: [(2, 2)]}
    # 0 struct groups, 0 clients: an empty update
    assert delete_set_of_diff(H("0000")) == {}
    # two clients: 300 (ac 02) with ranges (0,1),(5,3); 4 with (128 = 80 01, 1)
    ds = delete_set_of_diff(H("00 02 ac02 02 0001 0503 04 01 800101"))
    assert ds == {300: [(0, 1), (5, 3)], 4: [(128, 1)]}
    # one struct group: not a pure delete set
    assert delete_set_of_diff(H("01 00")) is None


def test_delete_set_of_diff_truncated() -> None:
    with pytest.raises(ProtocolError) as info:
        delete_set_of_diff(H("00 01 01 02 0202"))  # says 2 ranges, has 1
    assert info.value.code == "truncated"


@pytest.mark.parametrize(
    ("ours", "theirs", "covered"),
    [
        ({}, {}, True),
        ({1: [(0, 5)]}, {}, True),
        ({}, {1: []}, True),
        ({}, {1: [(3, 0)]}, True),  # an empty range deletes nothing
        ({}, {1: [(0, 1)]}, False),
        ({1: [(0, 5)]}, {1: [(0, 5)]}, True),
        ({1: [(0, 5)]}, {1: [(2, 2)]}, True),  # inside
        ({1: [(0, 5)]}, {1: [(4, 2)]}, False),  # clock 5 not deleted here
        ({1: [(1, 5)]}, {1: [(0, 2)]}, False),  # clock 0 not deleted here
        ({1: [(0, 3), (3, 3)]}, {1: [(1, 4)]}, True),  # spans two adjacent ranges
        ({1: [(0, 2), (3, 2)]}, {1: [(0, 5)]}, False),  # clock 2 is a gap
        ({1: [(5, 5), (0, 6)]}, {1: [(0, 10)]}, True),  # unsorted, overlapping
        ({1: [(0, 10), (2, 3)]}, {1: [(0, 10)]}, True),  # nested
        ({1: [(0, 5)]}, {2: [(0, 5)]}, False),  # another client
        ({1: [(0, 5)], 2: [(0, 1)]}, {1: [(1, 1)], 2: [(0, 1)]}, True),
        ({1: [(0, 5)], 2: [(0, 1)]}, {1: [(1, 1)], 2: [(1, 1)]}, False),
        ({1: [(0, 5)]}, {1: [(0, 1), (4, 1), (2, 1)]}, True),
        ({1: [(0, 5)]}, {1: [(0, 1), (5, 1)]}, False),
    ],
)
def test_delete_set_covers(
    ours: dict[int, list[tuple[int, int]]], theirs: dict[int, list[tuple[int, int]]], covered: bool
) -> None:
    assert delete_set_covers(ours, theirs) is covered


@given(
    st.lists(st.tuples(st.integers(0, 60), st.integers(0, 10)), max_size=8),
    st.lists(st.tuples(st.integers(0, 60), st.integers(0, 10)), max_size=8),
)
def test_delete_set_covers_matches_a_set_model(
    ours: list[tuple[int, int]], theirs: list[tuple[int, int]]
) -> None:
    deleted = {c for clock, n in ours for c in range(clock, clock + n)}
    wanted = {c for clock, n in theirs for c in range(clock, clock + n)}
    assert delete_set_covers({1: ours}, {1: theirs}) is (wanted <= deleted)


def _own_delete_set(doc: Doc) -> dict[int, list[tuple[int, int]]]:
    ds = delete_set_of_diff(doc.get_update(doc.get_state()))
    assert ds is not None, "a diff against our own state carries no structs"
    return ds


def test_delete_sets_of_real_docs() -> None:
    a = Doc(client_id=1)
    m = a.get("m", type=Map)
    m["k"] = 1  # clock 0
    m["k"] = 2  # clock 1, deletes clock 0
    del m["k"]  # deletes clock 1
    ds = _own_delete_set(a)
    assert sorted(c for clock, n in ds[1] for c in range(clock, clock + n)) == [0, 1]
    assert delete_set_covers(ds, {1: [(0, 2)]})
    assert not delete_set_covers(ds, {1: [(0, 3)]})
    # A doc that never deleted anything has an empty delete set.
    fresh = Doc(client_id=2)
    fresh.get("log", type=Array).append("x")
    assert not any(_own_delete_set(fresh).values())


def test_delete_set_of_a_peer_update_against_our_state() -> None:
    # b has a's structs but not a's later deletion: the diff is a bare delete set
    # that b does not cover yet; once applied, b covers it.
    a = Doc(client_id=1)
    m = a.get("m", type=Map)
    m["k"] = 1
    m["k"] = 2
    b = Doc(client_id=2)
    b.apply_update(a.get_update())
    del m["k"]
    diff = pycrdt.get_update(a.get_update(), b.get_state())
    theirs = delete_set_of_diff(diff)
    assert theirs is not None and theirs.get(1)
    assert not delete_set_covers(_own_delete_set(b), theirs)
    b.apply_update(a.get_update())
    assert delete_set_covers(_own_delete_set(b), theirs)
    # new content is not a bare delete set
    m["z"] = 3
    assert delete_set_of_diff(pycrdt.get_update(a.get_update(), b.get_state())) is None
