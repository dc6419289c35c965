"""A PostgreSQL cluster of the drill's own, which it may crash without touching anyone else's.

The machine's shared server (``tests.helpers.PG_SERVER``) serves every other
test running at the same time; a drill that kills PostgreSQL gets a cluster
of its own: ``initdb`` in a temporary directory, ``pg_ctl`` on a free port,
run as the ``postgres`` OS user (``initdb`` refuses root).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg

from tests.helpers import free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise FileNotFoundError(f"no PostgreSQL server binaries ({name}) under /usr/lib/postgresql")
    return found[-1]


def _children(pid: int) -> list[int]:
    """The processes whose parent is PID (the server's backends), from /proc."""
    found = []
    # Not ``Path.glob``: it stats each entry, and a process exiting meanwhile
    # raises ESRCH, which pathlib does not treat as "absent".
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path("/proc", entry, "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


class PrivateCluster:
    """One throw-away cluster: ``start``, ``crash`` (SIGKILL), ``start`` again, ``destroy``."""

    def __init__(self) -> None:
        self.port = free_port()
        # Not under pytest's tmp_path: its folders are 0700 root, and the server runs as postgres.
        self.root = Path(tempfile.mkdtemp(prefix="kf-drill-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        shutil.chown(self.root, "postgres", "postgres")
        self._as_postgres(_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                          "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")  # fmt: skip

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True)

    def start(self) -> None:
        self._as_postgres(
            _bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start",
            "-o", f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off",
        )  # fmt: skip

    def postmaster_pid(self) -> int | None:
        pid_file = self.data / "postmaster.pid"
        try:
            return int(pid_file.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def crash(self) -> None:
        """``kill -9`` the server and every backend, as a power cut or the OOM killer would.

        By process id: the postmaster from its pid file, the backends from its children.
        What was committed survives (the write-ahead log is replayed at the next start).
        """
        pid = self.postmaster_pid()
        if pid is None:
            return
        children = _children(pid)
        for victim in (pid, *children):
            with contextlib.suppress(ProcessLookupError):  # gone already
                os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while any(os.path.exists(f"/proc/{p}") for p in (pid, *children)) and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        if self.postmaster_pid() is not None:
            pg_ctl = [_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]
            subprocess.run(["runuser", "-u", "postgres", "--", *pg_ctl], capture_output=True, check=False)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    async def fetchval(self, database: str, sql: str, *args: object) -> object:
        conn = await asyncpg.connect(self.url(database), timeout=5)
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    async def fetch(self, database: str, sql: str, *args: object) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.url(database), timeout=5)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()
