"""/healthz names a worker's background loops, and says "degraded" (still 200) while one backs off."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.helpers import PG_SERVER, HubProcess, wait_for

LOOPS = {"sync fan-out: listen", "sync fan-out: apply", "device heartbeat"}


@pytest.fixture
def hub(hub_db: str, tmp_path: Path) -> Iterator[HubProcess]:
    with HubProcess(hub_db, tmp_path / "secrets") as process:
        yield process


def admin(sql: str, *args: object) -> Any:
    async def run() -> Any:
        conn = await asyncpg.connect(PG_SERVER)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


def health(hub: HubProcess) -> tuple[int, dict[str, Any]]:
    response = httpx.get(f"{hub.url}/healthz", timeout=5)
    return response.status_code, response.json()


def task(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in report["tasks"] if t["name"] == name)


def test_a_worker_that_cannot_reconnect_its_fanout_is_degraded_and_says_why(
    hub: HubProcess, hub_db: str
) -> None:
    database = hub_db.rsplit("/", 1)[1]
    status, report = health(hub)
    assert status == 200 and report["status"] == "ok"
    assert {t["name"] for t in report["tasks"]} == LOOPS
    assert all(t["state"] in ("starting", "running") and t["failures"] == 0 for t in report["tasks"])

    # New connections are refused, and the LISTEN connection is cut: the pool's own keep working.
    admin(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
    try:
        cut = admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND query LIKE 'LISTEN%'",
            database,
        )
        assert len(cut) == 1
        status, report = wait_for(
            lambda: (answer := health(hub))[1]["status"] == "degraded" and answer, what="a degraded health"
        )
        assert status == 200, "degraded is still up: the API and sync keep answering"
        listen = task(report, "sync fan-out: listen")
        assert listen["state"] == "backing_off" and listen["failures"] >= 1
        assert listen["next_run_at"] >= listen["last_error_at"]
        wait_for(
            lambda: (
                "not currently accepting connections"
                in (task(health(hub)[1], "sync fan-out: listen")["last_error"] or "")
            ),
            what="the reconnection's refusal in the report",
        )
    finally:
        admin(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')

    _, report = wait_for(lambda: (answer := health(hub))[1]["status"] == "ok" and answer, what="recovery")
    listen = task(report, "sync fan-out: listen")
    assert listen["state"] == "running" and listen["failures"] == 0
    assert "not currently accepting connections" in listen["last_error"], "the last error stays visible"
    assert listen["last_success_at"] > listen["last_error_at"]
