"""The JSON payloads of the signage protocol (docs/signage-protocol.md), as msgspec structs.

Everything the appliance publishes carries ``rev`` (strictly increasing per
topic, so a display can drop anything not newer than what it shows) and
``ts`` (the appliance's clock in ms, so a display without a clock of its own
can still tell "now" and report its skew).  Displays must ignore fields they
do not know: new optional fields are added within ``v1``.

What displays publish (their heartbeat) is decoded leniently: unknown fields
are ignored and every field is optional, because door signs from other
vendors send what they can.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

import msgspec

Millis = Annotated[int, msgspec.Meta(ge=0, le=2**53 - 1)]
#: The ids that appear in topics (venue, room, alert, display): the same alphabet as sync's ids, so an id
#: never contains the MQTT separators ``/``, ``+`` or ``#``.
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+\Z")]
Text = Annotated[str, msgspec.Meta(max_length=2000)]
ShortText = Annotated[str, msgspec.Meta(max_length=200)]

CapacityState = Literal["open", "nearly_full", "full"]
AlertLevel = Literal["info", "warning", "emergency"]
#: What a display is asked to do; a display ignores a command it does not implement.
CommandName = Literal["reload", "identify", "screenshot", "collect_now"]
CommandArg = str | int | float | bool

#: The share of seats taken from which a room shows "nearly full".
NEARLY_FULL = 0.9

S = TypeVar("S", bound=msgspec.Struct)


class Session(msgspec.Struct, frozen=True, kw_only=True):
    """One talk or workshop as a sign shows it; times in ms since the epoch.

    ``grassroots`` marks a session attendees proposed and organizers approved
    (a sign may badge it), ``host`` is its host's name, ``type`` what kind of
    session it is (``talk``, ``workshop``, ``grassroots``...).  All three are
    optional: a display that does not know them shows the session as before.
    """

    id: Id
    title: Text
    starts_at: Millis
    ends_at: Millis
    speakers: list[ShortText] = []
    grassroots: bool = False
    host: ShortText | None = None
    type: ShortText | None = None

    def __post_init__(self) -> None:
        if self.ends_at < self.starts_at:
            raise ValueError(f"session {self.id} ends before it starts")


class Stamped(msgspec.Struct, frozen=True, kw_only=True):
    """The two fields every published payload carries."""

    rev: Millis
    ts: Millis


class RoomSchedule(Stamped, frozen=True, kw_only=True):
    """The whole day in one room, so a display computes now/next itself while the broker is away."""

    room: Id
    name: ShortText = ""
    day: str = ""  # ISO date of the venue's local day, "2025-05-14"
    tz: str = ""  # IANA zone of the venue, "Europe/Berlin"
    sessions: list[Session] = []


class RoomNow(Stamped, frozen=True, kw_only=True):
    """What is on in the room right now; ``session`` is null between sessions."""

    room: Id
    session: Session | None = None


class RoomNext(Stamped, frozen=True, kw_only=True):
    """What comes next in the room; ``session`` is null after the last one of the day."""

    room: Id
    session: Session | None = None


class RoomCapacity(Stamped, frozen=True, kw_only=True):
    """How full the room is, for the "full, try room B" sign at the door.

    ``session_id`` is the session on in the room while the count was taken
    (null between sessions): the count is that session's occupancy.
    """

    room: Id
    count: Annotated[int, msgspec.Meta(ge=0)]
    capacity: Annotated[int, msgspec.Meta(ge=0)]
    state: CapacityState
    session_id: Id | None = None


GrassrootsStep = Literal["proposed", "approved", "rejected", "scheduled", "cancelled", "withdrawn"]


class GrassrootsNotice(Stamped, frozen=True, kw_only=True):
    """One step of a grassroots session, for notice boards and the venue's notification screens.

    Never retained: it is news ("GR-7K3QD approved: Knitting for hackers, Hall B 14:00"), not
    state; the room's retained ``schedule`` shows the session itself.  ``room``, the times and
    ``by`` (who took the step: an organizer's name, or null for the attendee's own proposal) are
    null when the step has none.  ``rev`` and ``ts`` are stamped by the publisher.
    """

    rev: Millis = 0
    ts: Millis = 0
    step: GrassrootsStep
    proposal_id: Id
    ref: ShortText  # the short reference the attendee was shown, "GR-7K3QD"
    title: Text
    room: Id | None = None
    starts_at: Millis | None = None
    ends_at: Millis | None = None
    by: ShortText | None = None
    session_id: Id | None = None


class Alert(Stamped, frozen=True, kw_only=True):
    """An announcement that overrides normal content; the highest ``priority`` wins (as in Xibo).

    ``rooms`` empty means every display.  Displays hide it after ``expires_at``
    even if nobody clears it (the appliance may be gone).
    """

    id: Id
    text: Text
    level: AlertLevel = "info"
    priority: Annotated[int, msgspec.Meta(ge=0, le=100)] = 50
    rooms: list[Id] = []
    expires_at: Millis | None = None


class DisplayCommand(Stamped, frozen=True, kw_only=True):
    """A one-shot instruction to one display; never retained.

    ``cid`` identifies the command (a display that sees the same ``cid`` twice
    acts once); a display drops a command older than ``ttl_ms`` by its clock,
    so a command delayed by a reconnect does not fire minutes later.
    """

    cid: str
    command: CommandName
    args: dict[str, CommandArg] = {}
    ttl_ms: Annotated[int, msgspec.Meta(ge=0)] = 30_000


class DisplayHeartbeat(msgspec.Struct, frozen=True, kw_only=True):
    """What a display reports every ~30 s on ``displays/{display}/heartbeat`` (not retained)."""

    ts: Millis | None = None  # the display's clock, to measure its skew
    room: Id | None = None
    uptime_s: Annotated[int, msgspec.Meta(ge=0)] | None = None
    content_rev: Millis | None = None  # rev of the schedule it shows
    screen_on: bool | None = None
    version: ShortText | None = None


class DisplaySeen(msgspec.Struct, frozen=True, kw_only=True):
    """One row of the appliance's display table: when it last reported and what it said."""

    display: Id
    last_seen: Millis  # the appliance's clock when the last heartbeat arrived
    online: bool  # a heartbeat arrived within the staleness window
    heartbeats: int
    room: Id | None = None
    skew_ms: int | None = None  # display clock minus appliance clock, when the display sent ts
    last: DisplayHeartbeat | None = None
    problem: str = ""  # why the last heartbeat could not be read, if it could not


def capacity_state(count: int, capacity: int) -> CapacityState:
    """Full at or above capacity, nearly full from 90 %; a room of capacity 0 is full."""
    if count >= capacity:
        return "full"
    return "nearly_full" if count >= NEARLY_FULL * capacity else "open"


def validated(struct: S) -> S:
    """``struct`` checked against its constraints, which msgspec applies only when decoding.

    Bad input from the appliance fails here with a ValueError naming the field,
    instead of reaching every display in the venue.
    """
    try:
        return msgspec.convert(msgspec.to_builtins(struct), type=type(struct))
    except msgspec.ValidationError as error:
        raise ValueError(f"{type(struct).__name__}: {error}") from None


def encode(struct: msgspec.Struct) -> bytes:
    return msgspec.json.encode(struct)
