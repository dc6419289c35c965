"""The durable badge print queue: every job survives a crash, none prints twice on its own.

States: ``queued → printing → done | uncertain``; a job that could not be
sent (printer off, out of paper, cover open) goes back to ``queued`` with
a growing delay and the reason for staff; staff may ``cancel`` a waiting
job or ``reprint`` any finished one (a new job that points at the old).

What each write guarantees (one SQLite transaction each, FULL sync, through
the appliance's single writer):

* ``enqueue`` returns only once the job is on disk: an acknowledged print
  request is never lost, whatever happens to the printer or the process.
* ``printing`` is committed *before* the first byte goes to the printer.  A
  crash while sending therefore leaves a ``printing`` row, which the next
  start turns into ``uncertain`` — the badge may or may not have come out,
  so a person decides (reprint), never the machine.
* An automatic job (first admission at a gate that prints) can exist once
  per attendee (a unique index): a retried scan, a restart or a second door
  never prints a second badge on its own.

Every finished job is also recorded in this device's log as a
``BadgePrint`` record, so the hub and the other appliances see what was
printed where.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable
from typing import Any, Literal, Protocol

import msgspec

from appliance.catalog.roster import on_roster
from konferenco.errors import KonferencoError
from konferenco.types import new_id, now_ms
from sync.permissions import KindNotAllowed
from sync.records import BadgePrint
from sync.replica import Replica
from sync.sqlite_writer import SQLiteWriter

log = logging.getLogger(__name__)

Kind = Literal["auto", "request", "reprint"]
Status = Literal["queued", "printing", "done", "failed", "uncertain", "cancelled"]
#: Seconds between attempts while a printer cannot take a job (then stays at the last value).
BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


class PrintJob(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    event_id: str
    attendee_id: str
    printer: str
    kind: Kind
    status: Status
    attempts: int = 0
    next_attempt_at: int = 0
    detail: str = ""
    reprint_of: str | None = None
    created_at: int = 0
    updated_at: int = 0
    reason: str = ""  # why staff asked for it (a reprint's reason); empty for automatic jobs


class Outcome(Protocol):
    """What a printer driver reports for one job (``drivers.printer``)."""

    @property
    def status(self) -> str: ...  # "done" | "failed" (nothing sent) | "uncertain" (cut off mid-job)

    @property
    def reason(self) -> str: ...


class Printer(Protocol):
    async def print_badge(self, data: bytes) -> Outcome: ...


class PrintError(KonferencoError):
    """A print request refused; ``code`` is from :data:`konferenco.errors.CODES` and fixes the status.

    ``status`` is ignored, accepted only so that call sites written before the shared vocabulary
    keep working.
    """

    code = "conflict"

    def __init__(self, code: str, message: str, status: int | None = None, **details: Any) -> None:
        super().__init__(message, code=code, **details)


#: Turns a job into the printer's bytes (layout + ESC/POS); raises on a badge that cannot be made.
Render = Callable[[PrintJob], bytes]

_COLUMNS = (
    "id, event_id, attendee_id, printer, kind, status, attempts, next_attempt_at, detail, reprint_of,"
    " created_at, updated_at, reason"
)


_COLUMN_COUNT = len(_COLUMNS.split(","))


def _job(row: tuple[Any, ...]) -> PrintJob:
    return PrintJob(**dict(zip([c.strip() for c in _COLUMNS.split(",")], row, strict=True)))


class PrintQueue:
    def __init__(
        self,
        writer: SQLiteWriter,
        reader: sqlite3.Connection,
        replica: Replica,
        device_id: str,
        printers: dict[str, Printer],
        render: Render,
        *,
        backoff: tuple[float, ...] = BACKOFF_S,
        on_change: Callable[[PrintJob], None] | None = None,
    ) -> None:
        self.writer = writer
        self.reader = reader
        self.replica = replica
        self.device_id = device_id
        self.printers = printers
        self.render = render
        self.backoff = backoff
        #: Told every job's new state once it is committed (the live feed); must not block or raise.
        self.on_change = on_change
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Settle jobs a crash interrupted, then print what is due."""
        interrupted = await self.writer.run(self._settle_interrupted)
        for job in interrupted:
            log.warning("print job %s was being printed when the appliance stopped: marked uncertain", job.id)
            await self._record(job, "uncertain", job.detail)
            self._changed(job.id)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @staticmethod
    def _settle_interrupted(conn: sqlite3.Connection) -> list[PrintJob]:
        detail = "the appliance stopped while printing; check whether the badge came out, reprint if not"
        rows = conn.execute(
            f"UPDATE print_job SET status = 'uncertain', detail = ?, updated_at = ? WHERE status = 'printing'"
            f" RETURNING {_COLUMNS}",
            (detail, now_ms()),
        ).fetchall()
        return [_job(r) for r in rows]

    # --- what staff and the door do ----------------------------------------------------------

    async def enqueue(
        self,
        event_id: str,
        attendee_id: str,
        printer: str,
        kind: Kind = "request",
        reprint_of: str | None = None,
        reason: str = "",
    ) -> PrintJob | None:
        """Queue a badge; durable on return.  None for an automatic job the attendee already had."""
        if printer not in self.printers:
            raise PrintError("no_printer", f"no printer '{printer}' is configured on this appliance")
        if not on_roster(self.reader, event_id, attendee_id):  # a badge for nobody opens no door
            raise PrintError("unknown_attendee", f"no attendee '{attendee_id}' in this event")
        now = now_ms()
        job = PrintJob(
            id=new_id(),
            event_id=event_id,
            attendee_id=attendee_id,
            printer=printer,
            kind=kind,
            status="queued",
            reprint_of=reprint_of,
            created_at=now,
            updated_at=now,
            reason=reason,
        )

        def insert(conn: sqlite3.Connection) -> bool:
            try:
                conn.execute(
                    f"INSERT INTO print_job ({_COLUMNS}) VALUES ({', '.join('?' * _COLUMN_COUNT)})",
                    tuple(msgspec.structs.astuple(job)),
                )
            except sqlite3.IntegrityError:
                if kind == "auto":
                    return False  # this attendee's badge was printed (or queued) automatically before
                raise
            return True

        if not await self.writer.run(insert):
            return None
        self._wake.set()
        self._changed(job.id)
        return job

    async def reprint(self, job_id: str, reason: str = "") -> PrintJob:
        old = self.job(job_id)
        if old.status in ("queued", "printing"):
            raise PrintError("not_finished", "this job has not finished yet; wait for it or cancel it")
        job = await self.enqueue(
            old.event_id, old.attendee_id, old.printer, "reprint", reprint_of=old.id, reason=reason
        )
        assert job is not None
        return job

    async def cancel(self, job_id: str) -> PrintJob:
        def update(conn: sqlite3.Connection) -> tuple[Any, ...] | None:
            row: tuple[Any, ...] | None = conn.execute(
                "UPDATE print_job SET status = 'cancelled', updated_at = ?"
                f" WHERE id = ? AND status = 'queued' RETURNING {_COLUMNS}",
                (now_ms(), job_id),
            ).fetchone()
            return row

        row = await self.writer.run(update)
        if row is None:
            current = self.job(job_id)
            raise PrintError(
                "not_waiting", f"only a waiting job can be cancelled; this one is {current.status}"
            )
        job = _job(row)
        self._changed(job.id)
        await self._record(job, "failed", "cancelled by staff")
        return job

    def job(self, job_id: str) -> PrintJob:
        row = self.reader.execute(f"SELECT {_COLUMNS} FROM print_job WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise PrintError("not_found", f"no print job {job_id}")
        return _job(row)

    def jobs(self, status: str | None = None, limit: int = 100) -> list[PrintJob]:
        rows = self.reader.execute(
            f"SELECT {_COLUMNS} FROM print_job WHERE (? IS NULL OR status = ?)"
            " ORDER BY created_at DESC LIMIT ?",
            (status, status, limit),
        ).fetchall()
        return [_job(r) for r in rows]

    # --- the worker ---------------------------------------------------------------------------

    def _next_due(self) -> tuple[PrintJob | None, float | None]:
        row = self.reader.execute(
            f"SELECT {_COLUMNS} FROM print_job WHERE status = 'queued'"
            " ORDER BY next_attempt_at, created_at LIMIT 1"
        ).fetchone()
        if row is None:
            return None, None
        job = _job(row)
        wait = (job.next_attempt_at - now_ms()) / 1000
        return (job, None) if wait <= 0 else (None, wait)

    async def _run(self) -> None:
        while True:
            job, wait = self._next_due()
            if job is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=wait if wait is not None else 30)
                continue
            try:
                await self._process(job)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not stop every later badge: log it, park the job
                log.exception("print job %s failed unexpectedly", job.id)
                await self._set(job.id, "failed", "internal error; see the appliance log")

    async def _process(self, job: PrintJob) -> None:
        printer = self.printers.get(job.printer)
        if printer is None:
            await self._retry(job, f"printer '{job.printer}' is not configured any more")
            return
        try:
            data = await asyncio.to_thread(self.render, job)
        except Exception as exc:
            await self._set(job.id, "failed", f"the badge could not be made: {exc}")
            await self._record(job, "failed", f"the badge could not be made: {exc}")
            return
        await self._set(job.id, "printing", "")  # committed before the first byte (module docstring)
        outcome = await printer.print_badge(data)
        if outcome.status == "done":
            await self._set(job.id, "done", "")
            await self._record(job, "done", "")
        elif outcome.status == "uncertain":
            await self._set(job.id, "uncertain", outcome.reason)
            await self._record(job, "uncertain", outcome.reason)
        else:  # nothing was sent: wait for the printer, keep the reason for staff
            await self._retry(job, outcome.reason)

    async def _retry(self, job: PrintJob, reason: str) -> None:
        delay = self.backoff[min(job.attempts, len(self.backoff) - 1)]

        def update(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE print_job SET status = 'queued', attempts = attempts + 1, next_attempt_at = ?,"
                " detail = ?, updated_at = ? WHERE id = ?",
                (now_ms() + int(delay * 1000), reason, now_ms(), job.id),
            )

        await self.writer.run(update)
        self._changed(job.id)
        if job.attempts == 0:
            log.warning("print job %s waits for printer %s: %s", job.id, job.printer, reason)

    async def _set(self, job_id: str, status: Status, detail: str) -> None:
        def update(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE print_job SET status = ?, detail = ?, updated_at = ? WHERE id = ?",
                (status, detail, now_ms(), job_id),
            )

        await self.writer.run(update)
        self._changed(job_id)

    def _changed(self, job_id: str) -> None:
        """Tell the listener (the live feed) the job as now committed; its trouble is never the queue's."""
        if self.on_change is None:
            return
        try:
            self.on_change(self.job(job_id))
        except Exception:
            log.exception("print job %s: the change listener failed", job_id)

    async def _record(
        self, job: PrintJob, status: Literal["done", "failed", "uncertain"], reason: str
    ) -> None:
        record = BadgePrint(
            job_id=job.id,
            attendee_id=job.attendee_id,
            printer=job.printer,
            status=status,
            reason=reason[:500],
        )
        try:
            await self.replica.log(job.event_id, self.device_id, record)
        except KindNotAllowed as exc:
            # The badge was printed (or not) all the same, and the job says so here; peers are
            # not told, because this box's certificate does not make it a print station.
            log.warning("print job %s: %s", job.id, exc)
