"""What the hub's schedule API takes and answers (the same shapes as the appliance's).

Bodies carry what an editor sets, nothing the server decides: a session's
id is made by ``POST``, an overlap approval is recorded from
``overlap_reason`` with the organizer's e-mail, and where a session came
from (proposal, approval, import) is kept from the stored one.  A body that
does not fit the schema is ``400 bad_request``; one that fits but says
something impossible (an end before the start) is ``422 invalid`` with
``details.field``.

Answers show every field, defaults included (the ``*View`` structs): the
control document stores values without their defaults, but a client reading
``status`` should not have to know that a missing one means ``scheduled``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from hub.schedule.views import ChildEvent, ImportOutcome, ProposalView, Reservation, RoomOccupancy
from konferenco.errors import Invalid
from konferenco.schedule.grassroots import Conflict
from konferenco.schedule.model import (
    DAY,
    MINUTE,
    EventFrame,
    GrassrootsSettings,
    Hours,
    Id,
    LongText,
    Room,
    ScheduleSettings,
    Session,
    Severity,
    ShortText,
    Text,
)
from konferenco.schedule.rules import Finding
from konferenco.schedule.slots import Slot
from konferenco.types import Millis

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
Reason = Annotated[str, msgspec.Meta(max_length=500)]


def _valid(value: msgspec.Struct, kind: type[Any], field: str) -> Any:
    """Validate a struct built here (constructors do not check ``Meta`` constraints)."""
    try:
        return msgspec.convert(msgspec.to_builtins(value), kind)
    except msgspec.ValidationError as exc:
        where = str(exc).partition("at `$.")[2].split("`", 1)[0] or field
        raise Invalid(f"{exc}", field="id" if where == "id" else where) from None


class RoomBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A room as an organizer describes it (its id is the path's)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    capacity: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] | None = None
    area: ShortText = ""
    accessibility: Text = ""
    hours: Annotated[list[Hours], msgspec.Meta(max_length=60)] = []
    features: Annotated[list[ShortText], msgspec.Meta(max_length=20)] = []
    grassroots: bool = False
    buffer_min: Annotated[int, msgspec.Meta(ge=0, le=240)] = 0
    position: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 0

    def room(self, room_id: str) -> Room:
        if not self.name.strip():
            raise Invalid("a room needs a name", field="name")
        for n, hours in enumerate(self.hours):
            if hours.closes <= hours.opens:
                raise Invalid(
                    f"hours on {hours.day}: closes at {hours.closes}, before it opens at {hours.opens}",
                    field=f"hours[{n}]",
                )
        values = {f: getattr(self, f) for f in self.__struct_fields__}
        return _valid(Room(id=room_id, **{**values, "name": self.name.strip()}), Room, "room_id")  # type: ignore[no-any-return]


class SessionBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A session as an organizer edits it: ``ends_at`` or ``duration_min`` (one of them).

    ``overlap_reason`` approves, explicitly, that the session shares its room
    with another at the same time; the approval is recorded with who gave it.
    """

    title: Title
    room_id: Id
    starts_at: Millis
    ends_at: Millis | None = None
    duration_min: Annotated[int, msgspec.Meta(ge=1, le=14 * 24 * 60)] | None = None
    speakers: Annotated[list[ShortText], msgspec.Meta(max_length=50)] = []
    speaker_ids: Annotated[list[Id], msgspec.Meta(max_length=50)] = []
    abstract: LongText = ""
    type: ShortText = "talk"
    track: ShortText = ""
    language: Annotated[str, msgspec.Meta(max_length=16)] = ""
    attendance: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] | None = None
    status: Literal["scheduled", "cancelled"] = "scheduled"
    grassroots: bool = False
    host: Id | None = None
    host_name: ShortText = ""
    slug: ShortText = ""
    url: Text = ""
    overlap_reason: Reason | None = None

    def session(self, session_id: str) -> Session:
        """The session this body describes, or ``invalid`` naming the field that cannot be."""
        title = self.title.strip()
        if not title:
            raise Invalid("a session needs a title", field="title")
        ends_at = self.ends_at
        if self.duration_min is not None:
            ends_at = self.starts_at + self.duration_min * MINUTE
            if self.ends_at is not None and self.ends_at != ends_at:
                raise Invalid("give ends_at or duration_min, not two that disagree", field="duration_min")
        if ends_at is None:
            raise Invalid("a session needs ends_at or duration_min", field="ends_at")
        if ends_at <= self.starts_at:
            raise Invalid(f"“{title}” ends before it starts", field="ends_at")
        if ends_at - self.starts_at > 14 * DAY:
            raise Invalid("a session lasts at most 14 days", field="ends_at")
        skip = {"ends_at", "duration_min", "overlap_reason", "title"}
        values = {f: getattr(self, f) for f in self.__struct_fields__ if f not in skip}
        return _valid(Session(id=session_id, title=title, ends_at=ends_at, **values), Session, "session_id")  # type: ignore[no-any-return]


