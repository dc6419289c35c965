"""Editing the schedule in the control document: checked, whole or nothing, durable, and merged apart."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from konferenco.errors import KonferencoError
from konferenco.schedule.grassroots import proposal_states, slot_conflicts
from konferenco.schedule.model import Room, Session
from sync import schedule_edits as edits
from sync.names import DocName
from sync.projection import RecordProjection
from sync.replica import Replica
from sync.sqlite_store import SQLiteUpdateStore
from tests.konferenco.schedule.builders import FRAME, ROOMS, session

EVENT = "e1"
CONTROL = DocName.control(EVENT)


async def open_replica(path: Path) -> Replica:
    replica = Replica(SQLiteUpdateStore(path, projector=RecordProjection()))
    await replica.start()
    return replica


async def with_rooms(path: Path) -> Replica:
    replica = await open_replica(path)
    for room in ROOMS.values():
        await edits.put_room(replica, EVENT, room)
    return replica


async def test_a_session_is_written_and_survives_a_restart(tmp_path: Path) -> None:
    replica = await with_rooms(tmp_path / "a.db")
    placed, warnings = await edits.put_session(
        replica, EVENT, session("s1", "a", "09:00", 60), FRAME, by="olga"
    )
    assert warnings == [] and placed.id == "s1"
    await replica.close()
    again = await open_replica(tmp_path / "a.db")
    state = await edits.snapshot(again, EVENT)
    assert state.sessions["s1"].title == "S1" and set(state.rooms) == {"a", "b"}
    await again.close()


async def test_a_refused_edit_writes_nothing_and_says_why(tmp_path: Path) -> None:
    replica = await with_rooms(tmp_path / "a.db")
    await edits.put_session(replica, EVENT, session("s1", "a", "09:00", 60), FRAME, by="olga")
    before = await replica.state_vector(CONTROL)
    with pytest.raises(KonferencoError) as refused:
        await edits.put_session(replica, EVENT, session("s2", "a", "09:30", 60), FRAME, by="olga")
    assert refused.value.code == "schedule_conflict" and refused.value.status == 409
    assert "Hall A is booked twice" in refused.value.message
    assert refused.value.details["findings"][0]["rule"] == "room_overlap"
    assert await replica.state_vector(CONTROL) == before
    assert "s2" not in (await edits.snapshot(replica, EVENT)).sessions
    await replica.close()


async def test_an_explicit_overlap_approval_is_recorded_and_kept_while_the_session_stays(
    tmp_path: Path,
) -> None:
    replica = await with_rooms(tmp_path / "a.db")
    await edits.put_session(replica, EVENT, session("s1", "a", "09:00", 60), FRAME, by="olga")
    second = session("s2", "a", "09:30", 60)
    placed, warnings = await edits.put_session(
        replica, EVENT, second, FRAME, by="olga", overlap_reason="joint"
    )
    assert placed.overlap is not None and (placed.overlap.by, placed.overlap.reason) == ("olga", "joint")
    assert [w.rule for w in warnings] == ["room_overlap"]
    retitled = msgspec.structs.replace(second, title="Joint workshop")
    kept, _ = await edits.put_session(replica, EVENT, retitled, FRAME, by="ravi")
    assert kept.overlap is not None and kept.overlap.by == "olga"
    moved = session("s2", "a", "09:15", 60)
    with pytest.raises(KonferencoError, match="booked twice"):  # a move needs a new approval
        await edits.put_session(replica, EVENT, moved, FRAME, by="ravi")
    await replica.close()


async def test_a_room_in_use_cannot_be_removed(tmp_path: Path) -> None:
    replica = await with_rooms(tmp_path / "a.db")
    await edits.put_session(replica, EVENT, session("s1", "a", "09:00", 60), FRAME, by="olga")
    with pytest.raises(KonferencoError) as refused:
        await edits.remove_room(replica, EVENT, "a")
    assert refused.value.details["sessions"] == ["s1"]
    await edits.remove_room(replica, EVENT, "b")
    with pytest.raises(KonferencoError) as missing:
        await edits.remove_room(replica, EVENT, "b")
    assert missing.value.code == "unknown_room"
    assert set((await edits.snapshot(replica, EVENT)).rooms) == {"a"}
    await replica.close()


async def test_an_import_that_breaks_a_block_rule_writes_nothing(tmp_path: Path) -> None:
    replica = await with_rooms(tmp_path / "a.db")
    before = await replica.state_vector(CONTROL)
    clash = {s.id: s for s in (session("i1", "b", "09:00", 60), session("i2", "b", "09:45", 60))}
    with pytest.raises(KonferencoError) as refused:
        await edits.apply_import(replica, EVENT, {}, clash, FRAME)
    assert refused.value.details["findings"][0]["sessions"] == ["i1", "i2"]
    assert await replica.state_vector(CONTROL) == before
    await replica.close()


async def test_a_large_import_is_written_in_chunks_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    replica = await open_replica(tmp_path / "a.db")
    rooms = {f"r{i}": Room(id=f"r{i}", name=f"Room {i}") for i in range(30)}
    sessions: dict[str, Session] = {}
    for n in range(1200):
        room, slot = f"r{n % 30}", n // 30
        start = FRAME.starts_at + slot * 15 * 60_000  # 40 quarter-hour sessions per room
        sessions[f"s{n}"] = Session(
            id=f"s{n}", title=f"T{n}", room_id=room, starts_at=start, ends_at=start + 900_000
        )
    seen: list[tuple[int, int]] = []
    await edits.apply_import(
        replica, EVENT, rooms, sessions, FRAME, progress=lambda done, total: seen.append((done, total))
    )
    assert seen == [(500, 1200), (1000, 1200), (1200, 1200)]
    assert len((await edits.snapshot(replica, EVENT)).sessions) == 1200
    before = await replica.state_vector(CONTROL)
    await edits.apply_import(replica, EVENT, rooms, sessions, FRAME)
    assert await replica.state_vector(CONTROL) == before
    await replica.close()


def grassroots(proposal: str, room: str, start: str) -> object:
    def build(decision_id: str) -> Session:
        s = session(edits.grassroots_session_id(decision_id), room, start, 60, grassroots=True)
        return msgspec.structs.replace(s, proposal_id=proposal, decision_id=decision_id)

    return build


async def test_decisions_approve_reject_and_withdraw_a_proposal(tmp_path: Path) -> None:
    replica = await with_rooms(tmp_path / "a.db")
    known = {"p1", "p2"}.__contains__
    decision, placed, _ = await edits.decide(
        replica,
        EVENT,
        "p1",
        "scheduled",
        FRAME,
        by="olga",
        known=known,
        session=grassroots("p1", "a", "11:00"),
    )
    assert placed is not None and placed.id == f"gr-{decision.id}" and decision.session_id == placed.id
    with pytest.raises(KonferencoError) as twice:
        await edits.decide(replica, EVENT, "p1", "rejected", FRAME, by="ravi", known=known, reason="no")
    assert twice.value.code == "already_decided" and twice.value.details["status"] == "approved"
    with pytest.raises(KonferencoError) as missing:
        await edits.decide(replica, EVENT, "p9", "rejected", FRAME, by="ravi", known=known)
    assert missing.value.code == "unknown_proposal"
    withdrawal, cancelled, _ = await edits.decide(
        replica, EVENT, "p1", "withdrawn", FRAME, by="olga", known=known, reason="room flooded"
    )
    assert cancelled is not None and cancelled.status == "cancelled"
    assert (withdrawal.decision, withdrawal.session_id, withdrawal.reason) == (
        "withdrawn",
        placed.id,
        "room flooded",
    )
    state = await edits.snapshot(replica, EVENT)
    states, _ = proposal_states(["p1"], state.decisions)
    assert states["p1"].status == "pending" and state.sessions[placed.id].status == "cancelled"
    # the slot is free again for another approval
    _, again, _ = await edits.decide(
        replica,
        EVENT,
        "p2",
        "scheduled",
        FRAME,
        by="olga",
        known=known,
        session=grassroots("p2", "a", "11:00"),
    )
    assert again is not None
    await replica.close()


async def test_an_approval_into_a_taken_slot_is_refused_without_a_decision(tmp_path: Path) -> None:
    replica = await with_rooms(tmp_path / "a.db")
    await edits.put_session(replica, EVENT, session("k", "a", "11:00", 60), FRAME, by="olga")
    with pytest.raises(KonferencoError, match="booked twice"):
        await edits.decide(
            replica, EVENT, "p1", "scheduled", FRAME, by="olga", known=lambda _: True,
            session=grassroots("p1", "a", "11:30"),
        )  # fmt: skip
    assert (await edits.snapshot(replica, EVENT)).decisions == []
    await replica.close()


async def test_two_organizer_boxes_cut_off_from_each_other_keep_both_sessions_and_agree_on_the_conflict(
    tmp_path: Path,
) -> None:
    one, two = await with_rooms(tmp_path / "one.db"), await open_replica(tmp_path / "two.db")
    await two.receive(CONTROL, await one.diff(CONTROL), "one")  # both start from the same rooms
    known = {"p1", "p2"}.__contains__
    # the network between them is down: each approves a different proposal into 11:00 in Hall A
    await edits.decide(
        one, EVENT, "p1", "scheduled", FRAME, by="olga", known=known, session=grassroots("p1", "a", "11:00")
    )
    await edits.decide(
        two, EVENT, "p2", "scheduled", FRAME, by="ravi", known=known, session=grassroots("p2", "a", "11:00")
    )
    # the network is back
    await two.receive(CONTROL, await one.diff(CONTROL, await two.state_vector(CONTROL)), "one")
    await one.receive(CONTROL, await two.diff(CONTROL, await one.state_vector(CONTROL)), "two")
    views = []
    for replica in (one, two):
        state = await edits.snapshot(replica, EVENT)
        grassroots_sessions = sorted(s.proposal_id for s in state.sessions.values() if s.grassroots)
        conflicts = slot_conflicts(state.index(FRAME), state.decisions)
        views.append((grassroots_sessions, [(c.decision_id, c.rule) for c in conflicts]))
    assert views[0] == views[1]
    sessions, conflicts = views[0]
    assert sessions == ["p1", "p2"]  # nothing dropped, nothing moved
    later = max((await edits.snapshot(one, EVENT)).decisions, key=lambda d: (d.at, d.id))
    assert conflicts == [(later.id, "slot_taken")]
    await one.close()
    await two.close()


async def test_an_import_may_approve_its_own_overlaps_for_the_whole_file_with_a_reason(
    tmp_path: Path,
) -> None:
    replica = await with_rooms(tmp_path / "a.db")
    await edits.put_session(replica, EVENT, session("here", "a", "15:00", 60), FRAME, by="olga")
    clash = {s.id: s for s in (session("i1", "b", "09:00", 60), session("i2", "b", "09:45", 60))}
    warnings = await edits.apply_import(
        replica, EVENT, {}, clash, FRAME, by="olga", overlap_reason="as published by the programme team"
    )
    assert [w.rule for w in warnings] == ["room_overlap"]
    assert "Overlap approved by olga: as published by the programme team" in warnings[0].message
    state = await edits.snapshot(replica, EVENT)
    assert state.sessions["i1"].overlap is not None and state.sessions["i2"].overlap is not None
    # an overlap with a session already here is not the file's to approve
    intruder = {"i3": session("i3", "a", "15:30", 30)}
    with pytest.raises(KonferencoError, match="booked twice"):
        await edits.apply_import(replica, EVENT, {}, intruder, FRAME, by="olga", overlap_reason="file")
    await replica.close()


async def test_an_edit_keeps_where_a_grassroots_session_came_from(tmp_path: Path) -> None:
    replica = await with_rooms(tmp_path / "a.db")
    decision, placed, _ = await edits.decide(
        replica, EVENT, "p1", "scheduled", FRAME, by="olga", known=lambda _: True,
        session=lambda did: msgspec.structs.replace(
            grassroots("p1", "a", "11:00")(did), host="att-7", host_name="Ada", proposer="att-7"
        ),
    )  # fmt: skip
    assert placed is not None
    # an organizer's form knows nothing of proposals: a plain session with the same id and a new title
    form = session(placed.id, "a", "11:00", 60, title="Knitting, renamed")
    kept, _ = await edits.put_session(replica, EVENT, form, FRAME, by="ravi")
    assert (kept.title, kept.decision_id, kept.proposal_id, kept.proposer) == (
        "Knitting, renamed", decision.id, "p1", "att-7",
    )  # fmt: skip
    assert kept.grassroots and (kept.host, kept.host_name) == ("att-7", "Ada")
    stored = (await edits.snapshot(replica, EVENT)).sessions[placed.id]
    assert stored == kept
    await replica.close()
