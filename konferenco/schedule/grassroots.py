"""Grassroots proposals and decisions: what state each proposal is in, and which decisions conflict.

Pure functions over the control document's decision log, identical on every
replica.  Decisions are read in one order everywhere, ``(at, id)``, so two
organizer appliances that decided while cut off from each other agree, once
they have synced, on which decision came first and which one conflicts:

* a second approval (or a rejection) of a proposal already approved: the
  later decision conflicts; its session still exists (nothing is dropped);
* two approved sessions in one room at once, neither with an approved
  overlap: the later decision conflicts (:func:`slot_conflicts`).

A conflict is listed for organizers (API, console, TUI), never resolved by
moving or deleting anything.  A withdrawal returns an approved proposal to
``pending`` (its session is cancelled by the withdrawing editor).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Literal, Protocol

import msgspec

from konferenco.schedule.model import EventFrame, ScheduleSettings, Session
from konferenco.schedule.rules import ScheduleIndex

ProposalStatus = Literal["pending", "approved", "rejected"]
APPROVALS = frozenset({"scheduled", "accepted"})

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class DecisionLike(Protocol):
    """What this module reads of a ``sync.records.Decision``."""

    @property
    def id(self) -> str: ...
    @property
    def at(self) -> int: ...
    @property
    def proposal_id(self) -> str: ...
    @property
    def decision(self) -> str: ...
    @property
    def session_id(self) -> str | None: ...
    @property
    def by(self) -> str | None: ...
    @property
    def reason(self) -> str: ...


class ProposalLike(Protocol):
    """What :func:`grassroots_session` reads of a proposal (the device-log record or a projected row)."""

    @property
    def proposal_id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def proposer(self) -> str | None: ...
    @property
    def language(self) -> str: ...
    @property
    def attendance(self) -> int | None: ...
    @property
    def type(self) -> str: ...


def session_id_for(decision_id: str) -> str:
    """The session an approval creates: one per decision, so two offline approvals never overwrite."""
    return f"gr-{decision_id}"


def grassroots_session(
    proposal: ProposalLike, decision_id: str, *, room_id: str, starts_at: int, ends_at: int
) -> Session:
    """The session an approval places, the same on the hub and every appliance.

    The proposer hosts it (the attendee becomes a host: they may edit its
    title and description with their badge) and speaks at it, so the rules
    keep them out of two places at once.
    """
    host_name = proposal.host.strip()[:120]
    return Session(
        id=session_id_for(decision_id),
        title=proposal.title.strip() or "Grassroots session",
        room_id=room_id,
        starts_at=starts_at,
        ends_at=ends_at,
        speakers=[host_name] if host_name else [],
        speaker_ids=[proposal.proposer] if proposal.proposer else [],
        grassroots=True,
        abstract=proposal.description,
        type=proposal.type or "grassroots",
        language=proposal.language,
        attendance=proposal.attendance,
        proposer=proposal.proposer,
        host=proposal.proposer,
        host_name=host_name,
        proposal_id=proposal.proposal_id,
        decision_id=decision_id,
    )


class Conflict(msgspec.Struct, frozen=True, kw_only=True):
    decision_id: str
    proposal_id: str
    session_id: str | None
    rule: Literal["decided_twice", "slot_taken"]
    earlier_decision_id: str
    message: str


class ProposalState(msgspec.Struct, frozen=True, kw_only=True):
    proposal_id: str
    status: ProposalStatus
    decision_id: str | None = None
    session_id: str | None = None
    decided_by: str | None = None
    decided_at: int | None = None
    reason: str = ""


def proposal_ref(proposal_id: str) -> str:
    """A short reference an attendee can read off a screen and say at the desk (``GR-7K3QD``).

    Derived from the proposal id, so every replica shows the same one;
    Crockford's alphabet has no I, L, O or U to misread.
    """
    digest = int.from_bytes(hashlib.sha256(proposal_id.encode()).digest()[:4], "big")
    chars = "".join(_CROCKFORD[(digest >> (5 * n)) & 31] for n in range(5))
    return f"GR-{chars}"


def ordered(decisions: Iterable[DecisionLike]) -> list[DecisionLike]:
    return sorted(decisions, key=lambda d: (d.at, d.id))


def proposal_states(
    proposal_ids: Iterable[str], decisions: Sequence[DecisionLike]
) -> tuple[dict[str, ProposalState], list[Conflict]]:
    """Each proposal's state after its decisions, and the decisions that came too late."""
    states = {pid: ProposalState(proposal_id=pid, status="pending") for pid in proposal_ids}
    conflicts: list[Conflict] = []
    for d in ordered(decisions):
        current = states.get(d.proposal_id) or ProposalState(proposal_id=d.proposal_id, status="pending")
        if d.decision == "withdrawn":
            if current.status == "approved":
                states[d.proposal_id] = ProposalState(
                    proposal_id=d.proposal_id,
                    status="pending",
                    decided_by=d.by,
                    decided_at=d.at,
                    reason=d.reason,
                )
            continue
        status: ProposalStatus = "approved" if d.decision in APPROVALS else "rejected"
        if current.status != "pending":
            what = "approved" if status == "approved" else "rejected"
            conflicts.append(
                Conflict(
                    decision_id=d.id,
                    proposal_id=d.proposal_id,
                    session_id=d.session_id,
                    rule="decided_twice",
                    earlier_decision_id=current.decision_id or "",
                    message=(
                        f"Proposal {proposal_ref(d.proposal_id)} was {what} by {d.by or 'an organizer'} "
                        f"after it had already been {current.status} "
                        f"by {current.decided_by or 'an organizer'}."
                    ),
                )
            )
            continue
        states[d.proposal_id] = ProposalState(
            proposal_id=d.proposal_id,
            status=status,
            decision_id=d.id,
            session_id=d.session_id if status == "approved" else None,
            decided_by=d.by,
            decided_at=d.at,
            reason=d.reason,
        )
    return states, conflicts


