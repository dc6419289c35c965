"""A scripted peer process for end-to-end tests: a replica and a SyncClient, driven over stdin.

Commands (one per line): ``write N`` appends N scans to this device's log;
``wait-acked SECONDS`` waits until the upstream acknowledged every local
update; ``status`` prints the client's per-document status.  Each answer is
one JSON line on stdout.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from sync.client import Backoff, SyncClient
from sync.documents import DeviceLog
from sync.names import DocName
from sync.permissions import PeerIdentity, Role
from sync.projection import RecordProjection
from sync.replica import Replica
from sync.sqlite_store import SQLiteUpdateStore


def say(**fields: object) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


async def main(db: Path, url: str, token: str, event: str, device: str) -> None:
    replica = Replica(SQLiteUpdateStore(db, projector=RecordProjection()))
    await replica.start()
    name = DocName.device(event, device)
    await replica.open(name)
    identity = PeerIdentity(peer_id=device, role=Role.DEVICE, events=(event,), device_id=device)
    client = SyncClient(replica, url, token, identity, remote_peer="hub", backoff=Backoff(base=0.2, cap=2.0))
    client.start()
    written = len(DeviceLog(replica.doc(name)))
    say(ready=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        command, *args = line.split()
        if command == "write":
            for _ in range(int(args[0])):
                nonce = f"{device}-{written}"
                await replica.write(
                    name,
                    lambda doc, nonce=nonce: DeviceLog(doc).append_scan(
                        nonce=nonce, gate="A", result="admitted", attendee_id=nonce
                    ),
                )
                written += 1
            say(written=written)
        elif command == "wait-acked":
            deadline = time.monotonic() + float(args[0])
            while replica.acks.pending("hub", str(name)).count and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            say(pending=replica.acks.pending("hub", str(name)).count)
        elif command == "status":
            say(
                status={doc: s.state for doc, s in client.status.items()},
                pending=replica.acks.pending("hub", str(name)).count,
            )
    await client.stop()
    await replica.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), *sys.argv[2:6]))
