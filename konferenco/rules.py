"""Check-in lists and their rules, as data the hub publishes in the catalog.

A list says who may pass a gate and how often: which ticket types, on
which day or between which times, in which room (with its capacity), and
the re-entry policy.  Rules add conditions an organizer configures; each
one explains itself in a sentence when it rejects someone, so a volunteer
never has to guess (pretix's ``reason_explanation``, research b5/b6).

Rules are evaluated by :mod:`appliance.checkin.decide`; this module holds
only their shapes, so the catalog bundle can carry them.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

HHMM = Annotated[str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d\Z")]
Count = Annotated[int, msgspec.Meta(ge=1, le=10_000)]

#: once: one entry ever; after_exit: again after an exit scan; multiple: always.
Reentry = Literal["once", "after_exit", "multiple"]


class Hours(msgspec.Struct, frozen=True, tag_field="rule", tag="hours"):
    """Admit only between two local times each day."""

    opens: HHMM
    closes: HHMM


class Weekdays(msgspec.Struct, frozen=True, tag_field="rule", tag="weekdays"):
    """Admit only on these ISO weekdays (1 = Monday)."""

    days: list[Annotated[int, msgspec.Meta(ge=1, le=7)]]


class MaxEntries(msgspec.Struct, frozen=True, tag_field="rule", tag="max_entries"):
    """At most ``count`` entries in total."""

    count: Count


class MaxEntriesPerDay(msgspec.Struct, frozen=True, tag_field="rule", tag="max_entries_per_day"):
    count: Count


class MinMinutesBetween(msgspec.Struct, frozen=True, tag_field="rule", tag="min_minutes_between"):
    """Anti-passback: a badge passed back through the fence is refused for a while."""

    minutes: Annotated[int, msgspec.Meta(ge=1, le=24 * 60)]


Rule = Hours | Weekdays | MaxEntries | MaxEntriesPerDay | MinMinutesBetween

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+\Z")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Day = Annotated[str, msgspec.Meta(pattern=r"^\d{4}-\d{2}-\d{2}\Z")]


class CheckinList(msgspec.Struct, frozen=True, kw_only=True):
    """Who may pass, when, how often.  A ticket is valid once on *each* list."""

    id: Id
    name: Name
    ticket_types: list[Id] | None = None  # None: every ticket type of the event
    day: Day | None = None  # only on this local date
    opens_at: int | None = None  # ms; before: not yet valid
    closes_at: int | None = None  # ms; after: expired
    room_id: Id | None = None
    capacity: Annotated[int, msgspec.Meta(ge=1)] | None = None
    reentry: Reentry = "after_exit"
    rules: list[Rule] = []
