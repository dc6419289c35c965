"""Shared test helpers: real processes on loopback, found ports, waiting with deadlines."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
KONFERENCO = [sys.executable, "-m", "appliance.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def konferenco(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KONFERENCO, *args], cwd=ROOT, capture_output=True, text=True, check=check, timeout=60
    )


class ApplianceProcess:
    """``konferenco appliance serve`` as a child process, its output in a log file."""

    def __init__(
        self, data: Path, port: int | None = None, *extra: str, options: tuple[str, ...] = ()
    ) -> None:
        self.data = data
        self.port = port or free_port()
        self.extra = extra
        self.options = options  # global options, before the subcommand (e.g. --log-format json)
        self.log = data.parent / f"{data.name}-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20) -> ApplianceProcess:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [
                *KONFERENCO,
                *self.options,
                "appliance",
                "serve",
                "--data",
                str(self.data),
                "--port",
                str(self.port),
                *self.extra,
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"appliance exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"appliance not healthy after {timeout} s:\n{self.log.read_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def __enter__(self) -> ApplianceProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


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


class HubProcess:
    """``konferenco hub serve`` as a child process against a test database."""

    def __init__(
        self, database_url: str, secrets: Path, port: int | None = None, *extra: str, workers: int = 1
    ) -> None:
        self.database_url = database_url
        self.secrets = secrets
        self.port = port or free_port()
        self.extra = extra
        self.workers = workers
        self.log = secrets.parent / f"hub-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> HubProcess:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [
                *KONFERENCO,
                "hub",
                "serve",
                "--database-url",
                self.database_url,
                "--secrets",
                str(self.secrets),
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
                *self.extra,
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # uvicorn's workers are children: stop them as a group
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"hub not healthy after {timeout} s:\n{self.log.read_text()}")

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

    def __enter__(self) -> HubProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
