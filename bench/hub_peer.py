"""The hub-like peer of the convergence benchmark: a real uvicorn + Litestar sync server.

Built like the appliance (``appliance/app.py``, ``appliance/cli.py``):
``SQLiteUpdateStore`` with ``RecordProjection``, a ``Replica``, a
``SyncService`` and ``sync_router``, served by uvicorn with
``ws_max_size = DEFAULT_MAX_MESSAGE + 1024`` and uvicorn's defaults
otherwise (uvloop, permessage-deflate).  Tokens are verified with a
``TokenSigner`` whose secret comes in ``BENCH_TOKEN_SECRET`` (hex).

Run by the benchmark: ``python -m bench.hub_peer --data DIR --port N --expect FILE``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from litestar import Litestar

from bench.common import EVENT
from bench.peer_common import (
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
from sync.litestar_route import sync_router
from sync.projection import RecordProjection
from sync.protocol import DEFAULT_MAX_MESSAGE
from sync.replica import Replica
from sync.service import ConnectionChannel, SyncService
from sync.sqlite_store import SQLiteUpdateStore
from sync.tokens import TokenSigner


def build(data: Path, expected: Expected, secret: bytes, server: list[uvicorn.Server]) -> Litestar:
    """The hub app; ``server`` is filled in once uvicorn's server exists, so ``stop`` can end it."""
    replica = Replica(SQLiteUpdateStore(data / DB_FILE, projector=RecordProjection()))
    service = SyncService(replica, TokenSigner(secret).verify, events=lambda: {EVENT})
    profiler = Profiler()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await replica.start()
        watcher = Watcher(replica, data / DB_FILE, expected)
        task = asyncio.create_task(watcher.run())

        def on_line(line: str) -> None:
            if line == "go":
                mark_go()
            elif line == "stop" and not server[0].should_exit:
                profiler.stop()
                report_stats(replica)
                server[0].should_exit = True

        watch_stdin(asyncio.get_running_loop(), on_line)
        profiler.start()
        say("ready")
        try:
            yield
        finally:
            task.cancel()
            await service.shutdown()
            await replica.close()

    return Litestar(route_handlers=[sync_router(service)], lifespan=[lifespan])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--expect", type=Path, required=True)
    args = parser.parse_args()
    count_channel_sends(ConnectionChannel)
    count_writer_pacing()
    run_setup_hook()
    holder: list[uvicorn.Server] = []
    app = build(
        args.data, Expected.load(args.expect), bytes.fromhex(os.environ["BENCH_TOKEN_SECRET"]), holder
    )
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=args.port,
        ws_max_size=DEFAULT_MAX_MESSAGE + 1024,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    holder.append(uvicorn.Server(config))
    holder[0].run()


if __name__ == "__main__":
    main()
