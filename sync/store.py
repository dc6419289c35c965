"""The update log: what every replica keeps durable, whatever its database.

Every document is an append-only log of v1 updates plus a compacted
snapshot.  The rules that make a replica crash-safe live here, in the
interface, so the SQLite (appliance) and PostgreSQL (hub) stores obey the
same ones:

* **A local write is one transaction**: the update, the author's clock and
  the projection of what it changed commit together, or none of them do.
* **A remote update is stored before it is applied** (unprojected), then
  applied, then projected with ``mark_projected`` in a second transaction.
  A crash between the two leaves an unprojected row, which :meth:`load`
  hands back separately so the replica applies it with observers and
  projects it again.  No cursor: updates commute, so "projected" is a flag
  per row, not a position.
* **Compaction** merges projected rows with Yrs' bytes-only
  ``merge_updates`` and deletes them in the same transaction: small rows
  into segments often, segments into the snapshot rarely.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from konferenco.errors import KonferencoError
from sync.documents import Change

LOCAL_ORIGIN = "local"


@dataclass(frozen=True, slots=True)
class Authored:
    """Which Yjs client wrote a local update, and its clock after the update.

    Kept so a replica can count its updates a peer has not acknowledged,
    across restarts (each process start is a new client id).
    """

    client_id: int
    clock_end: int
    at: int


@dataclass(frozen=True, slots=True)
class StoredUpdate:
    seq: int
    update: bytes
    origin: str


@dataclass(slots=True)
class LoadedDoc:
    """Everything needed to rebuild a document in memory."""

    base: list[StoredUpdate] = field(default_factory=list)  # snapshot (seq 0) + projected updates
    unprojected: list[StoredUpdate] = field(default_factory=list)
    authored: list[Authored] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Compaction:
    doc: str
    merged_updates: int
    snapshot_bytes: int


class WriteGuard:
    """Shared by the writes made from one in-memory copy of a document.

    If one of them fails to commit, every later write from the same copy
    would refer to clocks that were never stored (a gap no peer can fill),
    so the store refuses them too and the replica reloads the document.
    """

    __slots__ = ("broken",)

    def __init__(self) -> None:
        self.broken = False


class StorageError(KonferencoError, RuntimeError):
    """The store could not make a write durable (disk full, I/O error, …); nothing was written.

    ``reason`` is the store's own word (``disk_full``, ``storage_failed``, ``stale``,
    ``reloading``), which sync sessions close with; ``code`` is what an HTTP client acts on:
    ``disk_full`` (507, retry once space is freed) or ``unavailable`` (503, retry soon).
    Either way the client sends the same request again, so the message says so.
    """

    code = "unavailable"

    def __init__(self, reason: str, message: str) -> None:
        full = reason == "disk_full"
        hint = "once space is freed" if full else "in a moment"
        super().__init__(
            f"{message}. Send the same request again {hint} (a scan with the same nonce)",
            code="disk_full" if full else "unavailable",
            reason=reason,
            **({} if full else {"retry_after": 1}),
        )
        self.reason = reason


class TooLate(StorageError):
    """A local write reached the store after its deadline, so nothing of it was written.

    The scan path's promise (docs/checkin.md, "Deadline"): a scan is answered
    within its deadline or refused *before* it is recorded, never recorded
    after the client gave up.  A retry with the same nonce is a fresh scan.
    """

    def __init__(self, late_by: float) -> None:
        KonferencoError.__init__(
            self,
            f"the scan could not be recorded in time ({late_by * 1000:.0f} ms past its deadline) and was"
            " not recorded; send it again with the same nonce",
            code="too_late",
            retry_after=0,
        )
        self.reason = "too_late"


def check_deadline(deadline: float | None) -> None:
    """Raise :class:`TooLate` if ``deadline`` (``time.monotonic()`` seconds) has passed."""
    if deadline is not None:
        late_by = time.monotonic() - deadline
        if late_by > 0:
            raise TooLate(late_by)


class UpdateStore(Protocol):
    async def open(self) -> None:
        """Create or migrate the tables; idempotent."""
        ...

    async def append(
        self,
        doc: str,
        update: bytes,
        origin: str,
        *,
        guard: WriteGuard | None = None,
        authored: Authored | None = None,
        changes: Sequence[Change] | None = None,
        deadline: float | None = None,
    ) -> int:
        """Store one update durably; with ``changes`` project them in the same
        transaction and mark the row projected.  Returns the row's sequence.

        With a ``deadline``, a write whose transaction has not begun by then is
        refused with :class:`TooLate` and nothing is stored."""
        ...

    async def mark_projected(self, doc: str, seq: int, changes: Sequence[Change]) -> None: ...

    async def load(self, doc: str) -> LoadedDoc: ...

    async def compact(self, doc: str, *, limit: int = 5000, full: bool = False) -> Compaction:
        """Merge projected updates (bounded work per call); ``full`` folds all into the snapshot."""
        ...

    async def documents(self) -> list[str]: ...

    async def all_updates(self, doc: str) -> list[bytes]:
        """Snapshot and every stored update, for rebuilding projections."""
        ...

    async def rebuild(self, docs: dict[str, list[Change]]) -> None:
        """Reset the projections and project ``docs`` afresh, in one transaction."""
        ...

    async def quarantine_update(self, doc: str, seq: int, error: str) -> None:
        """Move a stored update that cannot be applied out of the log, into quarantine."""
        ...

    async def save_peer_state(self, peer: str, doc: str, state_vector: bytes) -> None: ...

    async def peer_states(self) -> dict[tuple[str, str], bytes]: ...

    async def quarantined(self) -> list[dict[str, object]]: ...

    async def close(self) -> None: ...
