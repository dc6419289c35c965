"""Device-log shards: where a device's next record goes, without a replica or a store."""

from __future__ import annotations

import pytest

from sync.names import DocName
from sync.shards import SHARD_RECORDS, DeviceShards


class Shard:
    """An in-memory shard: its record count, and how often it was counted."""

    def __init__(self, records: int = 0) -> None:
        self.records = records
        self.counted = 0

    def count(self) -> int:
        self.counted += 1
        return self.records


def shard(n: int, device: str = "d1") -> DocName:
    return DocName.device("e1", device, n)


def test_a_device_with_no_log_yet_writes_shard_zero() -> None:
    shards = DeviceShards()
    assert shards.records_per_shard == SHARD_RECORDS
    assert str(shards.current("e1", "d1")) == "event/e1/device/d1"
    assert shards.names("e1", "d1") == [shard(0)]


def test_the_next_shard_opens_exactly_at_the_limit() -> None:
    shards = DeviceShards(10)
    first = Shard(9)
    shards.opened(shard(0), first.count)
    assert shards.current("e1", "d1") == shard(0)
    shards.appended(shard(0), 1)  # the tenth record
    assert shards.current("e1", "d1") == shard(1)
    assert str(shards.current("e1", "d1")) == "event/e1/device/d1/1"
    assert first.counted == 1  # counted once, then kept up to date by appended()

    shards.opened(shard(1), Shard(0).count)  # the replica loads the new shard to write to it
    assert shards.current("e1", "d1") == shard(1)
    shards.appended(shard(1), 10)
    assert shards.current("e1", "d1") == shard(2)
    assert shards.names("e1", "d1") == [shard(0), shard(1)]


def test_a_shard_over_the_limit_also_rolls_over() -> None:
    """A shard that grew past the limit (a larger limit before, or a batch) is full all the same."""
    shards = DeviceShards(10)
    shards.opened(shard(0), Shard(64).count)
    assert shards.current("e1", "d1") == shard(1)


def test_after_a_restart_the_newest_stored_shard_is_current_whatever_the_load_order() -> None:
    shards = DeviceShards(10)
    counted = {n: Shard(10 if n < 2 else 4) for n in range(3)}
    for n in (2, 0, 1):  # the store lists documents in any order
        shards.opened(shard(n), counted[n].count)
    assert shards.current("e1", "d1") == shard(2)
    assert [s.counted for s in counted.values()] == [0, 0, 1]  # full old shards are never counted
    assert shards.names("e1", "d1") == [shard(0), shard(1), shard(2)]


def test_two_devices_are_independent() -> None:
    shards = DeviceShards(10)
    shards.opened(shard(0, "d1"), Shard(10).count)
    shards.opened(shard(1, "d1"), Shard(3).count)
    shards.opened(shard(0, "d2"), Shard(10).count)
    assert shards.current("e1", "d1") == shard(1, "d1")
    assert shards.current("e1", "d2") == shard(1, "d2")
    assert shards.current("e1", "d3") == shard(0, "d3")
    assert shards.current("e2", "d1") == DocName.device("e2", "d1")  # another event, another log
    shards.appended(shard(1, "d1"), 7)
    assert shards.current("e1", "d1") == shard(2, "d1")
    assert shards.current("e1", "d2") == shard(1, "d2")


def test_a_dropped_shard_is_counted_afresh_when_reopened() -> None:
    """The replica drops a copy after a failed write; the reloaded one may hold other records."""
    shards = DeviceShards(10)
    before = Shard(5)
    shards.opened(shard(0), before.count)
    assert shards.current("e1", "d1") == shard(0)
    shards.closed(shard(0))
    shards.appended(shard(0), 100)  # an append to the dropped copy counts for nothing
    assert shards.current("e1", "d1") == shard(0)  # not in memory: taken as is
    after = Shard(10)
    shards.opened(shard(0), after.count)
    assert shards.current("e1", "d1") == shard(1)
    assert (before.counted, after.counted) == (1, 1)


def test_appends_before_the_first_count_are_not_added_twice() -> None:
    """Until counted, the in-memory shard's own length is the truth; appended() must not add to it."""
    shards = DeviceShards(10)
    shard0 = Shard(8)
    shards.opened(shard(0), shard0.count)
    shards.appended(shard(0), 2)  # already in the 8 the count will see
    assert shards.current("e1", "d1") == shard(0)


def test_control_documents_are_not_shards() -> None:
    shards = DeviceShards(10)
    shards.opened(DocName.control("e1"), Shard(99).count)
    assert shards.current("e1", "d1") == shard(0)


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        DeviceShards(0)
