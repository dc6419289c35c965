"""The check-in decision: a pure function of who was presented, the list and history.

No I/O, no clock: everything the decision depends on is an argument, so
every rule is unit-tested as a table and the same scan always gets the same
answer.  The order of checks follows pretix's offline check
(research/checkin-anchors.md b4), with the most rigid reason first: a
revoked badge is "revoked" even if the person is also late.

Every rejection carries a sentence a volunteer can read aloud, and names
the rule that rejected when one did.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from konferenco.rules import (
    CheckinList,
    Hours,
    MaxEntries,
    MaxEntriesPerDay,
    MinMinutesBetween,
    Weekdays,
)
from sync.records import ScanResult

Direction = Literal["entry", "exit"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


@dataclass(frozen=True, slots=True)
class Presented:
    """The attendee a badge or tag identified, with what their badge allows."""

    attendee_id: str
    name: str
    ticket_type_id: str
    ticket_type_name: str = ""
    valid_from: int = 0  # seconds since the epoch, 0 = open
    valid_until: int = 0
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class PriorScan:
    """An earlier admitted, not annulled scan of the same attendee on the same list."""

    at: int  # ms
    direction: Direction
    gate: str
    device_id: str


@dataclass(frozen=True, slots=True)
class Context:
    now: int  # ms
    tz: ZoneInfo
    checkin_list: CheckinList
    history: Sequence[PriorScan] = ()  # sorted by time
    revoked: str | None = None  # why, if the badge, attendee or key is revoked
    inside: int = 0  # people inside on this list now (capacity lists)
    capacity: int | None = None
    room_name: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    result: ScanResult
    reason: str
    rule: str | None = None

    @property
    def admitted(self) -> bool:
        return self.result == "admitted"


def local(ms: int, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz)


def when(ms: int, tz: ZoneInfo, now: int | None = None) -> str:
    """``08:03`` today, ``Tue 24 Nov 08:03`` on another day."""
    moment = local(ms, tz)
    if now is not None and moment.date() == local(now, tz).date():
        return moment.strftime("%H:%M")
    return f"{moment.strftime('%a')} {moment.day} {moment.strftime('%b %H:%M')}"


def decide(direction: Direction, who: Presented, ctx: Context) -> Verdict:
    """Admit or refuse one scan; see the module docstring for the order of checks."""
    lst = ctx.checkin_list
    if lst.ticket_types is not None and who.ticket_type_id not in lst.ticket_types:
        ticket = who.ticket_type_name or who.ticket_type_id
        return Verdict("wrong_list", f"'{lst.name}' does not admit {ticket} tickets.")
    if direction == "exit":
        inside = bool(ctx.history) and ctx.history[-1].direction == "entry"
        return Verdict(
            "admitted", f"Goodbye, {who.name}." if inside else "Exit recorded (no entry on record)."
        )
    if ctx.revoked is not None:
        return Verdict(
            "revoked", f"This badge was revoked ({ctx.revoked}). Send the person to the help desk."
        )
    if who.cancelled:
        return Verdict("revoked", "This ticket was cancelled. Send the person to the help desk.")
    verdict = _time_checks(who, ctx) or _entry_checks(ctx) or _capacity(ctx)
    if verdict is not None:
        return verdict
    ticket = f" ({who.ticket_type_name})" if who.ticket_type_name else ""
    return Verdict("admitted", f"Welcome, {who.name}{ticket}.")


def _time_checks(who: Presented, ctx: Context) -> Verdict | None:
    now, tz, lst = ctx.now, ctx.tz, ctx.checkin_list
    if who.valid_from and now < who.valid_from * 1000:
        return Verdict("not_yet_valid", f"This badge is valid from {when(who.valid_from * 1000, tz, now)}.")
    if who.valid_until and now > who.valid_until * 1000:
        return Verdict("expired", f"This badge expired {when(who.valid_until * 1000, tz, now)}.")
    if lst.day is None and lst.opens_at is None and lst.closes_at is None and not lst.rules:
        return None  # most lists: no need to work out the local time at all
    moment = local(now, tz)
    today = moment.date()
    if lst.day is not None:
        day = dt.date.fromisoformat(lst.day)
        label = f"{_DAYS[day.weekday()]} {day.day} {day.strftime('%B')}"
        if today < day:
            return Verdict("not_yet_valid", f"'{lst.name}' is for {label}, not today.")
        if today > day:
            return Verdict("expired", f"'{lst.name}' was for {label}.")
    if lst.opens_at is not None and now < lst.opens_at:
        return Verdict("not_yet_valid", f"'{lst.name}' opens at {when(lst.opens_at, tz, now)}.")
    if lst.closes_at is not None and now > lst.closes_at:
        return Verdict("expired", f"'{lst.name}' closed at {when(lst.closes_at, tz, now)}.")
    clock = f"{moment.hour:02d}:{moment.minute:02d}"
    for rule in lst.rules:
        if isinstance(rule, Hours):
            if clock < rule.opens:
                return Verdict("not_yet_valid", f"Entry opens at {rule.opens} (it is {clock}).", "hours")
            if clock >= rule.closes:
                return Verdict("expired", f"Entry closed at {rule.closes} (it is {clock}).", "hours")
        elif isinstance(rule, Weekdays) and today.isoweekday() not in rule.days:
            days = " and ".join(_DAYS[d - 1] for d in sorted(rule.days))
            return Verdict("wrong_list", f"'{lst.name}' admits only on {days}.", "weekdays")
    return None


def _entry_checks(ctx: Context) -> Verdict | None:
    lst, history, tz, now = ctx.checkin_list, ctx.history, ctx.tz, ctx.now
    entries = [s for s in history if s.direction == "entry"]
    if entries:
        first = entries[0]
        seen = f"at {when(first.at, tz, now)} at gate {first.gate} (device {first.device_id})"
        if lst.reentry == "once":
            return Verdict("already_admitted", f"Already checked in {seen}; this list admits once.")
        if lst.reentry == "after_exit" and history[-1].direction == "entry":
            # Name the entry that counts: the first since the last exit.  A later one is an
            # offline duplicate from another device, flagged as such, not where they came in.
            since_exit = [s for s in history[_after_last_exit(history) :] if s.direction == "entry"]
            came_in = since_exit[0]
            return Verdict(
                "already_admitted",
                f"Already inside: entered at {when(came_in.at, tz, now)} at gate {came_in.gate} "
                f"(device {came_in.device_id}) and has not left.",
            )
    today = local(now, tz).date() if lst.rules else None
    for rule in lst.rules:
        if isinstance(rule, MaxEntries) and len(entries) >= rule.count:
            return Verdict(
                "already_admitted",
                f"Already entered {len(entries)} times; '{lst.name}' allows {rule.count}.",
                "max_entries",
            )
        if isinstance(rule, MaxEntriesPerDay):
            todays = sum(1 for s in entries if local(s.at, tz).date() == today)
            if todays >= rule.count:
                return Verdict(
                    "already_admitted",
                    f"Already entered {todays} times today; '{lst.name}' allows {rule.count} a day.",
                    "max_entries_per_day",
                )
        if isinstance(rule, MinMinutesBetween) and entries:
            since = (now - entries[-1].at) // 60_000
            if since < rule.minutes:
                return Verdict(
                    "already_admitted",
                    f"Entered {since} minutes ago; wait {rule.minutes} minutes between entries.",
                    "min_minutes_between",
                )
    return None


def _after_last_exit(history: Sequence[PriorScan]) -> int:
    for i in range(len(history) - 1, -1, -1):
        if history[i].direction == "exit":
            return i + 1
    return 0


def _capacity(ctx: Context) -> Verdict | None:
    if ctx.capacity is not None and ctx.inside >= ctx.capacity:
        room = ctx.room_name or ctx.checkin_list.name
        return Verdict("room_full", f"{room} is full ({ctx.inside} of {ctx.capacity} inside).", "capacity")
    return None
