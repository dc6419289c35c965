"""The grassroots flow on the appliance: propose, list, check a slot, decide, and let hosts edit.

* **Propose** (a kiosk or desk): the badge proves the attendee as at the door
  (:mod:`appliance.grassroots.proof`), the event's rules may refuse
  (:func:`~konferenco.schedule.grassroots.proposal_refusal`), and the
  ``Proposal`` goes into this device's log, durable before the answer (like a
  scan: ``replica.log`` returns once the update and its projection are on disk).
* **List** (organizers; the desk may read): proposals from every device's log
  (the projection), each with its state after the control document's decisions
  (:func:`~konferenco.schedule.grassroots.proposal_states`, the same on every
  replica), its conflicts and, while pending, the three best free slots.
* **Decide** (an organizer on an organizer-capable box): every decision goes
  through :func:`sync.schedule_edits.decide`, which checks and writes the
  decision and its session in one control-document transaction.  "Reserve"
  only checks: a CRDT cannot hold a slot for a minute across boxes that cannot
  see each other, so the approval checks again.
* **Host** (a kiosk): the attendee who hosts a session sees it with its
  occupancy and may change its title and description (a ``HostEdit`` in this
  device's log), nothing else.

Every step done here is counted (:attr:`Grassroots.steps`, on ``/metrics``) and
announced on the signs' notice topic (:class:`~appliance.grassroots.notices.Notices`).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import msgspec

from appliance.checkin.service import CheckinService
from appliance.grassroots.notices import Notices
from appliance.grassroots.overlay import HostEditWatch
from appliance.grassroots.proof import Attendee, BadgeProof, prove
from appliance.grassroots.schedule import Schedule, inside_room
from appliance.grassroots.structs import (
    DecisionAnswer,
    HostEditRequest,
    HostedList,
    HostedSession,
    Occupancy,
    PlaceRequest,
    ProposalRequest,
    ProposalView,
    SlotCheck,
    StatusFilter,
    StepView,
)
from appliance.staff.service import StaffClaims
from konferenco.errors import Forbidden, Invalid, KonferencoError, NotFound
from konferenco.schedule.grassroots import (
    APPROVALS,
    Conflict,
    ProposalState,
    grassroots_session,
    proposal_ref,
    proposal_refusal,
    proposal_states,
    slot_conflicts,
)
from konferenco.schedule.model import MINUTE, OverlapApproval, Session
from konferenco.schedule.rules import ScheduleIndex
from konferenco.schedule.slots import Slot, SlotQuery, find_slots
from konferenco.types import new_id, now_ms
from sync import schedule_edits
from sync.permissions import Capability
from sync.records import Decision, HostEdit, Proposal
from sync.replica import Replica

#: Slot suggestions shown with each pending proposal.
SUGGESTIONS = 3

_decode_proposal = msgspec.json.Decoder(Proposal).decode
_PROPOSALS = (
    "SELECT p.device_id, p.body, a.name FROM grassroots_proposal p"
    " LEFT JOIN attendee a ON a.event_id = p.event_id AND a.id = p.proposer"
    " WHERE p.event_id = ?"
)


@dataclass(frozen=True, slots=True)
class Stored:
    """A proposal as projected: the record, the device whose log holds it, the proposer's name."""

    proposal: Proposal
    device_id: str
    proposer_name: str


