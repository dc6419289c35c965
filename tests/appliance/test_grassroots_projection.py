"""The grassroots projection and the host-edit overlay, on real SQLite and a real replica.

Proposals and host edits reach a box from any device's log, in any order and
possibly twice; the tables must come out the same whatever the order, and
replaying the logs must rebuild exactly them (DESIGN.md §2).  The overlay
lays only the host's own edits over a session, the latest per field.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from appliance.grassroots.overlay import HostOverlay
from appliance.grassroots.projection import GrassrootsProjection
from appliance.storage import appliance_projection
from konferenco.schedule.grassroots import apply_host_edits
from sync.documents import Appended, Change
from sync.names import DocName
from sync.records import HostEdit, Proposal, Session
from sync.replica import Replica
from sync.sqlite_store import SQLiteUpdateStore

EVENT = "demo"


def proposal(pid: str, at: int, title: str, proposer: str = "a1") -> Proposal:
    return Proposal(at=at, proposal_id=pid, title=title, host="Ana", proposer=proposer, duration_min=30)


def appended(device: str, record: Proposal | HostEdit) -> Appended:
    return Appended(DocName.device(EVENT, device), "log", record)


def rows(conn: sqlite3.Connection) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    return (
        conn.execute("SELECT * FROM grassroots_proposal ORDER BY event_id, proposal_id").fetchall(),
        conn.execute("SELECT * FROM grassroots_host_edit ORDER BY doc, id").fetchall(),
    )


def project(changes: list[Change]) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    projection = GrassrootsProjection()
    projection.setup(conn)
    for change in changes:
        projection.project(conn, [change])
    return conn


def test_any_order_and_any_repetition_gives_the_same_rows_and_the_earliest_claim_wins() -> None:
    changes: list[Change] = [
        appended("kiosk-a", proposal("p1", 1_000, "Juggling")),
        appended("kiosk-b", proposal("p1", 2_000, "Juggling, again")),  # a second record of one id
        appended("kiosk-b", proposal("p2", 1_500, "Origami", proposer="a2")),
        appended("kiosk-a", HostEdit(at=3_000, session_id="s1", attendee_id="a1", title="New")),
        appended("kiosk-b", HostEdit(at=3_100, session_id="s1", attendee_id="a1", description="Text")),
    ]
    expected = rows(project(changes))
    for seed in range(5):
        shuffled = changes * 2  # every record arrives twice
        random.Random(seed).shuffle(shuffled)
        assert rows(project(shuffled)) == expected
    proposals = {r[1]: r for r in expected[0]}
    assert proposals["p1"][2] == "event/demo/device/kiosk-a" and proposals["p1"][7] == "Juggling"
    assert len(expected[1]) == 2


async def test_replaying_the_logs_rebuilds_the_tables(tmp_path: Path) -> None:
    replica = Replica(SQLiteUpdateStore(tmp_path / "box.db", projector=appliance_projection()))
    await replica.start()
    try:
        await replica.log(EVENT, "kiosk-a", proposal("p1", 1_000, "Juggling"))
        await replica.log(EVENT, "kiosk-b", proposal("p2", 1_100, "Origami", proposer="a2"))
        await replica.log(EVENT, "kiosk-b", HostEdit(session_id="s1", attendee_id="a1", title="Juggling!"))
        conn = sqlite3.connect(tmp_path / "box.db")
        before = rows(conn)
        assert len(before[0]) == 2 and len(before[1]) == 1
        conn.execute("DELETE FROM grassroots_proposal")  # lost: the logs still hold everything
        conn.commit()
        await replica.rebuild_projections()
        assert rows(conn) == before
        conn.close()
    finally:
        await replica.close()


def hosted(sid: str, host: str | None, title: str = "Old") -> Session:
    return Session(id=sid, title=title, room_id="r", starts_at=0, ends_at=60_000, host=host, abstract="A")


def test_only_the_hosts_own_edits_count_the_latest_per_field() -> None:
    sessions = {"s1": hosted("s1", "a1"), "s2": hosted("s2", None), "s3": hosted("s3", "a3")}
    edits = [
        HostEdit(id="e1", at=1, session_id="s1", attendee_id="a1", title="First", description="D1"),
        HostEdit(id="e2", at=2, session_id="s1", attendee_id="a1", title="Second"),
        HostEdit(id="e3", at=3, session_id="s1", attendee_id="a9", title="Not the host"),
        HostEdit(id="e4", at=4, session_id="s2", attendee_id="a1", title="No host at all"),
        HostEdit(id="e0", at=2, session_id="s1", attendee_id="a1", title="Same time, smaller id"),
    ]
    shown = apply_host_edits(sessions, edits)
    assert shown["s1"].title == "Second" and shown["s1"].abstract == "D1"
    assert (shown["s1"].room_id, shown["s1"].starts_at, shown["s1"].host) == ("r", 0, "a1")
    assert shown["s2"] is sessions["s2"] and shown["s3"] is sessions["s3"]
    assert apply_host_edits(sessions, reversed(edits)) == shown  # the order they arrive in does not matter
    assert apply_host_edits(sessions, []) is sessions


def test_the_overlay_reads_the_projection_and_answers_the_same_object_until_an_edit_arrives() -> None:
    changes: list[Change] = [
        appended("kiosk-a", HostEdit(at=5, session_id="s1", attendee_id="a1", title="T"))
    ]
    conn = project(changes)
    overlay = HostOverlay(conn)
    sessions = {"s1": hosted("s1", "a1"), "s2": hosted("s2", "a2")}
    first = overlay(EVENT, sessions)
    assert first["s1"].title == "T" and first["s2"] is sessions["s2"]
    assert overlay(EVENT, sessions) is first  # nothing changed: the schedule's index need not be rebuilt
    # session ids are only unique within an event: another event's session s1 keeps its title
    assert overlay("other-event", sessions)["s1"].title == sessions["s1"].title
    GrassrootsProjection().project(
        conn, [appended("kiosk-b", HostEdit(at=6, session_id="s2", attendee_id="a2", title="U"))]
    )
    second = overlay(EVENT, sessions)
    assert second is not first and second["s2"].title == "U"
