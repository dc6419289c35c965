"""Every acknowledged update survives ``kill -9`` at a random moment."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from sync.documents import DeviceLog
from sync.projection import RecordProjection
from sync.replica import Replica
from sync.sqlite_store import SQLiteUpdateStore
from tests.helpers import ROOT
from tests.sync.crash_child import LOG


def run_until_killed(db: Path, kill_after: int) -> list[str]:
    """Start the child, read acknowledgements, SIGKILL it after ``kill_after`` of them."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.sync.crash_child", str(db)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    acked: list[str] = []
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        for line in child.stdout:
            acked.append(line.split()[1])
            if len(acked) >= kill_after:
                child.send_signal(signal.SIGKILL)
                break
    finally:
        child.kill()
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL, child.stderr.read() if child.stderr else ""
    return acked


async def test_acknowledged_scans_survive_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    rng = random.Random()
    acknowledged: list[str] = []
    for _ in range(3):  # crash, restart, crash again on the same database
        acknowledged += run_until_killed(db, rng.randint(50, 700))

        replica = Replica(SQLiteUpdateStore(db, projector=RecordProjection()))
        await replica.start()
        stored = {r.nonce for r in DeviceLog(replica.doc(LOG)).records()}
        await replica.close()
        missing = [n for n in acknowledged if n not in stored]
        assert not missing, f"{len(missing)} acknowledged scans lost, e.g. {missing[:5]}"
        with sqlite3.connect(db) as conn:
            projected = {
                row[0] for row in conn.execute("SELECT json_extract(body, '$.nonce') FROM sync_record")
            }
        assert set(acknowledged) <= projected
        # what was stored (acknowledged or not) is in both the document and the projection
        assert stored == projected