class RoomView(Room, omit_defaults=False, frozen=True, kw_only=True):
    """A room with every field, defaults included."""


class SessionView(Session, omit_defaults=False, frozen=True, kw_only=True):
    """A session with every field, defaults included."""


class GrassrootsView(GrassrootsSettings, omit_defaults=False, frozen=True, kw_only=True):
    pass


class SettingsView(msgspec.Struct, kw_only=True, frozen=True):
    """The schedule settings with every field (``ScheduleSettings``, defaults included)."""

    severities: dict[str, str]
    grassroots: GrassrootsView
    slot_step_min: int
    public: bool


class SettingsBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """The schedule settings an organizer sets (``ScheduleSettings``; what is left out takes its default)."""

    severities: dict[str, Severity] = {}
    grassroots: GrassrootsSettings | None = None
    slot_step_min: Annotated[int, msgspec.Meta(ge=5, le=60)] = 15
    public: bool = False

    def settings(self) -> ScheduleSettings:
        return ScheduleSettings(
            severities=dict(self.severities),
            grassroots=self.grassroots or GrassrootsSettings(),
            slot_step_min=self.slot_step_min,
            public=self.public,
        )


def _fields(struct: msgspec.Struct) -> dict[str, Any]:
    return {f: getattr(struct, f) for f in struct.__struct_fields__}


def room_view(room: Room) -> RoomView:
    return RoomView(**_fields(room))


def session_view(session: Session) -> SessionView:
    return SessionView(**_fields(session))


def settings_view(settings: ScheduleSettings) -> SettingsView:
    values = _fields(settings)
    values["grassroots"] = GrassrootsView(**_fields(settings.grassroots))
    return SettingsView(**values)


class ScheduleAnswer(msgspec.Struct, kw_only=True, frozen=True):
    event: str
    frame: EventFrame
    day: str | None
    days: list[str]
    rooms: list[RoomView]
    sessions: list[SessionView]
    settings: SettingsView
    findings: list[Finding]
    conflicts: list[Conflict]


class RoomList(msgspec.Struct, kw_only=True, frozen=True):
    event: str
    rooms: list[RoomView]


class SessionAnswer(msgspec.Struct, kw_only=True, frozen=True):
    session: SessionView
    warnings: list[Finding]


class FindingsAnswer(msgspec.Struct, kw_only=True, frozen=True):
    event: str
    count: int
    blocking: int
    findings: list[Finding]
    conflicts: list[Conflict]


class SettingsAnswer(msgspec.Struct, kw_only=True, frozen=True):
    event: str
    settings: SettingsView
    rules: dict[str, str]  # every rule and its default severity
    fixed: list[str]  # rules whose severity cannot be changed


class SlotList(msgspec.Struct, kw_only=True, frozen=True):
    event: str
    slots: list[Slot]


class OccupancyAnswer(msgspec.Struct, kw_only=True, frozen=True):
    event: str
    at: int
    rooms: list[RoomOccupancy]


class ImportAnswer(msgspec.Struct, kw_only=True, frozen=True):
    event: str
    outcome: ImportOutcome


class ProposalList(msgspec.Struct, kw_only=True, frozen=True):
    event: str
    proposals: list[ProposalView]


class DecisionAnswer(msgspec.Struct, kw_only=True, frozen=True):
    """A decision on a proposal, with the session an approval placed and its warnings."""

    decision_id: str
    proposal_id: str
    decision: str
    by: str | None
    at: int
    reason: str
    session: SessionView | None = None
    warnings: list[Finding] = []


class ReserveBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    room_id: Id
    starts_at: Millis
    duration_min: Annotated[int, msgspec.Meta(ge=5, le=24 * 60)] | None = None


class ApproveBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    room_id: Id
    starts_at: Millis
    duration_min: Annotated[int, msgspec.Meta(ge=5, le=24 * 60)] | None = None
    overlap_reason: Reason | None = None


class ReasonBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    reason: Reason = ""


class ChildList(msgspec.Struct, kw_only=True, frozen=True):
    event: str
    children: list[ChildEvent]


__all__ = [
    "ApproveBody",
    "ChildList",
    "DecisionAnswer",
    "FindingsAnswer",
    "ImportAnswer",
    "OccupancyAnswer",
    "ProposalList",
    "ReasonBody",
    "Reservation",
    "ReserveBody",
    "RoomBody",
    "RoomList",
    "RoomView",
    "ScheduleAnswer",
    "SessionAnswer",
    "SessionBody",
    "SessionView",
    "SettingsAnswer",
    "SettingsBody",
    "SettingsView",
    "SlotList",
    "room_view",
    "session_view",
    "settings_view",
]
