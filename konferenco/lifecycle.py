"""Background work that must keep going: periodic jobs and long-running loops, supervised.

One task type, :class:`Supervised`, in the spirit of Home Assistant's
``DataUpdateCoordinator``: the owner says *what* to do, the supervisor
owns *when* — the loop, the backoff after failures, the log lines, stopping —
and can say at any time how it is going (:meth:`Supervised.health`, for
``/healthz``).

* **Periodic** (``interval`` set): ``work()`` is awaited, then again every
  ``interval`` seconds.  A run that raises is retried after a backoff
  instead; the first run that succeeds again resets it.
* **Long-running** (``interval=None``): ``work()`` is a loop (a connection
  held, a queue drained).  Returning ends the task (``stopped``); raising
  restarts it after a backoff.  A loop tells the supervisor it is healthy
  again by calling :meth:`Supervised.succeeded` (e.g. once connected), or
  simply by staying up ``stable_after`` seconds: either resets the backoff.

The backoff after ``n`` failures in a row is ``min(high, low * 2**(n-1))``,
shortened by a random fraction of at most ``jitter`` (``jitter=1`` is
"full jitter": uniform between 0 and the delay), so fifty boxes coming back
after an outage do not knock on the hub in lockstep.  A failure that
backing off cannot fix may name its own delay (:class:`RetryLater`).

The first failure of a streak is logged as a warning (with its traceback,
unless its type is listed in ``expected``), the rest of the streak at debug
level, and the recovery once: an outage is three lines, not three thousand.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Literal

import msgspec

from konferenco.types import now_ms

TaskState = Literal["starting", "running", "backing_off", "stopped", "failed"]

_log = logging.getLogger(__name__)


class TaskHealth(msgspec.Struct, frozen=True, kw_only=True):
    """How one background task is doing, as ``/healthz`` shows it (times in ms since the epoch).

    ``failures`` counts the failures since the last success (0 when healthy);
    ``last_error`` and ``last_error_at`` keep the most recent one even after
    a recovery, so an operator can see what went wrong an hour ago.
    """

    name: str
    state: TaskState
    runs: int = 0
    failures: int = 0
    last_error: str | None = None
    last_success_at: int | None = None
    last_error_at: int | None = None
    next_run_at: int | None = None

    @property
    def healthy(self) -> bool:
        """Neither backing off nor given up."""
        return self.state not in ("backing_off", "failed")


class RetryLater(Exception):
    """Raised by the work to be retried after exactly ``delay`` seconds (no backoff, no jitter).

    For refusals that retrying sooner cannot fix: a revoked credential, a
    document the peer does not serve.
    """

    def __init__(self, message: str, delay: float) -> None:
        super().__init__(message)
        self.delay = delay


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Supervised:
    """One supervised background task (module docstring); ``start()`` it, ``await stop()`` it.

    ``work`` is called without arguments, once per run.  ``max_failures``
    (default: never) gives up after that many failures in a row and leaves
    the task ``failed``.
    """

    def __init__(
        self,
        name: str,
        work: Callable[[], Awaitable[object]],
        *,
        interval: float | None = None,
        backoff: tuple[float, float] = (1.0, 300.0),
        jitter: float = 0.1,
        stable_after: float = 10.0,
        first_delay: float = 0.0,
        max_failures: int | None = None,
        expected: tuple[type[BaseException], ...] = (),
        logger: logging.Logger | None = None,
    ) -> None:
        low, high = backoff
        if not 0 < low <= high:
            raise ValueError(f"{name}: backoff must be (low, high) with 0 < low <= high, not {backoff}")
        if not 0 <= jitter <= 1:
            raise ValueError(f"{name}: jitter is a fraction between 0 and 1, not {jitter}")
        if interval is not None and interval <= 0:
            raise ValueError(f"{name}: interval must be positive, not {interval}")
        self.name = name
        self.work = work
        self.interval = interval
        self.backoff = (float(low), float(high))
        self.jitter = jitter
        self.stable_after = stable_after
        self.first_delay = first_delay
        self.max_failures = max_failures
        self.expected = expected
        self.log = logger or _log
        self.state: TaskState = "stopped"
        self.runs = 0
        self.failures = 0
        self.last_error: str | None = None
        self.last_error_at: int | None = None
        self.last_success_at: int | None = None
        self.next_run_at: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._stable: asyncio.TimerHandle | None = None

    # --- what owners call -------------------------------------------------------------------

    def start(self) -> None:
        """Begin in the background (from inside a running loop); a no-op while already running."""
        if self._task is not None and not self._task.done():
            return
        self.state = "starting"
        self.next_run_at = now_ms() + round(self.first_delay * 1000)
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Cancel the work and wait for it to unwind; idempotent, and never raises the work's errors."""
        task, self._task = self._task, None
        self._cancel_stable()
        if task is not None and task is not asyncio.current_task():
            if not task.done():
                task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # whoever is stopping us is being cancelled: let that through
            except Exception as exc:  # the work failed while unwinding: report it, stop anyway
                self.log.warning("%s raised while stopping: %s", self.name, _describe(exc))
        elif task is not None:
            task.cancel()  # stopping itself from inside its work: ends at the next await
        if self.state != "failed":
            self.state = "stopped"
        self.next_run_at = None

    def succeeded(self) -> None:
        """Called by a long-running loop that is healthy (connected, caught up): resets the backoff."""
        self._cancel_stable()
        if self.failures:
            self.log.info("%s recovered after %d failure(s)", self.name, self.failures)
        self.failures = 0
        self.last_success_at = now_ms()
        if self._task is not None:
            self.state = "running"

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def health(self) -> TaskHealth:
        return TaskHealth(
            name=self.name,
            state=self.state,
            runs=self.runs,
            failures=self.failures,
            last_error=self.last_error,
            last_success_at=self.last_success_at,
            last_error_at=self.last_error_at,
            next_run_at=self.next_run_at,
        )

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failures in a row (jitter included)."""
        low, high = self.backoff
        ceiling = min(high, low * 2.0 ** min(max(failures - 1, 0), 60))
        return ceiling * (1 - self.jitter * random.random())

    # --- the loop ---------------------------------------------------------------------------

    async def _run(self) -> None:
        if self.first_delay > 0:
            await asyncio.sleep(self.first_delay)
        while True:
            self.runs += 1
            self.next_run_at = None
            if self.interval is None:
                if self.failures == 0:
                    self.state = "running"
                self._stable = asyncio.get_running_loop().call_later(self.stable_after, self.succeeded)
            try:
                await self.work()
            except Exception as exc:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # the work's cleanup failed while we were being stopped: stop() reports it
                self._cancel_stable()
                wait = self._failed(exc)
                if wait is None:
                    return
                await asyncio.sleep(wait)
                continue
            finally:
                self._cancel_stable()
            self.succeeded()
            if self.interval is None:
                self.state = "stopped"  # the loop finished its job
                return
            self.next_run_at = now_ms() + round(self.interval * 1000)
            await asyncio.sleep(self.interval)

    def _failed(self, exc: Exception) -> float | None:
        """Count a failure; the seconds to wait before the next run, or None to give up."""
        self.failures += 1
        self.last_error = _describe(exc)
        self.last_error_at = now_ms()
        if self.max_failures is not None and self.failures >= self.max_failures:
            self.state = "failed"
            self.log.error("%s gave up after %d failures: %s", self.name, self.failures, self.last_error)
            return None
        wait = exc.delay if isinstance(exc, RetryLater) else self.delay(self.failures)
        self.state = "backing_off"
        self.next_run_at = now_ms() + round(wait * 1000)
        if self.failures == 1:
            trace = None if isinstance(exc, (RetryLater, *self.expected)) else exc
            self.log.warning(
                "%s failed: %s; retrying in %.1f s", self.name, self.last_error, wait, exc_info=trace
            )
        else:
            self.log.debug("%s failed again (%d): %s", self.name, self.failures, self.last_error)
        return wait

    def _cancel_stable(self) -> None:
        if self._stable is not None:
            self._stable.cancel()
            self._stable = None


class Periodic(Supervised):
    """A :class:`Supervised` task that runs ``work`` every ``interval`` seconds (the same type, named)."""

    def __init__(
        self, name: str, work: Callable[[], Awaitable[object]], interval: float, **options: Any
    ) -> None:
        super().__init__(name, work, interval=interval, **options)


def tasks_report(tasks: Iterable[Supervised]) -> dict[str, Any]:
    """``{"status": "ok" or "degraded", "tasks": [health, ...]}``; degraded: a task backs off or gave up."""
    healths = [task.health() for task in tasks]
    return {
        "status": "ok" if all(h.healthy for h in healths) else "degraded",
        "tasks": msgspec.to_builtins(healths),
    }
