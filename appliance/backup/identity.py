"""``identity.db``: who the box is, in a form Litestream can replicate.

Litestream copies SQLite databases only, so the backup runner keeps the
identity files — ``appliance.json`` (device id, events, hub URL) and every
file in ``secrets/`` (the hub credential, signing keys, token keys, device
badge certificates) — as rows of a small SQLite database beside
``appliance.db``, rewritten in one transaction whenever one of them changes.
The same mechanism then serves file and S3 replicas, and a restore gets the
identity at a consistent moment.

The database is 0600 in the 0700 data directory, like the secrets it copies.
Anyone who can read the replica holds the box's keys: see docs/backup.md for
where a replica may live.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

from appliance.backup.target import BackupError
from appliance.config import PRIVATE_DIR, PRIVATE_FILE, DataDir

SCHEMA = """
CREATE TABLE IF NOT EXISTS identity_file (
    path TEXT PRIMARY KEY,   -- relative to the data directory: appliance.json or secrets/NAME
    mode INTEGER NOT NULL,   -- permission bits (restored without group/world bits)
    content BLOB NOT NULL
);
"""

FILE_NAME = "identity.db"
#: The databases a backup replicates, by name: ``NAME.db`` in the data directory, ``URL/NAME`` in the replica.
DATABASES_BACKED_UP = ("appliance", "identity")


def identity_files(data: DataDir) -> dict[str, tuple[int, bytes]]:
    """Relative path -> (mode, content) of the identity files in DATA, as they are now."""
    found: dict[str, tuple[int, bytes]] = {}
    candidates = [data.config_file]
    if data.secrets.is_dir():
        candidates += sorted(p for p in data.secrets.iterdir() if not p.name.endswith(".tmp"))
    for path in candidates:
        try:
            st = path.lstat()
            if not stat.S_ISREG(st.st_mode):
                continue
            content = path.read_bytes()
        except FileNotFoundError:  # replaced between listing and reading: the next refresh has it
            continue
        found[str(path.relative_to(data.path))] = (stat.S_IMODE(st.st_mode), content)
    return found


def _connect(path: Path) -> sqlite3.Connection:
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE)
        os.close(fd)
    conn = sqlite3.connect(path, timeout=5, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=5000")  # Litestream takes short locks when it checkpoints
    conn.execute("PRAGMA journal_mode=WAL")  # Litestream replicates WAL databases only
    conn.executescript(SCHEMA)
    return conn


def stored(conn: sqlite3.Connection) -> dict[str, tuple[int, bytes]]:
    return {p: (m, bytes(c)) for p, m, c in conn.execute("SELECT path, mode, content FROM identity_file")}


def refresh(data: DataDir) -> int | None:
    """Bring ``identity.db`` up to date with the files; the number of files if it changed, else None."""
    current = identity_files(data)
    if data.config_file.name not in current:
        raise BackupError(f"{data.path} holds no appliance (no appliance.json): nothing to back up")
    conn = _connect(data.path / FILE_NAME)
    try:
        if stored(conn) == current:
            return None
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM identity_file")
        conn.executemany(
            "INSERT INTO identity_file (path, mode, content) VALUES (?, ?, ?)",
            [(p, m, c) for p, (m, c) in sorted(current.items())],
        )
        conn.execute("COMMIT")
        return len(current)
    finally:
        conn.close()


def restore_files(database: Path, data: DataDir) -> list[str]:
    """Write the identity files held in DATABASE into DATA (which holds no appliance); their paths.

    Only ``appliance.json`` and plain names under ``secrets/`` are accepted, so a
    tampered replica cannot write elsewhere.  The directory and ``secrets/`` are
    0700, every file without group or world bits (secrets 0600).
    """
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = stored(conn)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"the replica's identity database is unreadable: {exc}") from None
    finally:
        conn.close()
    if data.config_file.name not in rows:
        raise BackupError("the replica's identity holds no appliance.json: it is not an appliance backup")
    data.path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    os.chmod(data.path, PRIVATE_DIR)
    data.secrets.mkdir(mode=PRIVATE_DIR, exist_ok=True)
    os.chmod(data.secrets, PRIVATE_DIR)
    written = []
    for relative, (mode, content) in sorted(rows.items()):
        parts = relative.split("/")
        ok = relative == data.config_file.name or (
            len(parts) == 2 and parts[0] == "secrets" and parts[1] not in ("", ".", "..")
        )
        if not ok:
            raise BackupError(f"the replica's identity holds an unexpected path {relative!r}: refusing it")
        wanted = PRIVATE_FILE if parts[0] == "secrets" else (mode & 0o700) or PRIVATE_FILE
        path = data.path / relative
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, wanted)
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(path, wanted)
        written.append(relative)
    return written
