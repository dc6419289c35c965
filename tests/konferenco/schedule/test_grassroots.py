"""Proposal states and the deterministic conflict rule for decisions made apart."""

from __future__ import annotations

import random

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from konferenco.schedule.grassroots import (
    proposal_ref,
    proposal_refusal,
    proposal_states,
    slot_conflicts,
)
from konferenco.schedule.model import EventFrame, ScheduleSettings, settings_from
from tests.konferenco.schedule.builders import FRAME, index, session, t


class D(msgspec.Struct, frozen=True, kw_only=True):
    """A decision as the control log holds it (the fields the rule reads)."""

    id: str
    at: int
    proposal_id: str
    decision: str
    session_id: str | None = None
    by: str | None = None
    reason: str = ""


def test_a_proposal_is_pending_until_decided() -> None:
    states, conflicts = proposal_states(
        ["p1", "p2"], [D(id="d1", at=5, proposal_id="p1", decision="rejected")]
    )
    assert states["p1"].status == "rejected" and states["p2"].status == "pending" and conflicts == []


def test_a_withdrawn_approval_returns_the_proposal_to_pending_and_it_can_be_approved_again() -> None:
    decisions = [
        D(id="d1", at=1, proposal_id="p", decision="scheduled", session_id="gr-d1", by="olga"),
        D(id="d2", at=2, proposal_id="p", decision="withdrawn", by="olga", reason="room flooded"),
        D(id="d3", at=3, proposal_id="p", decision="scheduled", session_id="gr-d3", by="olga"),
    ]
    states, conflicts = proposal_states(["p"], decisions)
    assert (states["p"].status, states["p"].session_id, conflicts) == ("approved", "gr-d3", [])


def test_two_devices_deciding_one_proposal_apart_agree_which_decision_came_later() -> None:
    first = D(id="d-a", at=100, proposal_id="p", decision="scheduled", session_id="gr-d-a", by="olga")
    second = D(id="d-b", at=130, proposal_id="p", decision="rejected", by="ravi", reason="too loud")
    for order in ([first, second], [second, first]):  # replicas hold the log in different orders
        states, conflicts = proposal_states(["p"], order)
        assert states["p"].status == "approved" and states["p"].decision_id == "d-a"
        [conflict] = conflicts
        assert (conflict.decision_id, conflict.rule, conflict.earlier_decision_id) == (
            "d-b",
            "decided_twice",
            "d-a",
        )
        assert "rejected by ravi after it had already been approved by olga" in conflict.message


def test_same_millisecond_decisions_are_ordered_by_id_everywhere() -> None:
    a = D(id="aaa", at=7, proposal_id="p", decision="scheduled", session_id="gr-aaa")
    b = D(id="bbb", at=7, proposal_id="p", decision="scheduled", session_id="gr-bbb")
    assert proposal_states(["p"], [b, a])[1][0].decision_id == "bbb"


def test_two_approvals_into_one_slot_make_the_later_decision_conflict_and_keep_both_sessions() -> None:
    early = session("gr-d1", "a", "10:00", 60, grassroots=True, decision_id="d1", proposal_id="p1")
    late = session("gr-d2", "a", "10:30", 60, grassroots=True, decision_id="d2", proposal_id="p2")
    decisions = [
        D(id="d2", at=200, proposal_id="p2", decision="scheduled", session_id="gr-d2"),
        D(id="d1", at=100, proposal_id="p1", decision="scheduled", session_id="gr-d1"),
    ]
    ix = index(early, late)
    [conflict] = slot_conflicts(ix, decisions)
    assert (conflict.decision_id, conflict.session_id, conflict.rule) == ("d2", "gr-d2", "slot_taken")
    assert conflict.earlier_decision_id == "d1"
    assert "Hall A is booked twice" in conflict.message
    assert set(ix.sessions) == {"gr-d1", "gr-d2"}  # nothing dropped or moved


def test_a_decision_into_a_slot_an_organizer_session_holds_conflicts() -> None:
    keynote = session("k1", "a", "10:00", 60)
    grassroots = session("gr-d9", "a", "10:00", 30, grassroots=True, decision_id="d9")
    decisions = [D(id="d9", at=1, proposal_id="p9", decision="scheduled", session_id="gr-d9")]
    [conflict] = slot_conflicts(index(keynote, grassroots), decisions)
    assert conflict.session_id == "gr-d9"


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.sampled_from(["scheduled", "rejected", "withdrawn"])), max_size=12
    )
)
def test_every_order_of_the_same_decisions_gives_the_same_states(raw: list) -> None:
    decisions = [
        D(id=f"d{i:02d}", at=at, proposal_id=f"p{i % 3}", decision=kind, session_id=f"gr-d{i:02d}")
        for i, (at, kind) in enumerate(raw)
    ]
    shuffled = decisions[:]
    random.Random(len(raw)).shuffle(shuffled)
    assert proposal_states(["p0", "p1", "p2"], decisions) == proposal_states(["p0", "p1", "p2"], shuffled)


def test_a_proposal_ref_is_short_stable_and_unambiguous() -> None:
    ref = proposal_ref("01JABCDEF")
    assert ref == proposal_ref("01JABCDEF") and ref != proposal_ref("01JABCDEG")
    assert ref.startswith("GR-") and len(ref) == 8 and not set(ref[3:]) & set("ILOU")


def test_proposals_are_refused_with_the_attendee_s_reason() -> None:
    on = settings_from({"grassroots": {"enabled": True, "min_minutes": 15, "max_minutes": 90}})
    now = t("12:00")
    assert proposal_refusal(ScheduleSettings(), FRAME, now, duration_min=30, open_proposals=0) == (
        "This event does not take session proposals."
    )
    assert proposal_refusal(on, FRAME, now, duration_min=30, open_proposals=0) is None
    assert "between 15 and 90 minutes" in (
        proposal_refusal(on, FRAME, now, duration_min=120, open_proposals=0) or ""
    )
    assert "already have 3 proposals" in (
        proposal_refusal(on, FRAME, now, duration_min=30, open_proposals=3) or ""
    )
    assert (
        proposal_refusal(on, FRAME, t("20:00"), duration_min=30, open_proposals=0)
        == "Session proposals are closed."
    )
    later = settings_from({"grassroots": {"enabled": True, "opens_at": t("13:00")}})
    assert (
        proposal_refusal(later, FRAME, now, duration_min=30, open_proposals=0)
        == "Session proposals are not open yet."
    )
    undated = EventFrame(event_id="e1")
    assert proposal_refusal(on, undated, now, duration_min=30, open_proposals=0) is None
