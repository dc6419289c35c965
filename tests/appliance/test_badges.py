"""Badge codes: base 45, signatures, key rings, device keys and whatever a scanner may read."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import example, given, settings
from hypothesis import strategies as st

from konferenco.badges import (
    _B45,
    PREFIX,
    BadgeError,
    BadgePayload,
    BadgeSigner,
    KeyRing,
    TrustedKey,
    b45decode,
    b45encode,
    device_certificate_message,
    key_id,
    verify,
)
from konferenco.types import new_id

EVENT = "demo"
EVENT_KEY = Ed25519PrivateKey.generate()
SIGNER = BadgeSigner(EVENT_KEY)
OTHER_KEY = Ed25519PrivateKey.generate()  # another event's badge key
OTHER = BadgeSigner(OTHER_KEY)
PAYLOAD = BadgePayload(EVENT, "a000042", "speaker", 2, 1_764_000_000, 1_764_086_399)


def trusted(signer: BadgeSigner, event: str = EVENT) -> TrustedKey:
    return TrustedKey(signer.kid, signer.public, event)


def ring(*keys: TrustedKey) -> KeyRing:
    return KeyRing(list(keys) or [trusted(SIGNER)])


CODE = SIGNER.sign(PAYLOAD)


def _cut_mid_group(code: str) -> str:
    """The code cut one character into a 3-character group.

    Not simply ``code[:-1]``: that can end in a space (a base-45 digit), which the reader
    trims like a scanner's terminator, and the cut would then look whole.
    """
    body = code[len("KB1:") :]
    cut = body[: len(body) - len(body) % 3 - 2]
    return "KB1:" + (cut[:-1] + "0" if cut.endswith(" ") else cut)


# --- base 45 -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"AB", "BB8"),
        (b"Hello!!", "%69 VD92EX0"),
        (b"base-45", "UJCLQE7W581"),
        (b"ietf!", "QED8WEX0"),
        (b"", ""),
    ],
)
def test_base45_matches_rfc_9285(raw: bytes, text: str) -> None:
    assert b45encode(raw) == text
    assert b45decode(text) == raw


@given(st.binary(max_size=300))
def test_base45_round_trip(data: bytes) -> None:
    text = b45encode(data)
    assert set(text) <= set(_B45)
    assert b45decode(text) == data


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("bb8", "not base 45"),  # lower case is not in the alphabet
        ("BB8!", "not base 45"),
        ("BB8A", "dangling"),  # 3n+1 characters
        ("GGW", "out of range"),  # RFC 9285 §4.2: decodes to 65536
        (":::", "out of range"),
        ("::", "out of range"),  # 2024 > 255
    ],
)
def test_bad_base45_is_rejected(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        b45decode(text)


# --- signing and verifying -------------------------------------------------------------------


def test_sign_and_verify_round_trip() -> None:
    assert CODE.startswith(PREFIX)
    badge = verify(CODE, ring(), EVENT)
    assert badge.payload == PAYLOAD
    assert badge.signer == "event"
    assert badge.kid == SIGNER.kid == key_id(SIGNER.public)
    assert badge.badge_id == "a000042:2"


def test_surrounding_whitespace_from_a_scanner_is_ignored() -> None:
    assert verify(f"  {CODE}\r\n", ring(), EVENT).payload == PAYLOAD


def test_a_code_typed_with_caps_lock_still_verifies() -> None:
    # Base 45 has no lower-case letters; a keyboard-wedge scanner with caps lock on sends lower case.
    assert verify(CODE.lower(), ring(), EVENT).payload == PAYLOAD


def test_every_single_character_change_is_caught() -> None:
    keys = ring()
    body = CODE[len(PREFIX) :]
    for i, c in enumerate(body):
        replacement = _B45[(_B45.index(c) + 1) % len(_B45)]
        tampered = PREFIX + body[:i] + replacement + body[i + 1 :]
        with pytest.raises(BadgeError):
            verify(tampered, keys, EVENT)


def test_an_altered_payload_with_the_original_signature_is_called_forged() -> None:
    raw = b45decode(CODE[len(PREFIX) :])
    assert b"a000042" in raw
    forged = PREFIX + b45encode(raw.replace(b"a000042", b"a000043"))
    with pytest.raises(BadgeError, match="altered or forged"):
        verify(forged, ring(), EVENT)


def test_a_flipped_signature_character_is_called_forged() -> None:
    # Change the last character (inside the signature) to another value that still decodes.
    body = CODE[len(PREFIX) :]
    last = body[-3:]
    for candidate in _B45:
        variant = candidate + last[1:]
        try:
            if b45decode(variant) != b45decode(last):
                break
        except ValueError:
            continue
    tampered = PREFIX + body[:-3] + variant
    with pytest.raises(BadgeError, match="altered or forged"):
        verify(tampered, ring(), EVENT)


def test_a_badge_of_another_event_key_is_unknown() -> None:
    code = OTHER.sign(BadgePayload("other-conf", "a1", "full"))
    with pytest.raises(BadgeError) as info:
        verify(code, ring(), EVENT)
    assert "another event" in info.value.reason
    assert "out of date" in info.value.reason


def test_our_key_but_another_event_in_the_payload() -> None:
    code = SIGNER.sign(BadgePayload("other-conf", "a1", "full"))
    with pytest.raises(BadgeError, match=r"another event \(other-conf\)"):
        verify(code, ring(), EVENT)


def test_a_key_trusted_for_another_event_does_not_admit_here() -> None:
    code = OTHER.sign(BadgePayload(EVENT, "a1", "full"))
    with pytest.raises(BadgeError, match="another event"):
        verify(code, ring(trusted(SIGNER), trusted(OTHER, "other-conf")), EVENT)


def test_key_rotation_both_keys_verify() -> None:
    new = BadgeSigner(Ed25519PrivateKey.generate())
    keys = ring(trusted(SIGNER), trusted(new))
    old_code = SIGNER.sign(BadgePayload(EVENT, "a1", "full"))
    new_code = new.sign(BadgePayload(EVENT, "a2", "full", serial=1))
    assert verify(old_code, keys, EVENT).kid == SIGNER.kid
    assert verify(new_code, keys, EVENT).kid == new.kid
    assert verify(new_code, keys, EVENT).payload.attendee == "a2"
    assert len(keys) == 2
    # With only the new key, badges printed with the old one are no longer accepted.
    with pytest.raises(BadgeError):
        verify(old_code, ring(trusted(new)), EVENT)


def test_a_key_is_trusted_only_inside_its_own_window() -> None:
    from dataclasses import replace

    window = replace(trusted(SIGNER), not_before=1_000, not_after=2_000)
    code = SIGNER.sign(BadgePayload(EVENT, "a1", "full"))
    assert verify(code, ring(window), EVENT, now_s=1_500).kid == SIGNER.kid
    for outside in (999, 2_001):
        with pytest.raises(BadgeError, match="not valid now"):
            verify(code, ring(window), EVENT, now_s=outside)
    assert verify(code, ring(window), EVENT).kid == SIGNER.kid, "without a clock, windows are not checked"


def test_a_walk_in_key_whose_certificate_ran_out_no_longer_admits() -> None:
    keys = ring()
    assert keys.add_device_key(EVENT, "box1", DEVICE.public, 5_000, certificate(EVENT_KEY, not_after=5_000))
    assert verify(WALK_IN, keys, EVENT, now_s=4_000).signer == "device:box1"
    with pytest.raises(BadgeError, match="not valid now"):
        verify(WALK_IN, keys, EVENT, now_s=6_000)


# --- what a scanner may read -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "not a Konferenco badge"),
        ("https://example.org/ticket/123", "not a Konferenco badge"),
        ("KB2:" + CODE[4:], "not a Konferenco badge"),
        ("KB1:", "damaged or from an unsupported version"),
        ("KB1:hello!", "does not decode"),
        ("KB1:BB8A", "does not decode"),
        (_cut_mid_group(CODE), "does not decode"),  # truncated mid-group
        (CODE[:-3], "damaged"),  # truncated on a group boundary: payload and signature misaligned
        (CODE[:40], "damaged"),  # far too short
        (
            PREFIX + b45encode(b"\x02" + bytes.fromhex(SIGNER.kid) + b"\x90" + b"\0" * 64),
            "unsupported version",
        ),
        (PREFIX + b45encode(b"\x01" + bytes.fromhex(SIGNER.kid) + b"\xc1\xc1" + b"\0" * 64), "unreadable"),
        (
            PREFIX + b45encode(b"\x01" + bytes.fromhex(SIGNER.kid) + b"\x92\x01\x02" + b"\0" * 64),
            "unreadable",
        ),
    ],
)
def test_garbage_gets_a_clear_reason(text: str, why: str) -> None:
    with pytest.raises(BadgeError) as info:
        verify(text, ring(), EVENT)
    assert why in info.value.reason
    assert str(info.value) == info.value.reason


def test_a_payload_with_invalid_utf8_is_a_damaged_badge() -> None:
    # A msgpack array of three 1-byte strings, the first of which is not UTF-8 (0x91).
    body = b"\x01" + bytes.fromhex(SIGNER.kid) + b"\x93\xa1\x91\xa1a\xa1b" + b"\0" * 64
    with pytest.raises(BadgeError, match="damaged"):
        verify(PREFIX + b45encode(body), ring(), EVENT)


def _verify_or_badge_error(text: str) -> None:
    try:
        verify(text, ring(), EVENT)
    except BadgeError as exc:
        assert exc.reason
    else:  # pragma: no cover - only a real badge verifies
        raise AssertionError(f"{text!r} verified")


@settings(max_examples=300)
@given(st.text())
def test_arbitrary_text_only_ever_raises_badge_error(text: str) -> None:
    _verify_or_badge_error(text)


@settings(max_examples=300)
@given(st.text(alphabet=_B45))
def test_arbitrary_base45_after_the_prefix_only_raises_badge_error(text: str) -> None:
    _verify_or_badge_error(PREFIX + text)


@settings(max_examples=300)
@given(st.binary(max_size=200), st.booleans())
@example(data=b"\x93\xa5\x00\x00\x00\x00\x80", pad=True)  # a 5-byte string that is not UTF-8
def test_arbitrary_payload_under_a_known_key_only_raises_badge_error(data: bytes, pad: bool) -> None:
    body = b"\x01" + bytes.fromhex(SIGNER.kid) + data + (b"\0" * 64 if pad else b"")
    _verify_or_badge_error(PREFIX + b45encode(body))


# --- device keys (walk-in badges) --------------------------------------------------------------

DEVICE_KEY = Ed25519PrivateKey.generate()
DEVICE = BadgeSigner(DEVICE_KEY)
WALK_IN = DEVICE.sign(BadgePayload(EVENT, "w-01abc", "day"))


def certificate(
    issuer: Ed25519PrivateKey, event: str = EVENT, device: str = "box1", not_after: int = 0
) -> bytes:
    return issuer.sign(device_certificate_message(event, device, DEVICE.public, not_after))


def test_a_device_key_certified_by_the_event_key_signs_walk_ins() -> None:
    keys = ring()
    assert keys.add_device_key(EVENT, "box1", DEVICE.public, 0, certificate(EVENT_KEY))
    badge = verify(WALK_IN, keys, EVENT)
    assert badge.signer == "device:box1"
    assert badge.payload.attendee == "w-01abc"
    # The event's own badges still verify as the event's.
    assert verify(CODE, keys, EVENT).signer == "event"


def test_an_uncertified_device_key_is_not_trusted() -> None:
    keys = ring()
    with pytest.raises(BadgeError, match="does not know"):
        verify(WALK_IN, keys, EVENT)
    # A device cannot certify itself.
    assert not keys.add_device_key(EVENT, "box1", DEVICE.public, 0, certificate(DEVICE_KEY))
    with pytest.raises(BadgeError):
        verify(WALK_IN, keys, EVENT)


def test_a_certificate_by_another_event_key_is_not_trusted() -> None:
    keys = ring(trusted(SIGNER), trusted(OTHER, "other-conf"))
    assert not keys.add_device_key(EVENT, "box1", DEVICE.public, 0, certificate(OTHER_KEY))
    with pytest.raises(BadgeError):
        verify(WALK_IN, keys, EVENT)
    # Trusted for the other event, its walk-ins still do not pass here.
    assert keys.add_device_key("other-conf", "box1", DEVICE.public, 0, certificate(OTHER_KEY, "other-conf"))
    with pytest.raises(BadgeError, match="another event"):
        verify(WALK_IN, keys, EVENT)


@pytest.mark.parametrize(
    ("device", "not_after"),
    [("box2", 0), ("box1", 1_900_000_000)],
    ids=["certificate for another device", "altered expiry"],
)
def test_a_certificate_for_something_else_is_refused(device: str, not_after: int) -> None:
    keys = ring()
    assert not keys.add_device_key(EVENT, device, DEVICE.public, not_after, certificate(EVENT_KEY))
    assert len(keys) == 1


def test_a_device_key_cannot_certify_another_device() -> None:
    keys = ring()
    assert keys.add_device_key(EVENT, "box1", DEVICE.public, 0, certificate(EVENT_KEY))
    rogue = BadgeSigner(Ed25519PrivateKey.generate())
    by_device = DEVICE_KEY.sign(device_certificate_message(EVENT, "rogue", rogue.public, 0))
    assert not keys.add_device_key(EVENT, "rogue", rogue.public, 0, by_device)


# --- size --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        BadgePayload("demo", "a000042", "full"),
        BadgePayload("konferenco-days-2025", "a180000", "speaker", 3, 1_764_000_000, 1_764_086_399),
        BadgePayload(
            "konferenco-days-2025", f"w-{new_id().lower()}", "day-pass", 12, 1_764_000_000, 1_764_086_399
        ),
        BadgePayload("vienna-devconf", "pretix-ORDER1-12345", "workshop-a", 0, 0, 1_764_086_399),
    ],
)
def test_codes_fit_a_small_qr(payload: BadgePayload) -> None:
    code = SIGNER.sign(payload)
    assert len(code) < 230, len(code)
    assert verify(code, ring(trusted(SIGNER, payload.event)), payload.event).payload == payload