class Grassroots:
    """One appliance's grassroots part (every event it serves)."""

    def __init__(
        self,
        replica: Replica,
        conn: sqlite3.Connection,
        checkin: CheckinService,
        schedule: Schedule,
        *,
        device_id: str,
        capabilities: Collection[Capability],
        notices: Notices,
        watch: HostEditWatch,
    ) -> None:
        self.replica = replica
        self.conn = conn  # the event loop's read connection
        self.checkin = checkin
        self.schedule = schedule
        self.device_id = device_id
        self.capabilities = frozenset(capabilities)
        self.notices = notices
        self.watch = watch
        self.steps: Counter[str] = Counter()  # steps done on this box, for /metrics
        self._proposing = asyncio.Lock()  # an attendee's open proposals are counted, then one is added

    # --- reading ---------------------------------------------------------------------------

    def stored(self, event_id: str, proposal_ids: Iterable[str] | None = None) -> list[Stored]:
        """Proposals of the event (all, or these ids) from the projection, oldest first."""
        sql, args = _PROPOSALS, [event_id]
        if proposal_ids is not None:
            ids = list(proposal_ids)
            sql += f" AND p.proposal_id IN ({', '.join('?' * len(ids))})"
            args += ids
        rows = self.conn.execute(sql + " ORDER BY p.at, p.proposal_id", args).fetchall()
        return [Stored(_decode_proposal(body), device, name or "") for device, body, name in rows]

    def one(self, event_id: str, proposal_id: str) -> Stored:
        found = self.stored(event_id, [proposal_id])
        if not found:
            raise NotFound(
                f"there is no proposal '{proposal_id}' in this event",
                code="unknown_proposal",
                proposal_id=proposal_id,
            )
        return found[0]

    async def _decisions(self, event_id: str) -> list[Decision]:
        return (await self.schedule.state(event_id)).decisions

    async def views(
        self, event_id: str, status: StatusFilter = "all", proposal_ids: Iterable[str] | None = None
    ) -> list[ProposalView]:
        """Proposals with their state, steps, conflicts and (pending ones) slot suggestions."""
        stored = self.stored(event_id, proposal_ids)
        decisions = await self._decisions(event_id)
        index = await self.schedule.index(event_id)
        states, twice = proposal_states([s.proposal.proposal_id for s in stored], decisions)
        conflicts = [*twice, *slot_conflicts(index, decisions)]
        by_proposal: dict[str, list[Decision]] = {}
        for d in sorted(decisions, key=lambda d: (d.at, d.id)):
            by_proposal.setdefault(d.proposal_id, []).append(d)
        views = []
        now = now_ms()
        for s in stored:
            state = states[s.proposal.proposal_id]
            if status != "all" and state.status != status:
                continue
            views.append(
                self._view(s, state, by_proposal.get(s.proposal.proposal_id, []), conflicts, index, now)
            )
        return views

    async def view(self, event_id: str, proposal_id: str) -> ProposalView:
        self.one(event_id, proposal_id)  # 404 first
        return (await self.views(event_id, "all", [proposal_id]))[0]

    async def conflicts(self, event_id: str) -> list[Conflict]:
        """Decisions that came too late, the same list on every replica: decided twice, slot taken."""
        decisions = await self._decisions(event_id)
        index = await self.schedule.index(event_id)
        ids = [s.proposal.proposal_id for s in self.stored(event_id)]
        _, twice = proposal_states(ids, decisions)
        return sorted([*twice, *slot_conflicts(index, decisions)], key=lambda c: (c.rule, c.decision_id))

    def _view(
        self,
        stored: Stored,
        state: ProposalState,
        decisions: list[Decision],
        conflicts: list[Conflict],
        index: ScheduleIndex,
        now: int,
    ) -> ProposalView:
        p = stored.proposal
        session = index.sessions.get(state.session_id) if state.session_id else None
        return ProposalView(
            proposal_id=p.proposal_id,
            ref=p.ref or proposal_ref(p.proposal_id),
            status=state.status,
            title=p.title,
            description=p.description,
            duration_min=p.duration_min,
            attendance=p.attendance,
            wished_rooms=list(p.wished_rooms),
            wished_from=p.wished_from,
            wished_to=p.wished_to,
            language=p.language,
            proposer=p.proposer,
            proposer_name=stored.proposer_name,
            host_name=p.host,
            at=p.at,
            by=p.proposer,
            staff=p.staff,
            device_id=stored.device_id,
            decision_id=state.decision_id,
            decided_by=state.decided_by,
            decided_at=state.decided_at,
            reason=state.reason,
            session=session,
            steps=_steps(p, decisions),
            conflicts=[c for c in conflicts if c.proposal_id == p.proposal_id],
            suggestions=self._suggest(index, p, now) if state.status == "pending" else [],
        )

    def _suggest(self, index: ScheduleIndex, p: Proposal, now: int) -> list[Slot]:
        """The best free slots from now on: in the wished rooms first, then in any room open to grassroots."""
        wished = []
        if p.wished_from is not None or p.wished_to is not None:
            lo = p.wished_from if p.wished_from is not None else now
            hi = p.wished_to if p.wished_to is not None else lo + p.duration_min * MINUTE
            wished = [(lo, max(hi, lo + p.duration_min * MINUTE))]
        query = SlotQuery(
            duration_ms=p.duration_min * MINUTE,
            attendance=p.attendance,
            window_from=now,
            grassroots=True,
            wished=wished,
            host=p.proposer,
            limit=SUGGESTIONS,
        )
        found: list[Slot] = []
        if p.wished_rooms:
            found = find_slots(index, msgspec.structs.replace(query, rooms=list(p.wished_rooms)))
        if len(found) < SUGGESTIONS:
            taken = {(s.room_id, s.starts_at) for s in found}
            more = find_slots(index, msgspec.structs.replace(query, limit=SUGGESTIONS * 2))
            found += [s for s in more if (s.room_id, s.starts_at) not in taken][: SUGGESTIONS - len(found)]
        return found

    # --- proposing -------------------------------------------------------------------------

    async def propose(self, event_id: str, req: ProposalRequest, staff: str | None) -> ProposalView:
        """Record an attendee's proposal in this device's log, or refuse it saying why."""
        self._require(Capability.KIOSK, "taking proposals")
        title = req.title.strip()
        if not title:
            raise Invalid("the proposal needs a title", field="title")
        if req.wished_from is not None and req.wished_to is not None and req.wished_to <= req.wished_from:
            raise Invalid("'wished_to' must be after 'wished_from'", field="wished_to")
        if req.nonce is not None and self._replay(event_id, req):
            return await self._replayed(event_id, req.nonce)
        attendee = prove(self.checkin, event_id, req.badge)
        state = await self.schedule.state(event_id)
        unknown = sorted(set(req.wished_rooms) - set(state.rooms))
        if unknown:
            raise Invalid(
                f"there is no room {', '.join(repr(r) for r in unknown)} in this event", field="wished_rooms"
            )
        frame = await self.schedule.frame(event_id)
        proposal_id = req.nonce or new_id()
        async with self._proposing:
            if req.nonce is not None and self._replay(event_id, req):  # a retry that waited for the lock
                return await self._replayed(event_id, req.nonce)
            mine = [s.proposal.proposal_id for s in self._proposals_of(event_id, attendee.id)]
            states, _ = proposal_states(mine, await self._decisions(event_id))
            open_now = sum(1 for s in states.values() if s.status == "pending")
            why = proposal_refusal(
                state.settings, frame, now_ms(), duration_min=req.duration_min, open_proposals=open_now
            )
            if why is not None:
                raise KonferencoError(why, code="proposal_refused", reason=why)
            record = Proposal(
                proposal_id=proposal_id,
                title=title,
                host=(req.host_name or "").strip() or attendee.name,
                description=req.description.strip(),
                proposer=attendee.id,
                ref=proposal_ref(proposal_id),
                duration_min=req.duration_min,
                attendance=req.attendance,
                wished_rooms=list(req.wished_rooms),
                wished_from=req.wished_from,
                wished_to=req.wished_to,
                language=req.language,
                staff=staff,
            )
            await self.replica.log(event_id, self.device_id, record)
        self.steps["proposed"] += 1
        await self.notices.publish("proposed", record, by=None)
        return await self.view(event_id, proposal_id)

    def _proposals_of(self, event_id: str, attendee_id: str) -> list[Stored]:
        rows = self.conn.execute(
            "SELECT device_id, body FROM grassroots_proposal WHERE event_id = ? AND proposer = ?",
            (event_id, attendee_id),
        ).fetchall()
        return [Stored(_decode_proposal(body), device, "") for device, body in rows]

    def _replay(self, event_id: str, req: ProposalRequest) -> bool:
        """Was this nonce's proposal recorded already?  ``nonce_reused`` if by another proposal."""
        assert req.nonce is not None
        found = self.stored(event_id, [req.nonce])
        if not found:
            return False
        first = found[0].proposal
        if first.title != req.title.strip() or first.duration_min != req.duration_min:
            raise KonferencoError(
                "this nonce was already used for another proposal; every proposal needs a fresh nonce",
                code="nonce_reused",
            )
        return True

    async def _replayed(self, event_id: str, proposal_id: str) -> ProposalView:
        return msgspec.structs.replace(await self.view(event_id, proposal_id), replayed=True)

    # --- deciding --------------------------------------------------------------------------

    def _session_for(self, p: Proposal, req: PlaceRequest) -> tuple[int, int]:
        duration = req.duration_min or p.duration_min
        return req.starts_at, req.starts_at + duration * MINUTE

    def _grassroots_session(self, p: Proposal, req: PlaceRequest, decision_id: str) -> Session:
        starts_at, ends_at = self._session_for(p, req)
        return grassroots_session(p, decision_id, room_id=req.room_id, starts_at=starts_at, ends_at=ends_at)

    async def _placeable(self, event_id: str, proposal_id: str, req: PlaceRequest) -> Proposal:
        stored = self.one(event_id, proposal_id)
        state = await self.schedule.state(event_id)
        if req.room_id not in state.rooms:
            raise NotFound(
                f"there is no room '{req.room_id}' in this event", code="unknown_room", room_id=req.room_id
            )
        return stored.proposal

    async def reserve(
        self, event_id: str, proposal_id: str, req: PlaceRequest, staff: StaffClaims
    ) -> SlotCheck:
        """Would the approval into this slot pass now?  Checks and writes nothing (module docstring)."""
        p = await self._placeable(event_id, proposal_id, req)
        states, _ = proposal_states([proposal_id], await self._decisions(event_id))
        current = states[proposal_id]
        if current.status != "pending":
            raise _already(current)
        probe = self._grassroots_session(p, req, "reserve-probe")
        if req.overlap_reason and req.overlap_reason.strip():
            probe = msgspec.structs.replace(
                probe, overlap=OverlapApproval(by=staff.name, reason=req.overlap_reason.strip(), at=now_ms())
            )
        index = await self.schedule.index(event_id)
        found = index.check(probe)
        return SlotCheck(
            ok=not any(f.severity == "block" for f in found),
            proposal_id=proposal_id,
            room_id=probe.room_id,
            starts_at=probe.starts_at,
            ends_at=probe.ends_at,
            findings=found,
        )

    async def approve(
        self, event_id: str, proposal_id: str, req: PlaceRequest, staff: StaffClaims
    ) -> DecisionAnswer:
        self.schedule.require_organizer_device("grassroots decisions")
        p = await self._placeable(event_id, proposal_id, req)
        frame = await self.schedule.frame(event_id)
        reason = (req.overlap_reason or "").strip() or None
        decision, session, found = await schedule_edits.decide(
            self.replica, event_id, proposal_id, "scheduled", frame, by=staff.sub, approver=staff.name,
            known=lambda _pid: True, session=lambda did: self._grassroots_session(p, req, did),
            overlap_reason=reason,
        )  # fmt: skip
        self.steps["approved"] += 1
        self.steps["scheduled"] += 1
        for step in ("approved", "scheduled"):
            await self.notices.publish(
                step,
                p,
                by=staff.name,
                room=decision.room_id,
                starts_at=decision.starts_at,
                ends_at=decision.ends_at,
            )
        return await self._answer(event_id, decision, session, [f for f in found if f.severity == "warn"])

    async def reject(
        self, event_id: str, proposal_id: str, reason: str, staff: StaffClaims
    ) -> DecisionAnswer:
        self.schedule.require_organizer_device("grassroots decisions")
        if not reason.strip():
            raise Invalid("say why the proposal is rejected: the attendee will read it", field="reason")
        p = self.one(event_id, proposal_id).proposal
        frame = await self.schedule.frame(event_id)
        decision, _, _ = await schedule_edits.decide(
            self.replica, event_id, proposal_id, "rejected", frame, by=staff.sub, known=lambda _pid: True,
            reason=reason.strip(),
        )  # fmt: skip
        self.steps["rejected"] += 1
        await self.notices.publish("rejected", p, by=staff.name)
        return await self._answer(event_id, decision, None, [])

    async def withdraw(
        self, event_id: str, proposal_id: str, reason: str, staff: StaffClaims
    ) -> DecisionAnswer:
        """Take an approval back: the proposal is pending again and its session cancelled."""
        self.schedule.require_organizer_device("grassroots decisions")
        p = self.one(event_id, proposal_id).proposal
        frame = await self.schedule.frame(event_id)
        decision, cancelled, _ = await schedule_edits.decide(
            self.replica, event_id, proposal_id, "withdrawn", frame, by=staff.sub, known=lambda _pid: True,
            reason=reason.strip(),
        )  # fmt: skip
        self.steps["withdrawn"] += 1
        await self.notices.publish("withdrawn", p, by=staff.name)
        if cancelled is not None:
            self.steps["cancelled"] += 1
            await self.notices.publish(
                "cancelled", p, by=staff.name, room=cancelled.room_id, starts_at=cancelled.starts_at,
                ends_at=cancelled.ends_at,
            )  # fmt: skip
        return await self._answer(event_id, decision, cancelled, [])

    async def _answer(
        self, event_id: str, decision: Decision, session: Session | None, warnings: list[object]
    ) -> DecisionAnswer:
        return DecisionAnswer(
            decision_id=decision.id,
            decision=decision.decision,
            at=decision.at,
            by=decision.by,
            proposal=await self.view(event_id, decision.proposal_id),
            session=session,
            warnings=warnings,  # type: ignore[arg-type]
        )

    # --- hosts -----------------------------------------------------------------------------

    async def hosted(self, event_id: str, badge: BadgeProof) -> HostedList:
        """The sessions this badge's attendee hosts, as shown (their edits included), with occupancy."""
        attendee = prove(self.checkin, event_id, badge)
        index = await self.schedule.index(event_id)
        mine = sorted(
            (s for s in index.sessions.values() if s.host == attendee.id and s.status != "proposed"),
            key=lambda s: (s.starts_at, s.id),
        )
        now = now_ms()
        return HostedList(
            event=event_id,
            attendee_id=attendee.id,
            name=attendee.name,
            sessions=[self._hosted(event_id, index, s, now) for s in mine],
        )

    def _hosted(self, event_id: str, index: ScheduleIndex, s: Session, now: int) -> HostedSession:
        room = index.rooms.get(s.room_id)
        count, list_capacity = inside_room(self.conn, event_id, s.room_id)
        capacity = room.capacity if room is not None and room.capacity is not None else list_capacity
        running = s.placed and s.starts_at <= now < s.ends_at
        shown = count if running else None
        fill = None
        if shown is not None and capacity:
            fill = round(shown / capacity, 3)
        return HostedSession(
            session=s,
            room=index.room_name(s.room_id),
            occupancy=Occupancy(now=running, inside=shown, capacity=capacity, fill=fill),
        )

    async def edit_hosted(self, event_id: str, session_id: str, req: HostEditRequest) -> HostedSession:
        """A host's new title or description, as a ``HostEdit`` in this device's log."""
        self._require(Capability.KIOSK, "host edits")
        if req.title is None and req.description is None:
            raise Invalid(
                "send a new 'title' or 'description' (a host may change nothing else)", field="title"
            )
        title = req.title.strip() if req.title is not None else None
        if title is not None and not title:
            raise Invalid("a session needs a title", field="title")
        attendee = prove(self.checkin, event_id, req.badge)
        session = (await self.schedule.state(event_id)).sessions.get(session_id)
        if session is None or session.status == "proposed":
            raise NotFound(
                f"there is no session '{session_id}' in this event",
                code="unknown_session",
                session_id=session_id,
            )
        _require_host(session, attendee)
        edit = HostEdit(
            session_id=session_id,
            attendee_id=attendee.id,
            title=title,
            description=req.description.strip() if req.description is not None else None,
        )
        await self.replica.log(event_id, self.device_id, edit)
        self.steps["edited"] += 1
        self.watch.seen()
        self.schedule.notify(event_id)
        index = await self.schedule.index(event_id)
        return self._hosted(event_id, index, index.sessions[session_id], now_ms())

    # --- figures ---------------------------------------------------------------------------

    def status_counts(self, event_id: str) -> dict[str, int]:
        """Proposals by status from the projections alone (decisions: ``sync_record``), for ``/metrics``."""
        ids = [r[0] for r in self.conn.execute(
            "SELECT proposal_id FROM grassroots_proposal WHERE event_id = ?", (event_id,)
        )]  # fmt: skip
        decisions = [
            msgspec.json.decode(body, type=Decision)
            for (body,) in self.conn.execute(
                "SELECT body FROM sync_record WHERE doc = ? AND kind = 'decision'",
                (f"event/{event_id}/control",),
            )
        ]
        states, _ = proposal_states(ids, decisions)
        known = set(ids)  # decisions name proposals this box may not have received yet
        counts = Counter(s.status for pid, s in states.items() if pid in known)
        return {status: counts.get(status, 0) for status in ("pending", "approved", "rejected")}

    def _require(self, capability: Capability, what: str) -> None:
        """Refuse what this device may not write to its log (peers would quarantine it)."""
        if capability not in self.capabilities and Capability.ORGANIZER not in self.capabilities:
            raise Forbidden(
                f"{what} need an appliance enrolled with the {capability.value} or organizer capability",
                capability=capability.value,
            )