def slot_conflicts(index: ScheduleIndex, decisions: Sequence[DecisionLike]) -> list[Conflict]:
    """Approved sessions double-booking a room: the later decision of each pair conflicts."""
    rank = {d.id: (d.at, d.id) for d in decisions if d.decision in APPROVALS}
    by_id = {d.id: d for d in decisions}
    conflicts: list[Conflict] = []
    seen: set[tuple[str, str]] = set()
    for finding in index.findings():
        if finding.rule != "room_overlap" or finding.severity != "block":
            continue
        involved = [index.sessions[sid] for sid in finding.sessions if sid in index.sessions]
        decided = [s for s in involved if s.decision_id in rank]
        if not decided:
            continue
        later = max(decided, key=lambda s: rank[s.decision_id or ""])
        earlier = [s for s in involved if s.id != later.id]
        earlier_decision = earlier[0].decision_id if earlier and earlier[0].decision_id else ""
        key = (later.decision_id or "", earlier[0].id if earlier else "")
        if key in seen:
            continue
        seen.add(key)
        decision = by_id[later.decision_id or ""]
        conflicts.append(
            Conflict(
                decision_id=decision.id,
                proposal_id=decision.proposal_id,
                session_id=later.id,
                rule="slot_taken",
                earlier_decision_id=earlier_decision,
                message=f"Decided after the slot was taken: {finding.message}",
            )
        )
    return conflicts


def proposal_refusal(
    settings: ScheduleSettings,
    frame: EventFrame,
    now: int,
    *,
    duration_min: int,
    open_proposals: int,
) -> str | None:
    """Why a new proposal must be refused, in the attendee's words; None when it may be recorded."""
    rules = settings.grassroots
    if not rules.enabled:
        return "This event does not take session proposals."
    opens = rules.opens_at
    closes = rules.closes_at if rules.closes_at is not None else frame.ends_at
    if opens is not None and now < opens:
        return "Session proposals are not open yet."
    if closes is not None and now >= closes:
        return "Session proposals are closed."
    if not rules.min_minutes <= duration_min <= rules.max_minutes:
        return f"A session here lasts between {rules.min_minutes} and {rules.max_minutes} minutes."
    if open_proposals >= rules.max_open_per_attendee:
        return (
            f"You already have {open_proposals} proposals waiting for a decision "
            f"(at most {rules.max_open_per_attendee})."
        )
    return None


class HostEditLike(Protocol):
    """What :func:`apply_host_edits` reads of a ``sync.records.HostEdit``."""

    @property
    def id(self) -> str: ...
    @property
    def at(self) -> int: ...
    @property
    def session_id(self) -> str: ...
    @property
    def attendee_id(self) -> str: ...
    @property
    def title(self) -> str | None: ...
    @property
    def description(self) -> str | None: ...


def apply_host_edits(sessions: dict[str, Session], edits: Iterable[HostEditLike]) -> dict[str, Session]:
    """The sessions as their hosts edited them at a kiosk: title and abstract, nothing else.

    Host edits live in device logs (a kiosk may not write the control
    document), so every replica lays them over the sessions the same way:
    an edit counts only if its attendee is the session's host *now* (a
    host replaced by the organizers loses the say), and for each of the two
    fields the latest edit that sets it, by ``(at, id)``, wins.  Sessions
    without a counting edit are returned as they are (the same objects).
    """
    latest: dict[tuple[str, str], tuple[tuple[int, str], str]] = {}
    for edit in edits:
        session = sessions.get(edit.session_id)
        if session is None or not session.host or session.host != edit.attendee_id:
            continue
        rank = (edit.at, edit.id)
        for field, value in (("title", edit.title), ("abstract", edit.description)):
            if value is None:
                continue
            key = (edit.session_id, field)
            if key not in latest or latest[key][0] < rank:
                latest[key] = (rank, value)
    if not latest:
        return sessions
    out = dict(sessions)
    for (session_id, field), (_, value) in latest.items():
        out[session_id] = msgspec.structs.replace(out[session_id], **{field: value})
    return out
