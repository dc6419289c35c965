"""Device-log shards: which shard of a device's log takes its new records.

A device log is sharded by count (docs/architecture.md, "Departures"):
``event/{e}/device/{d}`` holds the first :data:`SHARD_RECORDS` records,
``…/device/{d}/1`` the next ones, and so on, so that no shard's Step 2
outgrows one sync message.  Only the device itself appends to its log, so
it alone decides when to open the next shard and no coordination is needed.

:class:`DeviceShards` keeps that decision in one place.  It knows no
document library and no store: the replica tells it which shards are in
memory (:meth:`~DeviceShards.opened`, :meth:`~DeviceShards.closed`) and how
many records an append added (:meth:`~DeviceShards.appended`), and asks it
where the next record goes (:meth:`~DeviceShards.current`).  Since the
replica opens every stored document at start, the newest shard opened is
the newest one there is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sync.names import DocName

#: Records per device-log shard (~0.3-0.6 MB).  Small on purpose: pycrdt holds the GIL
#: while it decodes and applies an update, so the largest update a peer's catch-up can
#: bring is what bounds the door's pause; at 2,000 records that is ~20-30 ms (measured,
#: docs/benchmarks.md "Door during catch-up"), against ~0.6 s for a 50,000-record shard.
SHARD_RECORDS = 2_000


@dataclass(eq=False)
class _Open:
    count: Callable[[], int]  # counts the in-memory shard's records (only when first needed)
    records: int | None = None


class DeviceShards:
    """The newest shard of each device's log, and when it is full."""

    def __init__(self, records_per_shard: int = SHARD_RECORDS) -> None:
        if records_per_shard < 1:
            raise ValueError(f"records_per_shard must be positive, not {records_per_shard}")
        self.records_per_shard = records_per_shard
        self._newest: dict[tuple[str, str], int] = {}  # (event, device) -> newest shard number
        self._open: dict[DocName, _Open] = {}  # device-log shards held in memory

    def opened(self, name: DocName, count: Callable[[], int]) -> None:
        """A document is now in memory; ``count`` tells its records if it is a device log.

        ``count`` is called at most once per opening, and only for the
        newest shard, when :meth:`current` first needs it: counting every
        old shard loaded at start would be wasted.
        """
        if name.kind != "device":
            return
        key = (name.event_id, str(name.device_id))
        self._newest[key] = max(self._newest.get(key, 0), name.shard)
        self._open[name] = _Open(count)

    def closed(self, name: DocName) -> None:
        """The in-memory copy was dropped; its records are counted afresh when it is reopened."""
        self._open.pop(name, None)

    def appended(self, name: DocName, records: int) -> None:
        """``records`` records went into the in-memory copy of ``name``."""
        shard = self._open.get(name)
        if shard is not None and shard.records is not None:
            shard.records += records

    def newest(self, event_id: str, device_id: str) -> DocName:
        """The newest shard of this device's log seen so far (shard 0 if none)."""
        return DocName.device(event_id, device_id, self._newest.get((event_id, device_id), 0))

    def current(self, event_id: str, device_id: str) -> DocName:
        """The shard this device's new records go to.

        The newest shard, or the next one once the newest, in memory, holds
        :attr:`records_per_shard` records.  A newest shard that is not in
        memory (never opened, or dropped and not yet reloaded) is taken as is.
        """
        newest = self.newest(event_id, device_id)
        shard = self._open.get(newest)
        if shard is None:
            return newest
        if shard.records is None:  # counted once per opening, not on every record
            shard.records = shard.count()
        if shard.records >= self.records_per_shard:
            return newest.next_shard()
        return newest

    def names(self, event_id: str, device_id: str) -> list[DocName]:
        """Every shard of this device's log up to the newest, oldest first."""
        newest = self.newest(event_id, device_id).shard
        return [DocName.device(event_id, device_id, n) for n in range(newest + 1)]
