"""A TCP link a drill can cut, slow down and make lossy: the venue's uplink in a box.

Each appliance reaches the hub through its own :class:`Link` (its hub URL
points at the link's port).  ``cut()`` drops every open connection and
refuses new ones, as a pulled cable or a dead 4G router does; ``restore()``
ends the cut.  ``degrade(delay, drop)`` holds every chunk for ``delay``
seconds and resets a connection mid-stream with probability ``drop`` per
chunk: what TCP shows the application of a lossy, laggy link (``tc netem``
loss becomes retransmissions, stalls and finally resets).

The links run on an event loop of their own in a daemon thread, so a test
written with blocking HTTP calls can use them.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from dataclasses import dataclass, field

from tests.helpers import free_port


@dataclass
class LinkState:
    up: bool = True
    delay: float = 0.0  # seconds each chunk is held, both ways
    drop: float = 0.0  # probability per chunk that the connection is reset


@dataclass
class Link:
    """127.0.0.1:``port`` forwards to 127.0.0.1:``target``, as its state allows."""

    target: int
    port: int = field(default_factory=free_port)
    state: LinkState = field(default_factory=LinkState)
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    connections: int = 0  # accepted while up, for the drill's report
    resets: int = 0  # cut or dropped mid-stream
    _open: set[asyncio.StreamWriter] = field(default_factory=set)
    _loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        self.state = LinkState(up=False)
        self._call(self._close_all)

    def restore(self) -> None:
        self.state = LinkState()

    def degrade(self, delay: float, drop: float) -> None:
        self.state = LinkState(up=True, delay=delay, drop=drop)

    def _call(self, fn: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(fn)  # type: ignore[arg-type]

    def _close_all(self) -> None:
        for writer in list(self._open):
            self.resets += 1
            writer.transport.abort()
        self._open.clear()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            state = self.state
            if not state.up or self.rng.random() < state.drop:
                raise ConnectionResetError("the link dropped the connection")
            if state.delay:
                await asyncio.sleep(state.delay * self.rng.uniform(0.5, 1.5))
            writer.write(chunk)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.state.up:
            writer.transport.abort()  # refused, as a dead link's connection attempt fails
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        self._open.update((writer, up_writer))
        pumps = [
            asyncio.ensure_future(self._pump(reader, up_writer)),
            asyncio.ensure_future(self._pump(up_reader, writer)),
        ]
        try:
            done, _ = await asyncio.wait(pumps, return_when=asyncio.FIRST_EXCEPTION)
            if any(t.exception() is not None for t in done):
                self.resets += 1
                for w in (writer, up_writer):
                    w.transport.abort()
            else:
                await asyncio.gather(*pumps, return_exceptions=True)
        finally:
            for task in pumps:
                task.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            for w in (writer, up_writer):
                self._open.discard(w)
                w.close()

    async def serve(self) -> asyncio.Server:
        self._loop = asyncio.get_running_loop()
        return await asyncio.start_server(self._handle, "127.0.0.1", self.port)


class Links:
    """Several links on one event loop in a daemon thread; ``close()`` stops them."""

    def __init__(self, targets: list[int]) -> None:
        self.links = [Link(target) for target in targets]
        self._loop = asyncio.new_event_loop()
        self._servers: list[asyncio.Server] = []
        self._thread = threading.Thread(target=self._loop.run_forever, name="drill-links", daemon=True)
        self._thread.start()
        for link in self.links:
            self._servers.append(asyncio.run_coroutine_threadsafe(link.serve(), self._loop).result(10))

    def close(self) -> None:
        async def stop() -> None:
            for server in self._servers:
                server.close()
            for link in self.links:
                link._close_all()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
