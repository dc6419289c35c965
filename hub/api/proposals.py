"""``/api/v1/events/{event_id}/proposals`` and ``…/children``: grassroots proposals decided on the hub.

Attendees propose at a kiosk or desk with their badge (the appliance's
``POST /api/v1/proposals``); the proposals arrive here by sync.  Organizers
list them with the best free slots, check a slot (``reserve``), approve one
into a room and time, reject it with a reason, or withdraw an approval —
online, with the same rules and the same records as an organizer appliance.
An approved proposal becomes a session in the schedule and a child event of
the event in the catalog (``children``).
"""

from __future__ import annotations

from typing import Annotated

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from hub.api.deps import DEPS
from hub.api.schedule_bodies import (
    ApproveBody,
    ChildList,
    DecisionAnswer,
    ProposalList,
    ReasonBody,
    ReserveBody,
    session_view,
)
from hub.schedule import service
from hub.schedule.views import ProposalView, Reservation
from hub.state import HubState
from hub.tenants.accounts import Principal
from sync.records import Decision

TAGS = ["grassroots"]
_EVENT = "/api/v1/events/{event_id:str}"
_DOC = "/api/v1/events/{event_id}"
_ONE = f"{_DOC}/proposals/{{proposal_id}}"

ROUTE_ERRORS: dict[str, tuple[str, ...]] = {
    f"GET {_DOC}/proposals": ("invalid",),
    f"GET {_ONE}": ("unknown_proposal",),
    f"POST {_ONE}/reserve": ("unknown_proposal", "invalid"),
    f"POST {_ONE}/approve": ("unknown_proposal", "invalid", "schedule_conflict", "already_decided"),
    f"POST {_ONE}/reject": ("unknown_proposal", "invalid", "already_decided"),
    f"POST {_ONE}/withdraw": ("unknown_proposal", "already_decided"),
}
Status = Annotated[str | None, QueryParameter(pattern="^(pending|approved|rejected|all)$")]


async def _answer(hub: HubState, decision: Decision, principal: Principal, **extra: object) -> DecisionAnswer:
    return DecisionAnswer(
        decision_id=decision.id,
        proposal_id=decision.proposal_id,
        decision=decision.decision,
        by=await service.actor(hub, principal),
        at=decision.at,
        reason=decision.reason,
        **extra,  # type: ignore[arg-type]
    )


@get(
    f"{_EVENT}/proposals",
    dependencies=DEPS,
    tags=TAGS,
    summary="Grassroots proposals (`status`: pending, approved, rejected, all), oldest first",
    description=(
        "Each with its proposer (the attendee their badge proved), the device that received it, its state "
        "after every decision (who decided, when, why), the conflicts of decisions made apart (decided "
        "twice, slot taken) and, while pending, the three best free slots (`suggestions`)."
    ),
)
async def list_proposals(
    hub: NamedDependency[HubState],
    principal: NamedDependency[Principal],
    event_id: FromPath[str],
    status: Status = None,
) -> ProposalList:
    return ProposalList(event=event_id, proposals=await service.proposals(hub, principal, event_id, status))


@get(f"{_EVENT}/proposals/{{proposal_id:str}}", dependencies=DEPS, tags=TAGS, summary="One proposal")
async def get_proposal(
    hub: NamedDependency[HubState],
    principal: NamedDependency[Principal],
    event_id: FromPath[str],
    proposal_id: FromPath[str],
) -> ProposalView:
    return await service.get_proposal(hub, principal, event_id, proposal_id)


@post(
    f"{_EVENT}/proposals/{{proposal_id:str}}/reserve",
    dependencies=DEPS,
    tags=TAGS,
    status_code=200,
    summary="Check a room and slot for a proposal (requestSpace); holds nothing",
    description=(
        "Answers whether approving into this slot would pass the rules (`ok`) and every finding. It holds "
        "nothing: a schedule shared by boxes that may be offline cannot hold a slot for a minute, so the "
        "approval checks again."
    ),
)
async def reserve(
    hub: NamedDependency[HubState],
    principal: NamedDependency[Principal],
    event_id: FromPath[str],
    proposal_id: FromPath[str],
    data: JSONBody[ReserveBody],
) -> Reservation:
    return await service.reserve(
        hub,
        principal,
        event_id,
        proposal_id,
        room_id=data.room_id,
        starts_at=data.starts_at,
        duration_min=data.duration_min,
    )


@post(
    f"{_EVENT}/proposals/{{proposal_id:str}}/approve",
    dependencies=DEPS,
    tags=TAGS,
    status_code=200,
    summary="Approve a pending proposal into a room and slot: it becomes a session and a child event",
    description=(
        "The decision and its session are written together into the control document (the proposer "
        "hosts it). A blocking rule refuses with `409 schedule_conflict` and its sentences; "
        "`overlap_reason` approves an overlap explicitly (recorded). A proposal decided before is "
        "`409 already_decided`: withdraw the approval to decide again."
    ),
)
async def approve(
    hub: NamedDependency[HubState],
    principal: NamedDependency[Principal],
    event_id: FromPath[str],
    proposal_id: FromPath[str],
    data: JSONBody[ApproveBody],
) -> DecisionAnswer:
    decision, session, found = await service.approve(
        hub,
        principal,
        event_id,
        proposal_id,
        room_id=data.room_id,
        starts_at=data.starts_at,
        duration_min=data.duration_min,
        overlap_reason=data.overlap_reason,
    )
    return await _answer(hub, decision, principal, session=session_view(session), warnings=found)


@post(
    f"{_EVENT}/proposals/{{proposal_id:str}}/reject",
    dependencies=DEPS,
    tags=TAGS,
    status_code=200,
    summary="Reject a pending proposal, with the reason the proposer will read (required)",
)
async def reject(
    hub: NamedDependency[HubState],
    principal: NamedDependency[Principal],
    event_id: FromPath[str],
    proposal_id: FromPath[str],
    data: JSONBody[ReasonBody],
) -> DecisionAnswer:
    decision = await service.reject(hub, principal, event_id, proposal_id, reason=data.reason)
    return await _answer(hub, decision, principal)


@post(
    f"{_EVENT}/proposals/{{proposal_id:str}}/withdraw",
    dependencies=DEPS,
    tags=TAGS,
    status_code=200,
    summary="Withdraw an approval: the proposal is pending again and its session is cancelled",
)
async def withdraw(
    hub: NamedDependency[HubState],
    principal: NamedDependency[Principal],
    event_id: FromPath[str],
    proposal_id: FromPath[str],
    data: JSONBody[ReasonBody],
) -> DecisionAnswer:
    decision = await service.withdraw(hub, principal, event_id, proposal_id, reason=data.reason)
    return await _answer(hub, decision, principal)


@get(
    f"{_EVENT}/children",
    dependencies=DEPS,
    tags=TAGS,
    summary="The event's child events: its grassroots sessions in the catalog (title, room, time, host)",
)
async def list_children(
    hub: NamedDependency[HubState], principal: NamedDependency[Principal], event_id: FromPath[str]
) -> ChildList:
    return ChildList(event=event_id, children=await service.child_events(hub, principal, event_id))


ROUTES = [list_proposals, get_proposal, reserve, approve, reject, withdraw, list_children]
