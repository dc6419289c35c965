"""``backup status``: how far the replica is behind, per database, and a verdict.

Per database (``appliance``, ``identity``):

* the local position: Litestream's newest local TXID (from ``litestream
  status``) and the time of the last local write (the WAL's modification
  time — what the box knows, even when no Litestream is running);
* the replica's position: its newest TXID and the time it was written (from
  ``litestream ltx -level all`` against the replica);
* the lag: TXIDs behind, and seconds of local writes the replica does not
  have yet (the last write minus the replica's newest file, never negative);
* a verdict: ``OK`` (the replica holds everything written more than
  :data:`BEHIND_AFTER` seconds ago), ``BEHIND``, ``NO BACKUP`` (the replica
  holds nothing for this database), ``UNREACHABLE`` (it cannot be listed).

The overall verdict is the worst of the two.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from pathlib import Path

from appliance.backup.identity import DATABASES_BACKED_UP
from appliance.backup.litestream import Backup, Position, local_position, replica_position
from appliance.backup.target import BackupError

#: Seconds of unreplicated writes tolerated before a database is BEHIND (a few sync intervals).
BEHIND_AFTER = 5.0
#: Worst last: the overall verdict is the highest of these.
VERDICTS = ("OK", "BEHIND", "NO BACKUP", "UNREACHABLE")
#: Said with every status: whoever reads the replica holds the box's keys and the attendees' data.
PROTECTION = (
    "the replica holds this box's keys and its attendees' personal data: keep it on encrypted storage "
    "(an encrypted disk, or a private bucket with server-side encryption) that only operators can read"
)


@dataclass
class DatabaseStatus:
    name: str
    path: str
    local_txid: int | None = None
    local_last_write: str | None = None
    replica_txid: int | None = None
    replica_time: str | None = None
    lag_txids: int | None = None
    lag_seconds: float | None = None
    verdict: str = "OK"
    error: str | None = None


@dataclass
class Status:
    replica: str
    verdict: str
    databases: list[DatabaseStatus] = field(default_factory=list)
    protection: str = PROTECTION

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _last_write(path: Path) -> dt.datetime | None:
    """When the database was last written: its WAL's mtime (every commit appends there), else the file's."""
    for candidate in (path.with_name(path.name + "-wal"), path):
        try:
            return dt.datetime.fromtimestamp(candidate.stat().st_mtime, dt.UTC)
        except FileNotFoundError:
            continue
    return None


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z") if moment else None


def database_status(
    backup: Backup, config: Path, name: str, now: dt.datetime | None = None
) -> DatabaseStatus:
    path = backup.database(name)
    status = DatabaseStatus(name, str(path))
    local: Position | None = local_position(backup, config, name) if path.exists() else None
    written = _last_write(path)
    status.local_txid = local.txid if local else None
    status.local_last_write = _iso(written)
    try:
        remote = replica_position(backup, config, name)
    except BackupError as exc:
        status.verdict, status.error = "UNREACHABLE", str(exc)
        return status
    if remote is None:
        status.verdict = "NO BACKUP"
        return status
    status.replica_txid = remote.txid
    status.replica_time = _iso(remote.at)
    status.lag_txids = max(0, local.txid - remote.txid) if local else None
    if written is not None and remote.at is not None:
        # the replica's times have one-second resolution: it may be up to a second newer than shown
        status.lag_seconds = round(max(0.0, (written - remote.at).total_seconds() - 1.0), 1)
    behind = (status.lag_txids or 0) > 0 and (status.lag_seconds or 0) > 0
    if behind or (status.lag_seconds or 0) > BEHIND_AFTER:
        status.verdict = "BEHIND"
    return status


def backup_status(backup: Backup) -> Status:
    """Both databases' positions, lag and verdicts (one ``litestream`` query each)."""
    with backup.config_file(DATABASES_BACKED_UP) as config:
        databases: list[DatabaseStatus] = []
        for name in DATABASES_BACKED_UP:
            unreachable = next((d for d in databases if d.verdict == "UNREACHABLE"), None)
            if unreachable is None:
                databases.append(database_status(backup, config, name))
            else:  # the same store: do not wait for it twice
                databases.append(
                    DatabaseStatus(
                        name, str(backup.database(name)), verdict="UNREACHABLE", error=unreachable.error
                    )
                )
    worst = max((VERDICTS.index(d.verdict) for d in databases), default=0)
    return Status(backup.target.url, VERDICTS[worst], databases)


def render(status: Status) -> list[str]:
    """What ``backup status`` prints: one block per database, the verdict, the protection note."""
    lines = [f"replica: {status.replica}"]
    for db in status.databases:
        lines.append(f"{db.name}.db: {db.verdict}")
        local = f"txid {db.local_txid}" if db.local_txid is not None else "no Litestream position yet"
        lines.append(f"  local:   {local}, last write {db.local_last_write or 'never'}")
        if db.error:
            lines.append(f"  replica: unreachable: {db.error}")
        elif db.replica_txid is None:
            lines.append("  replica: holds nothing for this database")
        else:
            lines.append(f"  replica: txid {db.replica_txid}, last sync {db.replica_time}")
            lag = [f"{db.lag_seconds:g} s of writes" if db.lag_seconds is not None else None]
            lag.append(f"{db.lag_txids} transactions" if db.lag_txids is not None else None)
            lines.append(f"  lag:     {', '.join(x for x in lag if x) or 'unknown'} behind")
    lines.append(f"verdict: {status.verdict}")
    lines.append(f"note: {status.protection}")
    return lines
