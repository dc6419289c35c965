"""A sync session over an in-memory channel: behaviour that needs no network to show."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sync.documents import DeviceLog
from sync.names import DocName
from sync.permissions import Decision
from sync.projection import RecordProjection
from sync.protocol import step1
from sync.replica import Replica
from sync.session import ChannelClosed, CloseCode, SyncSession
from sync.sqlite_store import SQLiteUpdateStore

LOG = DocName.device("e1", "d1")


class MemoryChannel:
    """One end of a pair: what we send, the test reads; what the test puts, we receive."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.sent: list[bytes] = []
        self.closed: tuple[int, str] | None = None

    async def send(self, data: bytes) -> None:
        self.sent.append(data)

    async def recv(self) -> bytes:
        data = await self.inbox.get()
        if data is None:
            raise ChannelClosed(CloseCode.NORMAL, "test closed")
        return data

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)
        self.inbox.put_nowait(None)


async def test_a_diff_over_the_message_cap_is_refused_once_with_a_reason(tmp_path: Path) -> None:
    replica = Replica(SQLiteUpdateStore(tmp_path / "a.db", projector=RecordProjection()))
    await replica.start()
    for i in range(100):
        await replica.write(
            LOG, lambda doc, i=i: DeviceLog(doc).append_scan(nonce=f"n{i}", gate="A", result="admitted")
        )
    channel = MemoryChannel()
    session = SyncSession(replica, LOG, channel, remote_peer="p", accept=Decision(True), max_message=2000)
    channel.inbox.put_nowait(step1(b"\x00"))  # "I have nothing": the whole log would be the answer
    async with asyncio.timeout(5):
        await session.run()
    assert channel.closed is not None
    assert channel.closed[0] == CloseCode.INTERNAL
    assert "too large" in channel.closed[1]
    assert all(len(frame) <= 2000 for frame in channel.sent)
    await replica.close()


async def test_a_session_on_a_document_dropped_after_a_failed_write_ends_asking_for_a_retry(
    tmp_path: Path,
) -> None:
    """The replica drops its copy after a failed write; a session on it must not die of a
    KeyError but close with "retry later", so the peer resyncs against the reloaded copy."""
    replica = Replica(SQLiteUpdateStore(tmp_path / "a.db"))
    await replica.start()
    channel = MemoryChannel()
    started = asyncio.Event()
    send = channel.send

    async def send_and_tell(data: bytes) -> None:
        await send(data)
        started.set()

    channel.send = send_and_tell  # type: ignore[method-assign]
    session = SyncSession(replica, LOG, channel, remote_peer="p", accept=Decision(True))
    running = asyncio.create_task(session.run())
    async with asyncio.timeout(5):
        await started.wait()  # our Step 1 went out: the session is under way
        replica._evict(replica._docs[str(LOG)])  # what a failed write does
        channel.inbox.put_nowait(step1(b"\x00"))
        await running
    assert channel.closed is not None
    assert channel.closed[0] == CloseCode.INTERNAL
    assert "retry later: reloading" in channel.closed[1]
    await replica.close()
