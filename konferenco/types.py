"""The small shared types: ids, millisecond time, NFC tag UIDs.

One definition each, because every part compares them: a record id made
on an appliance sorts next to one made on the hub, a time written by a
driver is compared with one written by the check-in service, and a tag
UID typed at the desk must equal the one a reader reports.
"""

from __future__ import annotations

import base64
import os
import time
from typing import Annotated

import msgspec

#: Milliseconds since the epoch, within what a JavaScript number holds exactly (Yjs peers).
Millis = Annotated[int, msgspec.Meta(ge=0, le=2**53 - 1)]

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"  # base 32 in ASCII order
_TO_CROCKFORD = str.maketrans("0123456789ABCDEFGHIJKLMNOPQRSTUV", _CROCKFORD)


def now_ms() -> int:
    """Wall-clock time in integer milliseconds: Yjs hands numbers back as floats, we never store one."""
    return time.time_ns() // 1_000_000


def new_id() -> str:
    """A 128-bit record id that sorts by creation time (ULID layout).

    48 bits of milliseconds then 80 random bits, in Crockford base 32 (26
    characters).  Time-ordered ids land at the end of the projections'
    B-trees instead of at random pages: projecting a 50,000-scan log is
    about twice as fast as with random ids.
    """
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    return _crockford(value)


def _crockford(value: int) -> str:
    """``value`` (< 2**130) as 26 Crockford base-32 digits, most significant first.

    base32hex of 20 bytes is 32 digits of 5 bits each, in an alphabet that
    sorts like Crockford's; the last 26 are ``value``'s.  In C: the id is made
    on every scan, and the loop in Python cost 20 µs of it.
    """
    return base64.b32hexencode(value.to_bytes(20, "big"))[6:].decode("ascii").translate(_TO_CROCKFORD)


def nfc_uid(text: str) -> str:
    """A tag UID as readers report it: upper-case hex, without the colons or spaces people type."""
    return text.replace(":", "").replace(" ", "").upper()