def _already(state: ProposalState) -> KonferencoError:
    return KonferencoError(
        f"the proposal was {state.status} by {state.decided_by or 'an organizer'} already",
        code="already_decided",
        status=state.status,
        decision_id=state.decision_id,
    )


def _require_host(session: Session, attendee: Attendee) -> None:
    if session.host != attendee.id:
        raise KonferencoError(
            f"only the host of “{session.title}” may change it with their badge",
            code="not_host",
            session_id=session.id,
        )


def _steps(p: Proposal, decisions: list[Decision]) -> list[StepView]:
    """The proposal's life as records with time and author: proposed, then each decision in order."""
    steps = [StepView(step="proposed", at=p.at, by=p.proposer)]
    for d in decisions:
        if d.decision in APPROVALS:
            steps.append(
                StepView(
                    step="approved", at=d.at, by=d.by, reason=d.overlap_reason, decision_id=d.id,
                    session_id=d.session_id, room_id=d.room_id, starts_at=d.starts_at, ends_at=d.ends_at,
                )
            )  # fmt: skip
        elif d.decision == "rejected":
            steps.append(StepView(step="rejected", at=d.at, by=d.by, reason=d.reason, decision_id=d.id))
        else:
            steps.append(
                StepView(
                    step="withdrawn", at=d.at, by=d.by, reason=d.reason, decision_id=d.id,
                    session_id=d.session_id,
                )
            )  # fmt: skip
    return steps
