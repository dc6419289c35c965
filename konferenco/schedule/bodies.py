"""The schedule API's bodies and answers, one definition for the appliance and the hub.

The hub and every appliance answer the same routes in the same shapes (the
venue UIs and the console call either), so the shapes live here, next to
the model they wrap.

Bodies (``RoomBody``, ``SessionBody``) carry what an editor sets, nothing
the server decides: a session's id is made by ``POST``, its overlap approval
is recorded from ``overlap_reason`` with who gave it, and where it came from
(proposal, decision, import) is kept from the stored session.  A body that
does not fit the schema is ``400 bad_request`` (``details.errors`` names the
key, like every route); a body that fits but says something impossible (an
unknown room, an end before the start) is ``422 invalid`` with
``details.field``.

Answers show every field, defaults included (the ``*View`` structs): the
control document stores sessions without their defaults, but a kiosk reading
``status`` should not have to know that a missing one means ``scheduled``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo

import msgspec

from konferenco.errors import Invalid
from konferenco.schedule.grassroots import Conflict
from konferenco.schedule.model import (
    DAY,
    MINUTE,
    GrassrootsSettings,
    Hours,
    Id,
    LongText,
    Room,
    ScheduleSettings,
    Session,
    ShortText,
    Text,
)
from konferenco.schedule.rules import DEFAULT_SEVERITY, FIXED, Finding
from konferenco.types import Millis

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
Reason = Annotated[str, msgspec.Meta(max_length=500)]


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
        return valid(Room(id=room_id, **{**values, "name": self.name.strip()}), id_field="room_id")


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
        return valid(Session(id=session_id, title=title, ends_at=ends_at, **values), id_field="session_id")


S = TypeVar("S", bound=msgspec.Struct)
_AT = re.compile(r"at `\$\.?([^`]*)`")


def valid(struct: S, *, id_field: str = "id") -> S:
    """``struct`` checked against its constraints (msgspec checks them only when decoding).

    A path id outside the id alphabet, or an end past what a time may be,
    becomes ``invalid`` naming the field, instead of failing inside the
    document write.
    """
    try:
        return msgspec.convert(msgspec.to_builtins(struct), type=type(struct))
    except msgspec.ValidationError as exc:
        found = _AT.search(str(exc))
        where = found.group(1) if found else ""
        if where == "id":
            raise Invalid(
                f"{id_field}: use 1-64 letters, digits, '_', '.', ':' or '-'", field=id_field
            ) from None
        field = where or None
        raise Invalid(f"{field or 'value'}: {str(exc).split(' - at ')[0]}", field=field) from None


# --- answers: every field shown --------------------------------------------------------------


class RoomView(Room, omit_defaults=False, frozen=True, kw_only=True):
    pass


class SessionView(Session, omit_defaults=False, frozen=True, kw_only=True):
    pass


class GrassrootsSettingsView(GrassrootsSettings, omit_defaults=False, frozen=True, kw_only=True):
    pass


# A struct default holding a list is unhashable, which Litestar's schema generator cannot take: a factory.
class SettingsView(ScheduleSettings, omit_defaults=False, frozen=True, kw_only=True):
    grassroots: GrassrootsSettingsView = msgspec.field(default_factory=GrassrootsSettingsView)


class SettingsBody(ScheduleSettings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The schedule settings as ``PUT`` takes them (what is left out takes its default)."""

    grassroots: GrassrootsSettings = msgspec.field(default_factory=GrassrootsSettings)

    def settings(self) -> ScheduleSettings:
        return ScheduleSettings(**_fields(self))


def _fields(struct: msgspec.Struct) -> dict[str, Any]:
    return {f: getattr(struct, f) for f in struct.__struct_fields__}


def room_view(room: Room) -> RoomView:
    return RoomView(**_fields(room))


def session_view(session: Session) -> SessionView:
    return SessionView(**_fields(session))


def settings_view(settings: ScheduleSettings) -> SettingsView:
    values = _fields(settings)
    values["grassroots"] = GrassrootsSettingsView(**_fields(settings.grassroots))
    return SettingsView(**values)


class SessionAnswer(msgspec.Struct, kw_only=True):
    """A saved session and the ``warn`` findings it has (a ``block`` one would have refused it)."""

    session: SessionView
    warnings: list[Finding]


class RoomList(msgspec.Struct, kw_only=True):
    event: str
    rooms: list[RoomView]


class FindingsView(msgspec.Struct, kw_only=True):
    """Everything an organizer should look at: the rules' findings and the grassroots conflicts."""

    event: str
    count: int
    blocking: int  # findings of block severity (sessions that arrived by sync or import unchecked)
    findings: list[Finding]
    conflicts: list[Conflict]  # decisions made too late (decided twice, slot already taken)


class SettingsAnswer(msgspec.Struct, kw_only=True):
    """The event's schedule settings, and the rules a severity can be set for."""

    event: str
    settings: SettingsView
    rules: dict[str, str]  # every rule and its default severity
    fixed: list[str]  # rules whose severity cannot be changed


# --- reading queries and checking settings, the same on both apps ------------------------------


def query_moment(value: str | None, zone: ZoneInfo, field: str) -> int | None:
    """A query's time: milliseconds since the epoch, or an ISO date-time (no offset: the event's zone)."""
    if value is None or not value.strip():
        return None
    raw = value.strip()
    if raw.isdigit():
        ms = int(raw)
        if ms > 2**53 - 1:
            raise Invalid(f"{field}: {raw} is not a time", field=field)
        return ms
    if "T" in raw and " " in raw:  # "+02:00" in a query string that was not percent-encoded
        raw = raw.replace(" ", "+")
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise Invalid(
            f"{field}: give milliseconds since the epoch or an ISO date-time, not {value!r}", field=field
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return int(parsed.timestamp() * 1000)


def query_words(value: str | None) -> list[str]:
    """A comma-separated query value (``features=projector,stream``) as its words."""
    return [w.strip() for w in (value or "").split(",") if w.strip()]


def check_settings(settings: ScheduleSettings, rooms: Collection[str]) -> None:
    """Refuse settings that cannot work, naming the field (``invalid``): one check for both apps.

    Unknown rules, a fixed rule lowered (a double-booked room always blocks:
    approve one overlap with a reason instead), a grassroots window that
    closes before it opens, a shortest session longer than the longest, and
    grassroots rooms that do not exist.
    """
    for rule, severity in settings.severities.items():
        if rule not in DEFAULT_SEVERITY:
            raise Invalid(
                f"there is no rule '{rule}' (rules: {', '.join(DEFAULT_SEVERITY)})",
                field=f"severities.{rule}",
            )
        if rule in FIXED and severity != DEFAULT_SEVERITY[rule]:
            raise Invalid(
                f"'{rule}' always blocks: approve a single overlap with an overlap reason instead",
                field=f"severities.{rule}",
            )
    rules = settings.grassroots
    if rules.min_minutes > rules.max_minutes:
        raise Invalid(
            f"the shortest grassroots session ({rules.min_minutes} min) is longer than the longest "
            f"({rules.max_minutes} min)",
            field="grassroots.min_minutes",
        )
    if rules.opens_at is not None and rules.closes_at is not None and rules.closes_at <= rules.opens_at:
        raise Invalid("the proposal window closes before it opens", field="grassroots.closes_at")
    unknown = [r for r in rules.rooms if r not in rooms]
    if unknown:
        raise Invalid(f"no such room: {', '.join(unknown)}", field="grassroots.rooms")
