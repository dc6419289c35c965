"""A device of the convergence benchmark: its prepared replica plus a SyncClient to the hub.

Loads the replica from its data directory, says ``ready``, and on ``go``
starts a ``SyncClient`` for the event's control document and every shard
of the four device logs (one WebSocket each), with a device-role token
(``BENCH_TOKEN``).  With ``--discover`` the client is given no list and
learns the documents as an appliance does, from ``GET /sync`` (refreshed
every ``refresh_interval``).  Runs on uvloop, like an appliance under uvicorn.

Besides the sync messages (counted by wrapping the channel's ``send``), it
counts the TCP bytes its WebSockets send and receive: every byte on
loopback has a device at one end, so the sum over devices is the wire total
(after permessage-deflate, which websockets negotiates by default).

Run by the benchmark:
``python -m bench.device_peer --data DIR --device ID --url URL --expect FILE [--discover]``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
from collections import Counter
from pathlib import Path
from typing import Any

import uvloop
from websockets.asyncio.client import ClientConnection, connect

import sync.client
from bench.common import EVENT
from bench.peer_common import (
    COUNTERS,
    DB_FILE,
    Expected,
    Profiler,
    Watcher,
    count_channel_sends,
    count_writer_pacing,
    mark_go,
    report_stats,
    run_setup_hook,
    say,
    watch_stdin,
)
from sync.client import SyncClient, WebsocketsChannel
from sync.names import DocName
from sync.permissions import PeerIdentity, Role
from sync.projection import RecordProjection
from sync.replica import Replica
from sync.sqlite_store import SQLiteUpdateStore


class CountingConnection(ClientConnection):
    """A websockets client connection that counts the TCP bytes it moves."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        produce = self.protocol.data_to_send

        def counted() -> list[bytes]:
            chunks = produce()
            COUNTERS.wire_sent += sum(len(c) for c in chunks)
            return chunks

        self.protocol.data_to_send = counted  # type: ignore[method-assign]

    def data_received(self, data: bytes) -> None:
        COUNTERS.wire_received += len(data)
        super().data_received(data)


async def serve(
    data: Path, device: str, url: str, expected: Expected, token: str, *, discover: bool = False
) -> None:
    """Load first, connect on ``go``: start-up cost stays out of the measured time."""
    replica = Replica(SQLiteUpdateStore(data / DB_FILE, projector=RecordProjection()))
    await replica.start()
    identity = PeerIdentity(peer_id=f"device:{device}", role=Role.DEVICE, events=(EVENT,), device_id=device)
    documents = None if discover else [str(DocName.control(EVENT)), *expected.state_vectors]
    client = SyncClient(replica, url, token, identity, remote_peer="hub", documents=documents)
    watcher = Watcher(replica, data / DB_FILE, expected)
    profiler = Profiler()
    go, stop = asyncio.Event(), asyncio.Event()

    def on_line(line: str) -> None:
        if line == "go":
            go.set()
        elif line == "stop":
            go.set()
            stop.set()

    watch_stdin(asyncio.get_running_loop(), on_line)
    say("ready")
    await go.wait()
    task: asyncio.Task[None] | None = None
    if not stop.is_set():
        mark_go()
        profiler.start()
        client.start()
        task = asyncio.create_task(watcher.run())
        await stop.wait()
        profiler.stop()
    report_stats(replica, client=dict(Counter(s.state for s in client.status.values())))
    if task is not None:
        task.cancel()
    await client.stop()
    await replica.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--device", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--expect", type=Path, required=True)
    parser.add_argument("--discover", action="store_true", help="learn the documents from GET /sync")
    args = parser.parse_args()
    count_channel_sends(WebsocketsChannel)
    count_writer_pacing()
    setattr(sync.client, "connect", functools.partial(connect, create_connection=CountingConnection))  # noqa: B010
    run_setup_hook()
    uvloop.run(
        serve(
            args.data,
            args.device,
            args.url,
            Expected.load(args.expect),
            os.environ["BENCH_TOKEN"],
            discover=args.discover,
        )
    )


if __name__ == "__main__":
    main()
