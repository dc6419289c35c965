"""Acknowledgement: which of our updates each peer is known to hold.

y-protocols has no ACK.  The only proof a peer holds an update is its state
vector covering the update's clock (DESIGN.md §2), so this tracker keeps,
per document, the clocks this replica authored (every process start is a
new Yjs client id, so there may be many) and, per peer, the last state
vector the peer reported.  "Not yet acknowledged" is then a count and the
age of the oldest such update — what the kiosk shows as "12 scans not yet
at the hub, oldest 4 minutes".
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass

from sync.protocol import StateVector
from sync.store import Authored


@dataclass(frozen=True, slots=True)
class Pending:
    count: int
    oldest_at: int | None  # ms since the epoch of the oldest unacknowledged update

    def age_seconds(self, now_ms: int) -> float:
        return 0.0 if self.oldest_at is None else max(0.0, (now_ms - self.oldest_at) / 1000)


class AckTracker:
    def __init__(self) -> None:
        # doc -> client id -> (sorted clock ends, their times)
        self._authored: dict[str, dict[int, tuple[list[int], list[int]]]] = defaultdict(dict)
        self._peers: dict[tuple[str, str], StateVector] = {}

    def authored(self, doc: str, entry: Authored) -> None:
        ends, times = self._authored[doc].setdefault(entry.client_id, ([], []))
        if ends and entry.clock_end <= ends[-1]:
            i = bisect.bisect_left(ends, entry.clock_end)
            if i < len(ends) and ends[i] == entry.clock_end:
                return
            ends.insert(i, entry.clock_end)
            times.insert(i, entry.at)
        else:
            ends.append(entry.clock_end)
            times.append(entry.at)

    def peer_state(self, peer: str, doc: str, sv: StateVector) -> bool:
        """Record a peer's state vector; return True if it changed."""
        key = (peer, doc)
        if self._peers.get(key) == sv:
            return False
        self._peers[key] = dict(sv)
        return True

    def has(self, peer: str, doc: str, sv: StateVector) -> bool:
        """True if ``peer`` last reported holding at least ``sv`` of ``doc``."""
        theirs = self._peers.get((peer, doc), {})
        return all(theirs.get(client, 0) >= clock for client, clock in sv.items())

    def peers(self) -> list[str]:
        return sorted({peer for peer, _ in self._peers})

    def pending(self, peer: str, doc: str) -> Pending:
        sv = self._peers.get((peer, doc), {})
        count = 0
        oldest: int | None = None
        for client, (ends, times) in self._authored.get(doc, {}).items():
            covered = sv.get(client, 0)
            i = bisect.bisect_right(ends, covered)
            if i < len(ends):
                count += len(ends) - i
                first = times[i]  # one client writes in time order
                oldest = first if oldest is None else min(oldest, first)
        return Pending(count, oldest)

    def pending_all(self, peer: str) -> dict[str, Pending]:
        """Per document, what ``peer`` has not acknowledged (documents with none omitted)."""
        out = {}
        for doc in self._authored:
            p = self.pending(peer, doc)
            if p.count:
                out[doc] = p
        return out
