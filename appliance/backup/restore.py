"""``appliance restore``: a new box's data directory from a dead box's replica.

Steps, each of which can fail with a message and leaves nothing half-made:

1. refuse a directory that already holds an appliance (``appliance.json`` or
   ``appliance.db``): a restore never overwrites a box;
2. ``litestream restore -integrity-check full`` of ``identity.db`` then
   ``appliance.db`` (an empty replica fails here: "no backup at URL");
3. ``appliance.json`` and ``secrets/`` written back from ``identity.db``
   (0700 directories, 0600 secrets), the data directory checked by
   :meth:`DataDir.secure`;
4. a summary read from the restored database: the device id, events,
   attendees, staff, scans, and the replica position it was restored to.

The restored box keeps the dead box's device id and credential, so the hub
and its LAN peers know it.  It gets a fresh Yjs client id at its first start,
as every appliance process does (sync/replica.py), so nothing it writes can
collide with what the dead box wrote.  What the replica missed (its RPO: the
writes of the last second or so before the crash) comes back from the hub
and LAN peers at the first sync, which starts with a state-vector exchange.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from appliance.backup import identity
from appliance.backup.litestream import Backup, Position, error_line, replica_position
from appliance.backup.target import BackupError
from appliance.config import DataDir


@dataclass
class Restored:
    """What a restore brought back, for the technician to check against the dead box."""

    data: str
    replica: str
    device_id: str = ""
    name: str = ""
    hub_url: str | None = None
    events: list[str] = field(default_factory=list)
    attendees: int = 0
    staff: int = 0
    scans: int = 0
    identity_files: list[str] = field(default_factory=list)
    positions: dict[str, dict[str, object]] = field(default_factory=dict)  # database -> txid, time


def _refuse_existing(data: DataDir) -> None:
    held = [p.name for p in (data.config_file, data.database, data.path / identity.FILE_NAME) if p.exists()]
    if held:
        raise BackupError(
            f"{data.path} already holds an appliance ({', '.join(held)}): restore into a new, empty "
            "directory; a restore never overwrites a box"
        )


def _count(conn: sqlite3.Connection, sql: str) -> int:
    try:
        return int(conn.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:  # a table the dead box never made
        return 0


class NoBackup(BackupError):
    """The replica holds nothing of this box: a new box may enrol instead (``appliance provision``)."""


def _positions(backup: Backup, config: Path) -> dict[str, Position]:
    """Both databases' replica positions, read before anything is written.

    Nothing there is :class:`NoBackup`; part of a box (one database without the other) or a
    replica that cannot be read is a plain :class:`BackupError`, never "no backup": a
    replacement box must not enrol as a new device while its predecessor's scans wait there.
    """
    found: dict[str, Position] = {}
    for name in identity.DATABASES_BACKED_UP:
        try:
            position = replica_position(backup, config, name)
        except BackupError as exc:
            raise BackupError(f"cannot read the replica {backup.target.url}: {exc}") from None
        if position is not None:
            found[name] = position
    if not found:
        raise NoBackup(
            f"no backup at {backup.target.url}: it holds no database of a box "
            "(check the URL, and that 'backup run' ever ran for this box)"
        )
    missing = [n for n in identity.DATABASES_BACKED_UP if n not in found]
    if missing:
        raise BackupError(
            f"the replica {backup.target.url} holds only part of a box (no {' and no '.join(missing)} "
            "database): check the URL; nothing was restored"
        )
    return found


def restore(backup: Backup) -> Restored:
    """Restore BACKUP's replica into its (new) data directory; raise :class:`BackupError` on any failure."""
    data = DataDir(backup.data)
    _refuse_existing(data)
    made_dir, made_secrets = not data.path.exists(), not data.secrets.exists()
    created: list[Path] = []
    result = Restored(str(data.path), backup.target.url)
    try:
        data.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        with backup.config_file(identity.DATABASES_BACKED_UP) as config:
            positions = _positions(backup, config)
            for name in ("identity", "appliance"):  # the identity first: it says whose scans follow
                position = positions[name]
                target = backup.database(name)
                created += [
                    target,
                    target.with_name(target.name + "-wal"),
                    target.with_name(target.name + "-shm"),
                ]
                done = backup.run(
                    config, "restore", "-integrity-check", "full", "-json", str(target), timeout=3600
                )
                if done.returncode != 0:
                    raise BackupError(
                        f"restoring {name}.db from {backup.target.url} failed: {error_line(done)}"
                    )
                try:
                    summary = json.loads(done.stdout)
                    txid = int(str(summary.get("txid", "0")), 16)
                except (ValueError, AttributeError):
                    txid = position.txid
                target.chmod(0o600)
                at = position.at.isoformat(timespec="seconds").replace("+00:00", "Z") if position.at else None
                result.positions[name] = {"txid": txid, "time": at}
        result.identity_files = identity.restore_files(backup.database("identity"), data)
        created += [data.path / f for f in result.identity_files]
        data.secure()
        config_ = data.load()
        result.device_id, result.name, result.hub_url = config_.device_id, config_.name, config_.hub_url
        result.events = list(config_.events)
        conn = sqlite3.connect(f"file:{data.database}?mode=ro", uri=True)
        try:
            result.attendees = _count(conn, "SELECT count(*) FROM attendee")
            result.staff = _count(conn, "SELECT count(*) FROM staff")
            result.scans = _count(conn, "SELECT count(*) FROM checkin")
        finally:
            conn.close()
    except BaseException:
        if made_dir:
            shutil.rmtree(data.path, ignore_errors=True)
        else:
            for path in created:
                path.unlink(missing_ok=True)
            if made_secrets:
                shutil.rmtree(data.secrets, ignore_errors=True)
        raise
    return result
