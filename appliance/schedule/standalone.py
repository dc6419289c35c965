"""The command line's way to a schedule: on a stopped box directly, through a serving box's API otherwise.

A serving box holds the control document in memory and is the only process
that may write it: an update another process appended to the store would be
stored but not applied there (the box would not show it, and would not send
it to its peers until it restarts).  So the box holds an exclusive lock on
``DIR/serving.lock`` for as long as it runs (:class:`ServingLock`; the
kernel drops it when the process dies, even by ``kill -9``), and the
commands look at it:

* the box is stopped: a write (``schedule import``) takes the lock itself,
  so a box started meanwhile waits for the import to finish, and writes
  through a replica of its own, exactly as the box would;
* the box serves: a write goes to its API (``POST /api/v1/schedule/import``
  on ``--port``, with an organizer token the command signs with the box's own
  staff secret, as ``appliance devices`` does), and is refused with a clear
  sentence if the box does not answer there;
* reads (``schedule export``, ``schedule findings``) need no lock: they read
  the stored updates of the control document, which hold everything the box
  acknowledged, and write nothing.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pycrdt import Doc

from appliance.config import DataDir
from appliance.schedule.service import ScheduleService, control_fallbacks, event_frame
from konferenco.schedule.model import EventFrame
from konferenco.schedule.rules import ScheduleIndex
from sync.names import DocName
from sync.permissions import Capability
from sync.schedule_edits import ScheduleState, read_state
from sync.sqlite_store import SQLiteUpdateStore

log = logging.getLogger(__name__)

LOCK_NAME = "serving.lock"


class BoxServing(Exception):
    """Another process serves (or is changing) this data directory."""


class ServingLock:
    """An exclusive ``flock`` on ``DIR/serving.lock``: held by a serving box, or by a command that writes."""

    def __init__(self, data: DataDir) -> None:
        self.path = data.path / LOCK_NAME
        self._fd: int | None = None

    def try_acquire(self, holder: str = "") -> bool:
        """Take the lock if nobody holds it (``holder`` is written in it); False if somebody does."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        if holder:
            self._note(holder)
        return True

    def _note(self, holder: str) -> None:
        assert self._fd is not None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{holder} (pid {os.getpid()})\n".encode(), 0)

    async def acquire(self, holder: str) -> None:
        """Take the lock, waiting (in a thread) while a command holds it; ``holder`` is written in it."""
        if self.try_acquire(holder):
            return
        log.warning("%s is held by %s; waiting for it to finish", self.path, self.holder() or "a command")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._note(holder)

    def holder(self) -> str:
        """Who says they hold the lock (best effort, for messages)."""
        try:
            return self.path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            return ""

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def is_served(data: DataDir) -> bool:
    """Does a box (or a writing command) hold this data directory right now?"""
    lock = ServingLock(data)
    if lock.try_acquire():
        lock.release()
        return False
    return True


@asynccontextmanager
async def writable_schedule(data: DataDir, holder: str) -> AsyncIterator[ScheduleService]:
    """A schedule service on a stopped box's data directory, holding its lock until done.

    Raises :class:`BoxServing` if a box serves it (use its API instead).
    """
    from appliance.storage import open_replica

    config = data.load()
    lock = ServingLock(data)
    if not lock.try_acquire(holder):
        raise BoxServing(lock.holder() or "another process")
    try:
        replica = open_replica(data, capabilities=frozenset(config.capabilities))
        await replica.start()
        conn = data.reader()
        try:
            service = ScheduleService(
                replica, conn, config.events, organizer=Capability.ORGANIZER in config.capabilities
            )
            try:
                yield service
            finally:
                service.close()
        finally:
            conn.close()
            await replica.close()
    finally:
        lock.release()


async def _control_doc(database: Path, event_id: str) -> Doc[Any]:
    """The event's control document as stored (everything a box acknowledged), applied in memory only."""
    store = SQLiteUpdateStore(database)
    try:
        updates = await store.all_updates(str(DocName.control(event_id)))
    finally:
        await store.close()
    doc: Doc[Any] = Doc()
    for update in updates:
        doc.apply_update(update)
    return doc


async def read_schedule_state(data: DataDir, event_id: str) -> tuple[ScheduleState, EventFrame]:
    """The stored schedule and the event's frame, read without taking any lock or writing anything."""
    doc = await _control_doc(data.database, event_id)
    state = read_state(doc)
    name, timezone = control_fallbacks(doc)
    conn = data.reader()
    try:
        frame = event_frame(conn, event_id, name, timezone)
    finally:
        conn.close()
    return state, frame


async def read_index(data: DataDir, event_id: str) -> ScheduleIndex:
    state, frame = await read_schedule_state(data, event_id)
    return state.index(frame)
