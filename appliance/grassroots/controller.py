"""Grassroots sessions over HTTP: proposals (kiosk, desk), decisions (organizers), hosts (kiosk)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from appliance.config import EventScope
from appliance.grassroots.service import Grassroots
from appliance.grassroots.structs import (
    ConflictList,
    DecisionAnswer,
    HostEditRequest,
    HostedList,
    HostedRequest,
    HostedSession,
    PlaceRequest,
    ProposalList,
    ProposalRequest,
    ProposalView,
    RejectRequest,
    SlotCheck,
    StatusFilter,
    WithdrawRequest,
)
from appliance.staff.guard import roles, staff_of
from appliance.staff.service import StaffRole

TAGS = ["grassroots"]
#: Staff who face attendees: a badge scanned at their kiosk or desk proves who proposes or hosts.
FACING = (StaffRole.KIOSK, StaffRole.DESK)
_PROPOSAL = "/api/v1/proposals/{proposal_id:str}"
_HOSTED = "/api/v1/hosted-sessions"

_EVENT = ("unknown_event",)
_BADGE = ("invalid", "badge_refused")
_DECIDE = ("token_expired", *_EVENT, "forbidden", "unknown_proposal", "already_decided")

#: Specific codes per route, for the OpenAPI document (generic ones are added by the plugin).
ROUTE_ERRORS: dict[str, tuple[str, ...]] = {
    "POST /api/v1/proposals": (
        "token_expired",
        *_EVENT,
        "forbidden",
        *_BADGE,
        "proposal_refused",
        "nonce_reused",
    ),
    "GET /api/v1/proposals": ("token_expired", *_EVENT),
    "GET /api/v1/proposals/conflicts": ("token_expired", *_EVENT),
    "GET /api/v1/proposals/{proposal_id}": ("token_expired", *_EVENT, "unknown_proposal"),
    "POST /api/v1/proposals/{proposal_id}/reserve": (
        "token_expired",
        *_EVENT,
        "unknown_proposal",
        "unknown_room",
        "already_decided",
    ),
    "POST /api/v1/proposals/{proposal_id}/approve": (*_DECIDE, "unknown_room", "schedule_conflict"),
    "POST /api/v1/proposals/{proposal_id}/reject": (*_DECIDE, "invalid"),
    "POST /api/v1/proposals/{proposal_id}/withdraw": _DECIDE,
    "POST /api/v1/hosted-sessions": ("token_expired", *_EVENT, *_BADGE),
    "PATCH /api/v1/hosted-sessions/{session_id}": (
        "token_expired",
        *_EVENT,
        "forbidden",
        *_BADGE,
        "unknown_session",
        "not_host",
    ),
}


@post(
    "/api/v1/proposals",
    summary="Propose a grassroots session (proposeEvent): the attendee's badge proves who proposes",
    description=(
        "Send the badge as scanned at this kiosk or desk: `badge.code` (the QR text) or `badge.nfc_uid`. "
        "It is checked as at the door (signature, event, revocations, validity) without recording a "
        "check-in; a badge that does not prove a registered attendee of this event is refused with "
        "`badge_refused` and the door's sentence in `details.reason`.  The event's grassroots settings "
        "may refuse the proposal (`proposal_refused`, `details.reason`: not open, closed, duration, too "
        "many open proposals).  An accepted proposal is in this device's log, on disk, before the answer; "
        "show the attendee its `ref`.  With a `nonce`, a retry answers the first proposal "
        "(`replayed: true`, status 200) instead of recording a second one."
    ),
    tags=TAGS,
    status_code=201,
    opt=roles(*FACING),
)
async def propose(
    request: Request[Any, Any, Any],
    data: JSONBody[ProposalRequest],
    proposals: NamedDependency[Grassroots],
    events: NamedDependency[EventScope],
) -> Response[ProposalView]:
    view = await proposals.propose(events.resolve(data.event), data, staff_of(request).sub)
    return Response(view, status_code=200 if view.replayed else 201)


@get(
    "/api/v1/proposals",
    summary="Proposals with their state, conflicts and slot suggestions (pendingApprovals)",
    description=(
        "Every proposal of the event, from every device's log, with its state after the organizers' "
        "decisions (the same on every replica), each step with its time and author, the conflicts "
        "it is part of, and for pending ones the three best free slots (availableSlots) in rooms open "
        "to grassroots sessions."
    ),
    tags=TAGS,
    opt=roles(StaffRole.DESK),
)
async def list_proposals(
    proposals: NamedDependency[Grassroots],
    events: NamedDependency[EventScope],
    status: FromQuery[StatusFilter] = "pending",
    event: FromQuery[str | None] = None,
) -> ProposalList:
    event_id = events.resolve(event)
    found = await proposals.views(event_id, status)
    return ProposalList(event=event_id, status=status, count=len(found), proposals=found)


@get(
    "/api/v1/proposals/conflicts",
    summary="Decisions that conflict: a proposal decided twice, or approved into a slot already taken",
    description=(
        "Two organizer appliances cut off from each other may decide the same proposal, or approve two "
        "proposals into one slot.  After they sync, every replica marks the later decision (by time, then "
        "id) as conflicting; nothing is dropped or moved.  This list is what organizers resolve."
    ),
    tags=TAGS,
    opt=roles(StaffRole.DESK),
)
async def list_conflicts(
    proposals: NamedDependency[Grassroots],
    events: NamedDependency[EventScope],
    event: FromQuery[str | None] = None,
) -> ConflictList:
    event_id = events.resolve(event)
    found = await proposals.conflicts(event_id)
    return ConflictList(event=event_id, count=len(found), conflicts=found)


@get(_PROPOSAL, summary="One proposal", tags=TAGS, opt=roles(StaffRole.DESK))
async def get_proposal(
    proposal_id: FromPath[str],
    proposals: NamedDependency[Grassroots],
    events: NamedDependency[EventScope],
    event: FromQuery[str | None] = None,
) -> ProposalView:
    return await proposals.view(events.resolve(event), proposal_id)


@post(
    f"{_PROPOSAL}/reserve",
    summary="Check a room and start for a proposal without deciding (requestSpace)",
    description=(
        "Answers whether approving the proposal into this slot would pass every blocking rule now, "
        "with every finding and its sentence.  It holds nothing: the schedule is a CRDT shared by boxes "
        "that may not see each other, and no box can keep a slot for a minute for another.  The "
        "approval checks again, and two boxes that approve into one slot while cut off are listed "
        "as a conflict after they sync."
    ),
    tags=TAGS,
    status_code=200,
    opt=roles(StaffRole.ORGANIZER),
)
async def reserve(
    request: Request[Any, Any, Any],
    proposal_id: FromPath[str],
    data: JSONBody[PlaceRequest],
    proposals: NamedDependency[Grassroots],
    events: NamedDependency[EventScope],
    event: FromQuery[str | None] = None,
) -> SlotCheck:
    return await proposals.reserve(events.resolve(event), proposal_id, data, staff_of(request))


@post(
    f"{_PROPOSAL}/approve",
    summary="Approve a proposal into a room and slot (approveEvent): it becomes a scheduled session",
    description=(
        "Records the decision and the grassroots session (hosted by the proposer) in one change of the "
        "event's control document, or refuses with every blocking finding (`schedule_conflict`).  An "
        "overlap with another session in the room is approved only explicitly, with `overlap_reason` "
        "(recorded with who approved it).  A proposal decided before answers `already_decided`."
    ),
    tags=TAGS,
    status_code=200,
    opt=roles(StaffRole.ORGANIZER),
)
async def approve(
    request: Request[Any, Any, Any],
    proposal_id: FromPath[str],
    data: JSONBody[PlaceRequest],
    proposals: NamedDependency[Grassroots],
    events: NamedDependency[EventScope],
    event: FromQuery[str | None] = None,
) -> DecisionAnswer:
    return await proposals.approve(events.resolve(event), proposal_id, data, staff_of(request))


@post(
    f"{_PROPOSAL}/reject",
    summary="Reject a proposal, saying why (the attendee reads the reason)",
    tags=TAGS,
    status_code=200,
    opt=roles(StaffRole.ORGANIZER),
)
async def reject(
    request: Request[Any, Any, Any],
    proposal_id: FromPath[str],
    data: JSONBody[RejectRequest],
    proposals: NamedDependency[Grassroots],
    events: NamedDependency[EventScope],
    event: FromQuery[str | None] = None,
) -> DecisionAnswer:
    return await proposals.reject(events.resolve(event), proposal_id, data.reason, staff_of(request))


@post(
    f"{_PROPOSAL}/withdraw",
    summary="Withdraw an approval: the proposal is pending again and its session is cancelled",
    tags=TAGS,
    status_code=200,
    opt=roles(StaffRole.ORGANIZER),
)
async def withdraw(
    request: Request[Any, Any, Any],
    proposal_id: FromPath[str],
    proposals: NamedDependency[Grassroots],
    events: NamedDependency[EventScope],
    data: JSONBody[WithdrawRequest | None] = None,
    event: FromQuery[str | None] = None,
) -> DecisionAnswer:
    reason = data.reason if data is not None else ""
    return await proposals.withdraw(events.resolve(event), proposal_id, reason, staff_of(request))


@post(
    _HOSTED,
    summary="The sessions a host's badge hosts, with how full their room is",
    description=(
        "A grassroots host scans their own badge at a kiosk: the sessions they host, as shown (their "
        "own edits included), each with its room's occupancy while it runs (the people inside the "
        "room's check-in lists, and the capacity).  A POST because the badge is a credential: it does "
        "not belong in a URL or a log."
    ),
    tags=TAGS,
    status_code=200,
    opt=roles(*FACING),
)
async def hosted_sessions(
    data: JSONBody[HostedRequest],
    proposals: NamedDependency[Grassroots],
    events: NamedDependency[EventScope],
) -> HostedList:
    return await proposals.hosted(events.resolve(data.event), data.badge)


@patch(
    f"{_HOSTED}/{{session_id:str}}",
    summary="A host changes their session's title or description with their badge (nothing else)",
    description=(
        "Recorded in this device's log as the host's edit and shown everywhere the schedule is; only "
        "the session's host may (`not_host` otherwise), and only the title and the description."
    ),
    tags=TAGS,
    opt=roles(*FACING),
)
async def edit_hosted_session(
    session_id: FromPath[str],
    data: JSONBody[HostEditRequest],
    proposals: NamedDependency[Grassroots],
    events: NamedDependency[EventScope],
) -> HostedSession:
    return await proposals.edit_hosted(events.resolve(data.event), session_id, data)


ROUTES = [
    propose,
    list_proposals,
    list_conflicts,
    get_proposal,
    reserve,
    approve,
    reject,
    withdraw,
    hosted_sessions,
    edit_hosted_session,
]
