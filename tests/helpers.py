"""Shared test helpers: the command line in-process, servers as real processes, waiting with deadlines."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self, TypeVar

import httpx

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
KONFERENCO = [sys.executable, "-m", "konferenco.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class CliResult:
    """What a user of ``konferenco ARGS`` sees: the exit code and the two streams."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


_CLI = threading.Lock()  # CliRunner swaps sys.stdout for the whole process: one command at a time


def _invoke(args: tuple[str, ...], input: str | None, env: Mapping[str, str] | None = None) -> CliResult:
    from click.testing import CliRunner

    from konferenco.cli import main

    root, httpx_log = logging.getLogger(), logging.getLogger("httpx")
    saved = root.handlers[:], root.level, httpx_log.level
    with _CLI:
        try:  # ``main`` sets up logging for a process of its own: give the test run its own back
            result = CliRunner().invoke(
                main, args, input=input, env=env, catch_exceptions=False, prog_name="konferenco"
            )
        finally:
            root.handlers[:] = saved[0]
            root.setLevel(saved[1])
            httpx_log.setLevel(saved[2])
    return CliResult(args, result.exit_code, result.stdout, result.stderr)


def konferenco(
    *args: str, check: bool = True, input: str | None = None, env: Mapping[str, str] | None = None
) -> CliResult:
    """Run ``konferenco ARGS`` in this process (Click's CliRunner), as a user would from a shell.

    ENV: variables set for the command only (Click reads ``envvar`` options from them).

    A one-shot command needs no process of its own: this saves the interpreter start and the
    imports of every call.  Servers run as real processes (:class:`ServiceProcess`).  CHECK: a
    non-zero exit fails the test, with what the command said.  A crash raises its exception.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        result = _invoke(args, input, env)
    else:  # called from async code: the command runs its own event loop, so not on this thread
        with ThreadPoolExecutor(max_workers=1) as pool:
            result = pool.submit(_invoke, args, input, env).result()
    if check and result.returncode != 0:
        raise AssertionError(
            f"konferenco {' '.join(args)} exited with {result.returncode}:\n{result.stdout}{result.stderr}"
        )
    return result


#: Every log file a server process of this test session wrote to, and the appliance data
#: directories they served: ``tests/conftest.py`` reads them all at the end of the session and
#: fails it if any log holds a credential, token, PIN or password (issue 18).
SESSION_LOGS: set[Path] = set()
SESSION_DATA_DIRS: set[Path] = set()


class ServiceProcess:
    """A ``konferenco … serve`` child process, its output in a log file, healthy once /healthz answers.

    Started in its own session, so stopping it also stops the workers a server may have spawned.
    """

    kind = "service"

    def __init__(self, log: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.log = log.parent / f"{log.name}-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def launcher(self) -> list[str]:
        """What runs the command (e.g. ``ip netns exec NS`` for a box on a network of its own)."""
        return []

    def start(self, timeout: float = 30) -> Self:
        SESSION_LOGS.add(self.log)
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [*self.launcher(), *KONFERENCO, *self.command()],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.kind} not healthy after {timeout} s:\n{self.log.read_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ApplianceProcess(ServiceProcess):
    """``konferenco appliance serve`` on a data directory."""

    kind = "appliance"

    def __init__(
        self, data: Path, port: int | None = None, *extra: str, options: tuple[str, ...] = ()
    ) -> None:
        super().__init__(data, port)
        self.data = data
        self.extra = extra
        self.options = options  # global options, before the subcommand (e.g. --log-format json)

    def command(self) -> list[str]:
        return [
            *self.options,
            "appliance",
            "serve",
            "--data",
            str(self.data),
            "--port",
            str(self.port),
            *self.extra,
        ]

    def start(self, timeout: float = 20) -> Self:
        SESSION_DATA_DIRS.add(self.data)
        return super().start(timeout)


class HubProcess(ServiceProcess):
    """``konferenco hub serve`` against a (test) database, with its secrets directory."""

    kind = "hub"

    def __init__(
        self, database_url: str, secrets: Path, port: int | None = None, *extra: str, workers: int = 1
    ) -> None:
        super().__init__(secrets.parent / "hub", port)
        self.database_url = database_url
        self.secrets = secrets
        self.extra = extra
        self.workers = workers

    def command(self) -> list[str]:
        return [
            "hub", "serve", "--database-url", self.database_url, "--secrets", str(self.secrets),
            "--port", str(self.port), "--workers", str(self.workers), *self.extra,
        ]  # fmt: skip


@dataclass
class Box:
    """A serving appliance and a door token to scan at it (standalone or enrolled)."""

    data: Path
    device_id: str
    token: str
    process: ApplianceProcess

    def get(self, path: str) -> dict[str, Any]:
        response = httpx.get(
            f"{self.process.url}{path}", headers={"Authorization": f"Bearer {self.token}"}, timeout=10
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def scan(self, code: str, gate: str) -> dict[str, Any]:
        response = httpx.post(
            f"{self.process.url}/api/v1/scans",
            json={"code": code, "nonce": uuid.uuid4().hex, "gate": gate},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return dict(response.json())


# --- PostgreSQL -----------------------------------------------------------------------------

#: The server tests create their databases on (trust authentication on loopback).
PG_SERVER = os.environ.get("KONFERENCO_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _admin(sql: str) -> None:
    import asyncio

    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(PG_SERVER)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def create_database(prefix: str = "kf_test") -> str:
    """A new database migrated to the newest schema; returns its URL.  Blocking (own event loop)."""
    from hub.db import migrate
    from hub.db.urls import with_database

    name = f"{prefix}_{secrets.token_hex(6)}"
    _admin(f'CREATE DATABASE "{name}" TEMPLATE template0')
    url = with_database(PG_SERVER, name)
    migrate.upgrade(url)
    return url


def drop_database(url: str) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


@contextmanager
def scratch_database(prefix: str = "kf_test") -> Iterator[str]:
    """A throw-away migrated database for the length of the block."""
    url = create_database(prefix)
    try:
        yield url
    finally:
        drop_database(url)


def wait_for(
    predicate: Callable[[], T], timeout: float = 20, interval: float = 0.1, what: str = "condition"
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(interval)


async def until(predicate: Callable[[], T | Awaitable[T]], timeout: float = 10, what: str = "condition") -> T:  # noqa: ASYNC109
    """:func:`wait_for` on the event loop: poll state another task owns, without blocking it.

    The predicate may be a coroutine function (a query); it is polled every 5 ms, short enough
    for tests that time backoffs.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)
