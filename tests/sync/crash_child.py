"""Child process of the crash test: append scans forever, print each acknowledgement.

Eight writers run concurrently so the kill lands anywhere: inside a batch,
between a commit and its acknowledgement, during a compaction.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from sync.documents import DeviceLog
from sync.names import DocName
from sync.projection import RecordProjection
from sync.replica import Replica
from sync.sqlite_store import SQLiteUpdateStore

LOG = DocName.device("e1", "d1")


async def writer(replica: Replica, worker: int) -> None:
    i = 0
    while True:
        nonce = f"w{worker}-{i}"
        await replica.write(
            LOG, lambda doc, nonce=nonce: DeviceLog(doc).append_scan(nonce=nonce, gate="A", result="admitted")
        )
        sys.stdout.write(f"ack {nonce}\n")
        sys.stdout.flush()
        i += 1


async def main(path: Path) -> None:
    replica = Replica(SQLiteUpdateStore(path, projector=RecordProjection()), compact_every=150)
    await replica.start()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    await asyncio.gather(*(writer(replica, w) for w in range(8)))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
