"""Hosts' edits laid over the schedule: the hook the schedule service calls on every read.

A host retitles their session at a kiosk; the edit is a ``HostEdit`` in the
kiosk's device log (a kiosk may not write the control document), projected
into ``grassroots_host_edit``.  Every read of the schedule passes its
sessions through :class:`HostOverlay`, which applies the one rule every
replica applies (:func:`konferenco.schedule.grassroots.apply_host_edits`).

The schedule service rebuilds its rule index only when the overlaid sessions
change, and tells the signs when it is notified; so the overlay answers the
same object while neither the sessions nor the edits changed (one count
query a read), and :class:`HostEditWatch` notifies the schedule when an edit
arrives from a peer.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Iterable

import msgspec

from konferenco.schedule.grassroots import apply_host_edits
from sync.names import DocName
from sync.records import HostEdit, Session

log = logging.getLogger(__name__)

_decode = msgspec.json.Decoder(HostEdit).decode
#: SQLite's limit on bound parameters is 32,766; sessions with a host are far fewer.
_CHUNK = 500


class HostOverlay:
    """``(event, sessions) -> sessions`` with the hosts' edits, cached per (sessions, edits) version."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn  # the event loop's read connection
        self._last: dict[str, tuple[dict[str, Session], int, dict[str, Session]]] = {}

    def version(self) -> int:
        """Changes whenever a host edit is projected (edits are only ever added; a rebuild restarts)."""
        row = self.conn.execute("SELECT count(*) FROM grassroots_host_edit").fetchone()
        return int(row[0])

    def edits(self, event_id: str, session_ids: Iterable[str]) -> list[HostEdit]:
        ids = list(session_ids)
        found: list[HostEdit] = []
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            found += [
                _decode(body)
                for (body,) in self.conn.execute(
                    f"SELECT body FROM grassroots_host_edit WHERE event_id = ? AND session_id IN ({marks})",
                    [event_id, *chunk],
                )
            ]
        return found

    def __call__(self, event_id: str, sessions: dict[str, Session]) -> dict[str, Session]:
        version = self.version()
        last = self._last.get(event_id)
        if last is not None and last[0] is sessions and last[1] == version:
            return last[2]
        hosted = [sid for sid, s in sessions.items() if s.host]
        result = apply_host_edits(sessions, self.edits(event_id, hosted)) if hosted and version else sessions
        self._last[event_id] = (sessions, version, result)
        return result


class HostEditWatch:
    """Tells the schedule (and through it the signs) when a host's edit arrives from a peer.

    A replica hands an update to its listeners as soon as it is stored, before
    it is projected; so an update that may hold a host edit (its bytes name
    the record kind: a scan storm costs one substring search per update) sets
    off a few checks of the projected edits a little later, and the first
    one that sees a new edit notifies.  The signs also refresh every few
    seconds on their own, so a missed notice only delays.
    """

    DELAYS = (0.2, 0.5, 1.0, 2.0)

    def __init__(self, overlay: HostOverlay, notify: Callable[[str], None]) -> None:
        self.overlay = overlay
        self.notify = notify
        self._seen = overlay.version()
        self._pending: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def stored(self, name: str, update: bytes, source: object) -> None:
        """A replica listener: ``(document, update, source)`` after each stored update."""
        if "/device/" not in name or b"host_edit" not in update:
            return
        event_id = DocName.parse(name).event_id
        if event_id in self._pending:
            return
        self._pending.add(event_id)
        task = asyncio.get_running_loop().create_task(self._check(event_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _check(self, event_id: str) -> None:
        try:
            before = self._seen
            for delay in self.DELAYS:
                await asyncio.sleep(delay)
                version = self.overlay.version()
                if version != before:
                    self._seen = version
                    self.notify(event_id)
                    return
        except Exception:
            log.exception("could not look for new host edits")
        finally:
            self._pending.discard(event_id)

    def seen(self) -> None:
        """A local edit was recorded and notified already: do not notify it again."""
        self._seen = self.overlay.version()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
