"""Supervised background tasks, with real asyncio and short intervals: retries, backoff, stop, health."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time

import msgspec
import pytest

from konferenco.lifecycle import Periodic, RetryLater, Supervised, tasks_report
from konferenco.types import now_ms
from tests.helpers import until


class Flaky:
    """Work that fails ``failures`` times, then succeeds; remembers when it was called."""

    def __init__(self, failures: int, message: str = "hub unreachable") -> None:
        self.failures = failures
        self.message = message
        self.calls: list[float] = []

    async def __call__(self) -> None:
        self.calls.append(time.monotonic())
        if len(self.calls) <= self.failures:
            raise ConnectionError(f"{self.message} (attempt {len(self.calls)})")

    def gaps(self) -> list[float]:
        return [b - a for a, b in itertools.pairwise(self.calls)]


async def test_a_failing_loop_is_restarted_with_a_growing_backoff() -> None:
    work = Flaky(failures=4)
    task = Supervised("flaky", work, backoff=(0.04, 1.0), jitter=0)
    task.start()
    try:
        await until(lambda: len(work.calls) == 5)
    finally:
        await task.stop()
    gaps = work.gaps()
    # 0.04, 0.08, 0.16, 0.32: each wait doubles (a little scheduling slack allowed).
    for gap, expected in zip(gaps, (0.04, 0.08, 0.16, 0.32), strict=True):
        assert expected * 0.9 <= gap < expected + 0.1, gaps
    assert gaps[3] > 1.6 * gaps[2] > 2.5 * gaps[1]


async def test_the_backoff_is_capped_and_jitter_only_shortens_it() -> None:
    task = Supervised("capped", Flaky(0), backoff=(0.5, 4.0), jitter=0.5)
    delays = [task.delay(n) for n in range(1, 12) for _ in range(20)]
    assert max(delays) <= 4.0
    assert min(task.delay(1) for _ in range(50)) >= 0.25
    assert len({round(d, 6) for d in delays}) > 20, "jitter spreads the retries"
    assert Supervised("fixed", Flaky(0), backoff=(0.5, 4.0), jitter=0).delay(3) == 2.0


async def test_a_success_resets_the_backoff() -> None:
    outcomes = iter([False, False, False, True, False, True, True])
    calls: list[float] = []

    async def work() -> None:
        calls.append(time.monotonic())
        if not next(outcomes, True):
            raise OSError("printer off")

    task = Periodic("poll", work, interval=0.03, backoff=(0.05, 5.0), jitter=0)
    task.start()
    try:
        await until(lambda: len(calls) >= 7)
    finally:
        await task.stop()
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert gaps[2] >= 0.18, "third failure in a row: 0.2 s"
    assert gaps[4] < 0.1, "the failure after a success waits the shortest backoff again, not 0.4 s"
    assert task.failures == 0 and task.last_success_at is not None


async def test_a_periodic_task_runs_every_interval_and_reports_running() -> None:
    work = Flaky(failures=0)
    task = Periodic("signs", work, interval=0.05)
    task.start()
    try:
        await until(lambda: len(work.calls) >= 4)
        health = task.health()
    finally:
        await task.stop()
    assert all(0.045 <= gap < 0.15 for gap in work.gaps()), work.gaps()
    assert health.state == "running" and health.failures == 0 and health.runs >= 4
    assert health.next_run_at is None or health.next_run_at <= now_ms() + 100


async def test_health_shows_the_last_error_and_when_the_next_try_is() -> None:
    work = Flaky(failures=100, message="connection refused by 10.0.0.7")
    task = Supervised("catalog pull", work, backoff=(30.0, 60.0), jitter=0)
    before = now_ms()
    task.start()
    try:
        await until(lambda: task.state == "backing_off")
        health = task.health()
        report = tasks_report([task])
    finally:
        await task.stop()
    assert health.name == "catalog pull" and health.state == "backing_off"
    assert health.failures == 1 and health.runs == 1
    assert health.last_error == "ConnectionError: connection refused by 10.0.0.7 (attempt 1)"
    assert health.last_error_at is not None and before <= health.last_error_at <= now_ms()
    assert health.next_run_at is not None and health.next_run_at - health.last_error_at == pytest.approx(
        30_000, abs=50
    )
    assert health.last_success_at is None
    assert report["status"] == "degraded"
    assert report["tasks"][0]["last_error"].startswith("ConnectionError: connection refused")
    msgspec.json.encode(report)  # what /healthz sends


async def test_the_last_error_is_kept_after_recovery_and_the_report_is_ok_again() -> None:
    work = Flaky(failures=1)
    task = Periodic("heartbeat", work, interval=10.0, backoff=(0.02, 0.02))
    task.start()
    try:
        await until(lambda: task.state == "running")
        report = tasks_report([task])
    finally:
        await task.stop()
    assert report["status"] == "ok"
    assert report["tasks"][0]["failures"] == 0
    assert report["tasks"][0]["last_error"] == "ConnectionError: hub unreachable (attempt 1)"
    assert report["tasks"][0]["next_run_at"] > now_ms() + 9_000


async def test_stop_is_prompt_and_idempotent() -> None:
    started = asyncio.Event()
    finished = False

    async def forever() -> None:
        nonlocal finished
        started.set()
        await asyncio.sleep(3600)
        finished = True

    task = Supervised("listen", forever)
    task.start()
    await started.wait()
    assert task.running and task.state == "running"
    t0 = time.monotonic()
    await task.stop()
    assert time.monotonic() - t0 < 0.5
    assert not task.running and task.state == "stopped" and not finished
    await task.stop()  # twice: nothing happens
    await Supervised("never started", forever).stop()


async def test_stop_during_a_backoff_is_prompt_too() -> None:
    task = Supervised("down", Flaky(failures=100), backoff=(3600.0, 3600.0))
    task.start()
    await until(lambda: task.state == "backing_off")
    t0 = time.monotonic()
    await task.stop()
    assert time.monotonic() - t0 < 0.5 and task.state == "stopped" and task.next_run_at is None


async def test_an_error_while_stopping_does_not_leak(caplog: pytest.LogCaptureFixture) -> None:
    started = asyncio.Event()

    async def messy() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        finally:
            raise RuntimeError("socket already closed")  # cleanup that fails on cancel

    task = Supervised("messy", messy)
    task.start()
    await started.wait()
    with caplog.at_level(logging.WARNING, logger="konferenco.lifecycle"):
        await task.stop()  # does not raise
    assert task.state == "stopped"
    assert "messy raised while stopping: RuntimeError: socket already closed" in caplog.text


async def test_stopping_does_not_swallow_the_cancellation_of_whoever_stops() -> None:
    async def stubborn() -> None:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                await asyncio.sleep(0.2)  # slow to unwind
                raise

    task = Supervised("stubborn", stubborn)
    task.start()
    await asyncio.sleep(0.01)
    stopper = asyncio.create_task(task.stop())
    await asyncio.sleep(0.01)
    stopper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopper


async def test_a_loop_that_returns_is_finished_and_one_that_calls_succeeded_resets_its_backoff() -> None:
    attempts = 0
    task: Supervised

    async def connect_then_drop() -> None:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise OSError("refused")
        task.succeeded()  # connected
        if attempts == 3:
            raise ConnectionResetError("dropped")  # a new streak starts at the shortest backoff
        # attempt 4: its job is done

    task = Supervised("link", connect_then_drop, backoff=(0.02, 10.0), jitter=0)
    task.start()
    await until(lambda: task.state == "stopped")
    await task.stop()
    assert attempts == 4 and task.failures == 0
    assert task.last_error == "ConnectionResetError: dropped"


async def test_a_loop_that_stays_up_long_enough_counts_as_recovered() -> None:
    attempts = 0

    async def session() -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise OSError("refused")
        await asyncio.sleep(3600)

    task = Supervised("session", session, backoff=(0.01, 1.0), stable_after=0.1)
    task.start()
    try:
        await until(lambda: attempts == 2)
        assert task.state == "backing_off", "restarted, not yet proven"
        await until(lambda: task.state == "running")
        assert task.failures == 0 and task.last_success_at is not None
    finally:
        await task.stop()


async def test_retry_later_waits_exactly_what_it_says() -> None:
    calls: list[float] = []

    async def refused() -> None:
        calls.append(time.monotonic())
        raise RetryLater("token revoked", 0.15)

    task = Supervised("sync", refused, backoff=(0.01, 0.01))
    task.start()
    try:
        await until(lambda: len(calls) >= 2)
    finally:
        await task.stop()
    assert calls[1] - calls[0] >= 0.14
    assert task.last_error == "RetryLater: token revoked"


async def test_it_gives_up_after_max_failures(caplog: pytest.LogCaptureFixture) -> None:
    work = Flaky(failures=100)
    task = Supervised("doomed", work, backoff=(0.01, 0.01), max_failures=3)
    with caplog.at_level(logging.DEBUG, logger="konferenco.lifecycle"):
        task.start()
        await until(lambda: task.state == "failed")
        await asyncio.sleep(0.05)
    assert len(work.calls) == 3 and not task.running
    assert tasks_report([task])["status"] == "degraded"
    await task.stop()
    assert task.state == "failed", "stop does not hide that it gave up"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, "one warning per streak, not one per attempt"
    assert "doomed gave up after 3 failures" in caplog.text


async def test_a_task_can_start_again_after_stopping() -> None:
    work = Flaky(failures=0)
    task = Periodic("again", work, interval=3600)
    task.start()
    await until(lambda: len(work.calls) == 1)
    await task.stop()
    task.start()
    await until(lambda: len(work.calls) == 2)
    assert task.running
    await task.stop()


def test_settings_that_make_no_sense_are_refused() -> None:
    async def work() -> None:
        return None

    with pytest.raises(ValueError, match="backoff"):
        Supervised("x", work, backoff=(2.0, 1.0))
    with pytest.raises(ValueError, match="jitter"):
        Supervised("x", work, jitter=1.5)
    with pytest.raises(ValueError, match="interval"):
        Periodic("x", work, interval=0)
