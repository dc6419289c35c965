"""The sync service on an in-memory connection: no web framework, no network.

The same behaviour over a real Litestar socket is in test_server.py; these
tests show that the service needs nothing but a ``PeerConnection``.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from sync.names import DocName
from sync.permissions import Capability, PeerIdentity, Role
from sync.protocol import AwarenessMessage, SyncMessage, SyncType, decode, encode
from sync.replica import Replica
from sync.service import ConnectionChannel, SyncService, token_of
from sync.session import ChannelClosed, CloseCode
from sync.sqlite_store import SQLiteUpdateStore
from sync.tokens import InvalidToken, TokenSigner

SIGNER = TokenSigner(b"k" * 32)
CONTROL = "event/e1/control"


def token(peer_id: str = "box2", role: Role = Role.DEVICE, events: tuple[str, ...] = ("e1",)) -> str:
    identity = PeerIdentity(
        peer_id=peer_id, role=role, events=events, device_id=peer_id, capabilities=(Capability.SCANNER,)
    )
    return SIGNER.issue(identity)


class MemoryConnection:
    """An accepted socket: the test puts frames in ``inbox`` and reads what was sent and how it closed."""

    def __init__(self, tok: str | None = None, *, in_query: bool = False) -> None:
        self.headers: dict[str, str] = {}
        self.query: dict[str, str] = {}
        if tok is not None and in_query:
            self.query["token"] = tok
        elif tok is not None:
            self.headers["authorization"] = f"Bearer {tok}"
        self.inbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.sent: list[bytes] = []
        self.closes: list[tuple[int, str]] = []

    @property
    def closed(self) -> tuple[int, str] | None:
        return self.closes[0] if self.closes else None

    async def receive_bytes(self) -> bytes:
        data = await self.inbox.get()
        if data is None:
            code, reason = self.closed or (CloseCode.NORMAL, "")
            raise ChannelClosed(code, reason)
        return data

    async def send_bytes(self, data: bytes) -> None:
        if self.closes:
            raise RuntimeError("send after close")
        self.sent.append(data)

    async def close(self, code: int, reason: str) -> None:
        self.closes.append((code, reason))
        self.inbox.put_nowait(None)


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[SyncService]:
    replica = Replica(SQLiteUpdateStore(tmp_path / "a.db"))
    await replica.start()
    yield SyncService(replica, SIGNER.verify, events=lambda: {"e1"})
    await replica.close()


async def until(condition: Callable[[], object]) -> None:
    for _ in range(1000):  # 5 s
        if condition():
            return
        await asyncio.sleep(0.005)
    raise TimeoutError("the condition did not come true")


def test_the_token_comes_from_the_bearer_header_or_else_the_query() -> None:
    assert token_of({"authorization": "Bearer abc "}, {"token": "q"}) == "abc"
    assert token_of({"authorization": "bearer abc"}, {}) == "abc"
    assert token_of({"authorization": "Basic xyz"}, {"token": "q"}) == "q"
    assert token_of({}, {"token": "q"}) == "q"
    assert token_of({}, {}) is None


def test_the_service_imports_no_web_framework() -> None:
    code = "import sys, sync.service; print(sorted({m.split('.')[0] for m in sys.modules}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "litestar" not in out


@pytest.mark.parametrize(
    ("tok", "name", "code", "words"),
    [
        (None, CONTROL, CloseCode.UNAUTHORIZED, "unauthorized: no token"),
        ("kp1.forged.sig", CONTROL, CloseCode.UNAUTHORIZED, "unauthorized"),
        (token(events=("e1", "e9")), "event/e9/control", CloseCode.UNKNOWN_DOCUMENT, "not served here"),
        (token(), "not/a/document", CloseCode.UNKNOWN_DOCUMENT, "unknown document"),
        (token(events=("e2",)), CONTROL, CloseCode.UNKNOWN_DOCUMENT, "no such document is served to you"),
    ],
)
async def test_a_refused_peer_gets_a_close_code_and_a_reason_and_no_session(
    service: SyncService, tok: str | None, name: str, code: int, words: str
) -> None:
    conn = MemoryConnection(tok)
    async with asyncio.timeout(5):
        await service.serve(conn, name)
    assert conn.closed is not None
    assert conn.closed[0] == code and words in conn.closed[1]
    assert conn.sent == [] and service.connected() == {}


async def test_not_yours_and_does_not_exist_get_the_same_answer(service: SyncService) -> None:
    """No existence oracle: a peer of e2 cannot tell e1 (served here) from e9 (not served)."""
    answers = []
    for name in (CONTROL, "event/e9/control", "event/e1/device/box7", "event/e9/device/box7"):
        conn = MemoryConnection(token(events=("e2",)))
        async with asyncio.timeout(5):
            await service.serve(conn, name)
        assert conn.closed is not None and conn.sent == []
        answers.append((conn.closed[0], conn.closed[1].replace(name, "<name>")))
    assert (
        answers
        == [(CloseCode.UNKNOWN_DOCUMENT, "unknown document '<name>': no such document is served to you here")]
        * 4
    )


async def test_a_session_starts_with_step_1_and_ends_when_the_peer_leaves(service: SyncService) -> None:
    conn = MemoryConnection(token(), in_query=True)  # browsers can only use the query
    serving = asyncio.create_task(service.serve(conn, CONTROL))
    await until(lambda: conn.sent)
    first = decode(conn.sent[0])
    assert isinstance(first, SyncMessage) and first.kind == SyncType.STEP1
    assert service.connected() == {CONTROL: ["box2"]}
    conn.inbox.put_nowait(None)  # the peer goes away
    async with asyncio.timeout(5):
        await serving
    assert service.connected() == {}
    assert conn.closed == (CloseCode.NORMAL, "")


async def test_an_async_authenticator_is_awaited(service: SyncService) -> None:
    async def authenticate(tok: str | None) -> PeerIdentity:
        await asyncio.sleep(0)
        if tok != "hub-credential":
            raise InvalidToken("unknown credential")
        return PeerIdentity(peer_id="hub", role=Role.HUB, events=("*",))

    service.authenticate = authenticate
    assert (await service.identify("hub-credential")).peer_id == "hub"
    conn = MemoryConnection("nope")
    await service.serve(conn, CONTROL)
    assert conn.closed == (CloseCode.UNAUTHORIZED, "unauthorized: unknown credential")


async def test_awareness_is_relayed_to_the_documents_other_peers_only(service: SyncService) -> None:
    a, b = MemoryConnection(token("a")), MemoryConnection(token("b"))
    other_doc = MemoryConnection(token("c"))
    tasks = [
        asyncio.create_task(service.serve(a, CONTROL)),
        asyncio.create_task(service.serve(b, CONTROL)),
        asyncio.create_task(service.serve(other_doc, str(DocName.device("e1", "c")))),
    ]
    await until(lambda: len(service.connected().get(CONTROL, [])) == 2 and other_doc.sent)
    frame = encode(AwarenessMessage(b"\x01\x07\x01\x02{}"))  # client 7, clock 1, state {}
    a.inbox.put_nowait(frame)
    await until(lambda: frame in b.sent)
    assert frame not in a.sent and frame not in other_doc.sent
    await service.shutdown()
    async with asyncio.timeout(5):
        await asyncio.gather(*tasks)
    assert {c.closed for c in (a, b, other_doc)} == {(CloseCode.GOING_AWAY, "server shutting down")}


async def test_disconnecting_a_peer_closes_only_its_sessions(service: SyncService) -> None:
    revoked = [MemoryConnection(token("box2")) for _ in range(2)]
    kept = MemoryConnection(token("box3"))
    tasks = [
        asyncio.create_task(service.serve(revoked[0], CONTROL)),
        asyncio.create_task(service.serve(revoked[1], "event/e1/device/box2")),
        asyncio.create_task(service.serve(kept, CONTROL)),
    ]
    await until(lambda: sum(len(p) for p in service.connected().values()) == 3)
    assert await service.disconnect("box2", "device revoked") == 2
    async with asyncio.timeout(5):
        await asyncio.gather(*tasks[:2])
    assert [c.closed for c in revoked] == [(CloseCode.UNAUTHORIZED, "device revoked")] * 2
    assert kept.closed is None and service.connected() == {CONTROL: ["box3"]}
    await service.shutdown()
    await tasks[2]


async def test_the_readable_documents_are_those_of_the_peers_events(service: SyncService) -> None:
    await service.replica.open(DocName.device("e1", "box2"))
    peer = await service.identify(token())
    assert await service.readable_documents(peer) == [CONTROL, "event/e1/device/box2"]
    outsider = await service.identify(token(events=("e2",)))
    assert await service.readable_documents(outsider) == []


async def test_the_channel_turns_a_failed_send_into_going_away_and_cuts_long_reasons() -> None:
    conn = MemoryConnection()
    channel = ConnectionChannel(conn)
    await channel.close(CloseCode.FORBIDDEN, "é" * 100)  # 200 bytes of UTF-8
    assert conn.closed is not None and len(conn.closed[1].encode()) <= 123
    with pytest.raises(ChannelClosed) as failed:
        await channel.send(b"late")
    assert failed.value.code == CloseCode.GOING_AWAY
