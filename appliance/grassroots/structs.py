"""What goes in and out of the grassroots API: proposals, decisions, slot checks, hosted sessions.

msgspec structs, so the API validates requests against them and the OpenAPI
document describes them.  Times are integer milliseconds since the epoch
(shown in the event's time zone by clients; sentences already are).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from appliance.grassroots.proof import BadgeProof
from konferenco.schedule.grassroots import Conflict
from konferenco.schedule.rules import Finding
from konferenco.schedule.slots import Slot
from konferenco.types import Millis
from sync.records import Session

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+\Z")]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
Description = Annotated[str, msgspec.Meta(max_length=4000)]
Minutes = Annotated[int, msgspec.Meta(ge=1, le=24 * 60)]
Reason = Annotated[str, msgspec.Meta(max_length=500)]

Step = Literal["proposed", "approved", "scheduled", "rejected", "withdrawn", "cancelled"]
StatusFilter = Literal["pending", "approved", "rejected", "all"]


class ProposalRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An attendee's session proposal, taken at a kiosk or desk after a scan of their badge."""

    badge: BadgeProof
    title: Title
    duration_min: Minutes
    description: Description = ""
    attendance: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] | None = None
    wished_rooms: Annotated[list[Id], msgspec.Meta(max_length=20)] = []
    wished_from: Millis | None = None
    wished_to: Millis | None = None
    #: The name shown for the host; default: the attendee's name in the roster.
    host_name: Annotated[str, msgspec.Meta(max_length=120)] | None = None
    language: Annotated[str, msgspec.Meta(max_length=16)] = ""
    #: A fresh random id per proposal: a retry with the same nonce answers the first proposal again.
    nonce: Id | None = None
    event: Id | None = None


class StepView(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One step of a proposal's life, with its time and author (the records behind it)."""

    step: Step
    at: int
    by: str | None
    reason: str = ""
    decision_id: str | None = None
    session_id: str | None = None
    room_id: str | None = None
    starts_at: int | None = None
    ends_at: int | None = None


class ProposalView(msgspec.Struct, kw_only=True):
    proposal_id: str
    ref: str
    status: Literal["pending", "approved", "rejected"]
    title: str
    description: str
    duration_min: int
    attendance: int | None
    wished_rooms: list[str]
    wished_from: int | None
    wished_to: int | None
    language: str
    proposer: str | None  # attendee id
    proposer_name: str  # from the catalog
    host_name: str
    at: int  # proposed at
    by: str | None  # the attendee who proposed it (proven by their badge)
    staff: str | None  # the staff account signed in at the kiosk or desk
    device_id: str  # the device whose log holds the proposal
    decision_id: str | None = None
    decided_by: str | None = None
    decided_at: int | None = None
    reason: str = ""
    session: Session | None = None
    steps: list[StepView] = []
    conflicts: list[Conflict] = []
    #: Pending proposals: the best free slots for it (rooms open to grassroots, every ``block`` rule passed).
    suggestions: list[Slot] = []
    #: True when a retried nonce answered the proposal recorded the first time.
    replayed: bool = False


class ProposalList(msgspec.Struct, kw_only=True):
    event: str
    status: StatusFilter
    count: int
    proposals: list[ProposalView]


class ConflictList(msgspec.Struct, kw_only=True):
    event: str
    count: int
    conflicts: list[Conflict]


class PlaceRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A room and a start for a proposal (the proposal's own duration unless ``duration_min``)."""

    room_id: Id
    starts_at: Millis
    duration_min: Minutes | None = None
    #: Approve an overlap with another session in the room explicitly (recorded with who and why).
    overlap_reason: Reason | None = None


class SlotCheck(msgspec.Struct, kw_only=True):
    """Would this slot be accepted now?  Holds nothing (see the route's description)."""

    ok: bool
    proposal_id: str
    room_id: str
    starts_at: int
    ends_at: int
    findings: list[Finding]


class RejectRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class WithdrawRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Reason = ""


class DecisionAnswer(msgspec.Struct, kw_only=True):
    """A decision recorded in the control document, and the proposal as it stands after it."""

    decision_id: str
    decision: str
    at: int
    by: str | None
    proposal: ProposalView
    session: Session | None = None
    #: ``warn`` findings of the placed session (an approved overlap among them).
    warnings: list[Finding] = []


class HostedRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    badge: BadgeProof
    event: Id | None = None


class HostEditRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What a host may change of their session: its title and its description, nothing else."""

    badge: BadgeProof
    title: Title | None = None
    description: Description | None = None
    event: Id | None = None


class Occupancy(msgspec.Struct, kw_only=True):
    """How full the session's room is: counted while the session runs, if a check-in list is tied to it."""

    now: bool  # the session is running now
    inside: int | None  # people inside the room's lists now (None: not running, or no list tied)
    capacity: int | None
    fill: float | None = None


class HostedSession(msgspec.Struct, kw_only=True):
    session: Session  # with the host's own edits laid over it
    room: str
    occupancy: Occupancy


class HostedList(msgspec.Struct, kw_only=True):
    event: str
    attendee_id: str
    name: str
    sessions: list[HostedSession]
