"""Child process of the catch-up crash test: receive pushed shards as a peer's sessions would.

``python -m tests.appliance.catchup_crash_child DB DIR``: every ``DIR/*.update``
(named ``<document name with / as +>.update``) is received concurrently, the
way one sync session per shard delivers them, until the parent kills us.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from appliance.checkin.projection import ApplianceProjection
from sync.replica import Replica
from sync.sqlite_store import SQLiteUpdateStore


async def main(db: Path, updates: dict[str, bytes]) -> None:
    replica = Replica(SQLiteUpdateStore(db, projector=ApplianceProjection()))
    await replica.start()
    print("ready", flush=True)
    await asyncio.gather(*(replica.receive(name, update, "peer") for name, update in updates.items()))
    print("done", flush=True)
    await asyncio.sleep(3600)  # the parent kills us before this, or we were too fast


if __name__ == "__main__":
    folder = Path(sys.argv[2])
    pushed = {p.stem.replace("+", "/"): p.read_bytes() for p in sorted(folder.glob("*.update"))}
    asyncio.run(main(Path(sys.argv[1]), pushed))
