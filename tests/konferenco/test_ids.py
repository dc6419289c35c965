"""Record ids: 26 Crockford base-32 digits that sort by creation time (ULID layout)."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from konferenco.types import _CROCKFORD, _crockford, new_id


def reference(value: int) -> str:
    """The digits, one at a time: what ids stored before looked like, and must keep looking like."""
    digits = []
    for _ in range(26):
        digits.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(digits))


@given(st.integers(min_value=0, max_value=2**130 - 1))
def test_an_id_is_the_crockford_digits_of_its_value(value: int) -> None:
    assert _crockford(value) == reference(value)


def test_ids_sort_by_creation_time_and_never_repeat() -> None:
    first = [new_id() for _ in range(1000)]
    time.sleep(0.002)
    later = [new_id() for _ in range(1000)]
    assert len(set(first + later)) == 2000
    assert all(set(i) <= set(_CROCKFORD) and len(i) == 26 for i in first + later)
    assert max(first) < min(later)  # a millisecond later sorts after, whatever the random bits
    assert abs(_millis(later[0]) - time.time_ns() // 1_000_000) < 1_000


def _millis(record_id: str) -> int:
    value = 0
    for digit in record_id[:10]:
        value = value * 32 + _CROCKFORD.index(digit)
    return value  # 26 digits are 130 bits, the top 2 zero: the first 10 are the 48-bit millisecond clock
