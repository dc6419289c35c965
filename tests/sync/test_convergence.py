"""Convergence: whatever the delivery order, duplicates or losses, replicas end equal.

Each example builds 3-5 replicas on their own SQLite files.  Every device
appends scans to its own log; one organizer also edits the control
document.  Every durable update (local, or received and relayed) becomes a
message to every other replica; hypothesis then picks which message is
delivered next, duplicated, or dropped.  Dropped messages are recovered the
way real peers recover — a state-vector handshake (Step 1/Step 2) between
every pair at the end.  Then documents, state vectors and projections must
be identical everywhere.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.documents import ControlDoc, DeviceLog
from sync.names import DocName
from sync.projection import FIRST_ADMISSIONS, RecordProjection
from sync.protocol import decode_state_vector
from sync.records import Room
from sync.replica import Replica
from sync.sqlite_store import SQLiteUpdateStore

EVENT = "conv"
CONTROL = DocName.control(EVENT)


@dataclass
class Message:
    src: int
    dst: int
    doc: str
    update: bytes


ops = st.lists(
    st.one_of(
        st.tuples(st.just("scan"), st.integers(0, 4), st.integers(0, 9)),  # replica, attendee
        st.tuples(st.just("control"), st.integers(0, 2), st.integers(0, 3)),  # room, capacity choice
        st.tuples(st.just("deliver"), st.integers(0, 10_000), st.just(0)),
        st.tuples(st.just("duplicate"), st.integers(0, 10_000), st.just(0)),
        st.tuples(st.just("drop"), st.integers(0, 10_000), st.just(0)),
    ),
    min_size=1,
    max_size=60,
)


async def scenario(root: Path, n: int, program: list[tuple[str, int, int]]) -> None:
    replicas = [
        Replica(SQLiteUpdateStore(root / f"r{i}.db", projector=RecordProjection(), synchronous="NORMAL"))
        for i in range(n)
    ]
    network: list[Message] = []
    for i, replica in enumerate(replicas):
        await replica.start()

        def relay(doc: str, update: bytes, source: object, i: int = i) -> None:
            network.extend(Message(i, j, doc, update) for j in range(n) if j != i)

        replica.subscribe(relay)
    logs = [DocName.device(EVENT, f"dev{i}") for i in range(n)]

    async def deliver(message: Message) -> None:
        await replicas[message.dst].receive(
            message.doc, message.update, f"r{message.src}", source=message.src
        )

    counter = 0
    for op, a, b in program:
        if op == "scan":
            i = a % n
            counter += 1
            nonce, attendee = f"s{counter}", f"att{b}"
            await replicas[i].write(
                logs[i],
                lambda doc, nonce=nonce, attendee=attendee, i=i: DeviceLog(doc).append_scan(
                    nonce=nonce, gate=f"g{i}", result="admitted", attendee_id=attendee
                ),
            )
        elif op == "control":
            room = Room(id=f"room{a}", name=f"Room {a}", capacity=[10, 50, 100, None][b])
            await replicas[0].write(CONTROL, lambda doc, room=room: ControlDoc(doc).put_room(room))
        elif network:
            k = a % len(network)
            if op == "deliver":
                await deliver(network.pop(k))
            elif op == "duplicate":
                await deliver(network[k])
            else:
                network.pop(k)

    # Recovery: what every reconnect does — each side sends what the other's state vector lacks.
    names = [str(CONTROL), *map(str, logs)]
    for _ in range(2):
        for src in range(n):
            for dst in range(n):
                if src != dst:
                    for name in names:
                        await replicas[src].open(name)
                        await replicas[dst].open(name)
                        diff = await replicas[src].diff(name, await replicas[dst].state_vector(name))
                        await replicas[dst].receive(name, diff, f"r{src}", source=src)

    for name in names:
        contents = [_content(replica, name) for replica in replicas]
        assert all(c == contents[0] for c in contents), f"{name} diverged"
        vectors = [decode_state_vector(await replica.state_vector(name)) for replica in replicas]
        assert all(v == vectors[0] for v in vectors), f"{name}: state vectors differ"
    for replica in replicas:
        await replica.close()

    projections = [_projection(root / f"r{i}.db") for i in range(n)]
    assert all(p == projections[0] for p in projections), "projections differ"
    scans = sum(1 for op, _, _ in program if op == "scan")
    assert len(projections[0][0]) == scans


def _content(replica: Replica, name: str) -> object:
    doc = replica.doc(name)
    if DocName.parse(name).kind == "control":
        control = ControlDoc(doc)
        return (control.rooms(), control.settings(), [r.id for r in control.revocations()])
    return [(r.id, r.nonce) for r in DeviceLog(doc).records()]


def _projection(db: Path) -> tuple[list[tuple[object, ...]], ...]:
    with sqlite3.connect(db) as conn:
        return (
            conn.execute("SELECT * FROM sync_record ORDER BY doc, id").fetchall(),
            conn.execute("SELECT * FROM sync_entry ORDER BY doc, root, key").fetchall(),
            conn.execute(FIRST_ADMISSIONS).fetchall(),
        )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(3, 5), program=ops)
def test_replicas_converge_whatever_the_network_does(n: int, program: list[tuple[str, int, int]]) -> None:
    with tempfile.TemporaryDirectory() as root:
        asyncio.run(scenario(Path(root), n, program))
