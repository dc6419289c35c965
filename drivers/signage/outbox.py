"""Latest-only retained state, and the bookkeeping that keeps the broker's copy the newest one.

Signage is state, not a stream: a display only needs the newest schedule of
its room.  So while the broker is away the publisher keeps one payload per
topic (a later update replaces an earlier one; memory is bounded by the
number of topics, not by the outage), and on every (re)connect it publishes
them all, because a restarted broker without persistence has lost its
retained messages.

One trap makes the acknowledgement bookkeeping necessary: paho re-sends a
QoS 1 message that was in flight when the connection dropped, and it does
so *after* ``on_connect``, i.e. after our fresh republish.  The broker would
then retain the older payload.  Every PUBACK therefore tells us which
payload the broker holds now; if it is not the newest, the newest goes out
again.  Pure bookkeeping, no I/O: the publisher does the sending.
"""

from __future__ import annotations

from typing import NamedTuple


class Pending(NamedTuple):
    """A payload to (re)publish retained on ``topic``; ``seq`` orders every put across topics."""

    topic: str
    seq: int
    payload: bytes


class Outbox:
    def __init__(self) -> None:
        self._seq = 0
        self._latest: dict[str, Pending] = {}
        self._in_flight: dict[int, tuple[str, int]] = {}  # paho mid -> (topic, seq)
        self._at_broker: dict[str, int] = {}  # topic -> seq of the last payload the broker acknowledged

    def put(self, topic: str, payload: bytes) -> Pending:
        """Make ``payload`` the state of ``topic``, replacing any unsent older one."""
        self._seq += 1
        self._latest[topic] = pending = Pending(topic, self._seq, payload)
        return pending

    def latest(self, topic: str) -> bytes | None:
        entry = self._latest.get(topic)
        return None if entry is None else entry.payload

    def sent(self, mid: int, pending: Pending) -> None:
        """``pending`` was handed to the client as message ``mid``."""
        self._in_flight[mid] = (pending.topic, pending.seq)

    def _flying(self, pending: Pending) -> bool:
        return (pending.topic, pending.seq) in self._in_flight.values()

    def on_connect(self) -> list[Pending]:
        """Everything to publish on a fresh connection, oldest put first.

        A payload still in flight is left out: the client re-sends it itself.
        """
        return sorted((p for p in self._latest.values() if not self._flying(p)), key=lambda p: p.seq)

    def acked(self, mid: int) -> Pending | None:
        """The broker confirmed ``mid``; returns the newest payload if the broker now holds an older one."""
        entry = self._in_flight.pop(mid, None)
        if entry is None:
            return None  # a command, or a message from before a reset
        topic, seq = entry
        self._at_broker[topic] = seq
        newest = self._latest[topic]
        if newest.seq == seq or self._flying(newest):
            return None
        return newest

    def waiting(self) -> int:
        """How many topics have a newer state than the broker confirmed (shown to staff)."""
        return sum(1 for p in self._latest.values() if self._at_broker.get(p.topic) != p.seq)

    def reset_in_flight(self) -> None:
        """Forget what the client had in flight (the client itself is gone)."""
        self._in_flight.clear()
