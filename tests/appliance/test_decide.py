"""The check-in decision as tables: every result, every rule, and the order in which they apply.

``decide`` is pure, so each case is (direction, who, context) -> (result, rule, words in the
reason).  The event is in Vienna (UTC+1 in November, UTC+2 in summer): times a volunteer reads
must be local times, and "today" must be the local day, not the UTC one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest

from appliance.checkin.decide import Context, Presented, PriorScan, Verdict, decide
from konferenco.rules import (
    CheckinList,
    Hours,
    MaxEntries,
    MaxEntriesPerDay,
    MinMinutesBetween,
    Weekdays,
)

VIENNA = ZoneInfo("Europe/Vienna")


def at(hour: int, minute: int = 0, day: int = 25, month: int = 11) -> int:
    """Milliseconds of a local Vienna time in 2025 (25 November 2025 is a Tuesday)."""
    moment = dt.datetime(2025, month, day, hour, minute, tzinfo=VIENNA)
    return int(moment.timestamp() * 1000)


def secs(ms: int) -> int:
    return ms // 1000


NOW = at(10, 0)  # Tuesday 25 November 2025, 10:00 in Vienna = 09:00 UTC
ANNA = Presented("a1", "Anna Łukasiewicz", "full", "Full pass")
EXPO = Presented("a2", "Björn Müller", "expo", "Expo pass")
MAIN = CheckinList(id="main", name="Main entrance")


def entry(ms: int, gate: str = "north", device: str = "box1") -> PriorScan:
    return PriorScan(ms, "entry", gate, device)


def leave(ms: int, gate: str = "north", device: str = "box1") -> PriorScan:
    return PriorScan(ms, "exit", gate, device)


def ctx(lst: CheckinList = MAIN, now: int = NOW, **kw: object) -> Context:
    return Context(now=now, tz=VIENNA, checkin_list=lst, **kw)  # type: ignore[arg-type]


def check(verdict: Verdict, result: str, rule: str | None, *words: str) -> None:
    assert verdict.result == result, verdict
    assert verdict.rule == rule, verdict
    assert verdict.admitted == (result == "admitted")
    for word in words:
        assert word in verdict.reason, (word, verdict.reason)


# --- admitted ----------------------------------------------------------------------------


def test_a_valid_badge_is_admitted_by_name_and_ticket() -> None:
    verdict = decide("entry", ANNA, ctx())
    check(verdict, "admitted", None, "Anna Łukasiewicz", "Full pass")


def test_admitted_without_a_ticket_name_still_names_the_person() -> None:
    verdict = decide("entry", Presented("a9", "Zoë Ångström", "full"), ctx())
    check(verdict, "admitted", None, "Zoë Ångström")


# --- re-entry policies ----------------------------------------------------------------------

REENTRY = [
    # (policy, history, result)
    ("once", [], "admitted"),
    ("once", [entry(at(8, 15))], "already_admitted"),
    ("once", [entry(at(8, 15)), leave(at(9, 0))], "already_admitted"),
    ("after_exit", [], "admitted"),
    ("after_exit", [entry(at(8, 15))], "already_admitted"),
    ("after_exit", [entry(at(8, 15)), leave(at(9, 0))], "admitted"),
    ("after_exit", [entry(at(8, 15)), leave(at(9, 0)), entry(at(9, 30))], "already_admitted"),
    ("multiple", [entry(at(8, 15))], "admitted"),
    ("multiple", [entry(at(8, 15)), entry(at(8, 30)), entry(at(9, 0))], "admitted"),
]


@pytest.mark.parametrize(("reentry", "history", "result"), REENTRY)
def test_reentry_policy(reentry: str, history: list[PriorScan], result: str) -> None:
    lst = CheckinList(id="l", name="Hall", reentry=reentry)  # type: ignore[arg-type]
    check(decide("entry", ANNA, ctx(lst, history=history)), result, None)


def test_once_names_the_first_entry_in_local_time_with_gate_and_device() -> None:
    lst = CheckinList(id="party", name="Speakers' dinner", reentry="once")
    history = [entry(at(8, 15), "dinner", "box7"), leave(at(9, 0)), entry(at(9, 10), "south", "box2")]
    verdict = decide("entry", ANNA, ctx(lst, history=history))
    # 08:15 in Vienna is 07:15 UTC: the volunteer must read the local time.
    check(verdict, "already_admitted", None, "08:15", "dinner", "box7", "admits once")
    assert "07:15" not in verdict.reason


def test_after_exit_names_the_last_entry_while_inside() -> None:
    history = [entry(at(8, 15)), leave(at(9, 0)), entry(at(9, 40), "south", "box3")]
    verdict = decide("entry", ANNA, ctx(history=history))
    check(verdict, "already_admitted", None, "Already inside", "09:40", "south", "box3", "has not left")


def test_after_an_offline_duplicate_the_winning_entry_is_named_not_the_duplicate() -> None:
    # Admitted at box1 north, then (offline) again at box-b south: the first since the exit counts.
    history = [entry(at(8, 0)), leave(at(8, 30)), entry(at(9, 0)), entry(at(9, 5), "south", "box-b")]
    verdict = decide("entry", ANNA, ctx(history=history))
    check(verdict, "already_admitted", None, "09:00", "north", "box1")
    assert "south" not in verdict.reason and "09:05" not in verdict.reason


def test_an_entry_on_another_day_is_named_with_its_date() -> None:
    lst = CheckinList(id="party", name="Dinner", reentry="once")
    verdict = decide("entry", ANNA, ctx(lst, history=[entry(at(19, 5, day=24))]))
    check(verdict, "already_admitted", None, "Mon 24 Nov 19:05")


# --- wrong list ------------------------------------------------------------------------------

WORKSHOP = CheckinList(id="workshop", name="Workshop", ticket_types=["full", "speaker"])


def test_a_ticket_type_not_on_the_list_is_wrong_list() -> None:
    verdict = decide("entry", EXPO, ctx(WORKSHOP))
    check(verdict, "wrong_list", None, "'Workshop' does not admit Expo pass tickets")


def test_wrong_list_names_the_ticket_id_when_it_has_no_name() -> None:
    verdict = decide("entry", Presented("a3", "Ana", "expo"), ctx(WORKSHOP))
    check(verdict, "wrong_list", None, "expo tickets")


def test_a_ticket_type_on_the_list_passes() -> None:
    check(decide("entry", ANNA, ctx(WORKSHOP)), "admitted", None)


WEEKDAYS = [
    # (days, now, result): 25 Nov is a Tuesday (2), 26 Nov a Wednesday (3)
    ([1, 2], NOW, "admitted"),
    ([2], at(23, 59), "admitted"),
    ([3], NOW, "wrong_list"),
    ([3, 5], NOW, "wrong_list"),
    # 00:30 on Wednesday in Vienna is still Tuesday 23:30 in UTC: the local day counts.
    ([3], at(0, 30, day=26), "admitted"),
    ([2], at(0, 30, day=26), "wrong_list"),
]


@pytest.mark.parametrize(("days", "now", "result"), WEEKDAYS)
def test_weekdays_rule(days: list[int], now: int, result: str) -> None:
    lst = CheckinList(id="l", name="Expo hall", rules=[Weekdays(days=days)])
    verdict = decide("entry", ANNA, ctx(lst, now=now))
    check(verdict, result, "weekdays" if result != "admitted" else None)


def test_weekdays_explains_which_days() -> None:
    lst = CheckinList(id="l", name="Expo hall", rules=[Weekdays(days=[5, 3])])
    verdict = decide("entry", ANNA, ctx(lst))
    check(verdict, "wrong_list", "weekdays", "'Expo hall' admits only on Wednesday and Friday")


# --- revoked ---------------------------------------------------------------------------------


def test_a_revoked_badge_says_why_and_where_to_go() -> None:
    verdict = decide("entry", ANNA, ctx(revoked="reported lost"))
    check(verdict, "revoked", None, "reported lost", "help desk")


def test_a_cancelled_ticket_is_revoked() -> None:
    verdict = decide("entry", replace(ANNA, cancelled=True), ctx())
    check(verdict, "revoked", None, "cancelled", "help desk")


# --- validity windows -----------------------------------------------------------------------

BADGE_WINDOWS = [
    # (valid_from, valid_until, result, words)
    (secs(at(11, 0)), 0, "not_yet_valid", ["valid from 11:00"]),
    (secs(at(9, 0, day=26)), 0, "not_yet_valid", ["valid from Wed 26 Nov 09:00"]),
    (0, secs(at(9, 30)), "expired", ["expired 09:30"]),
    (0, secs(at(18, 0, day=24)), "expired", ["expired Mon 24 Nov 18:00"]),
    (secs(NOW), secs(NOW), "admitted", []),  # both ends are inclusive
    (secs(at(0, 0)), secs(at(23, 59)), "admitted", []),
]


@pytest.mark.parametrize(("valid_from", "valid_until", "result", "words"), BADGE_WINDOWS)
def test_badge_validity_window(valid_from: int, valid_until: int, result: str, words: list[str]) -> None:
    who = replace(ANNA, valid_from=valid_from, valid_until=valid_until)
    verdict = decide("entry", who, ctx())
    check(verdict, result, None, *words)


def test_badge_times_are_read_in_the_event_time_zone() -> None:
    # 11:00 in Vienna is 10:00 UTC; the reason must say 11:00.
    verdict = decide("entry", replace(ANNA, valid_from=secs(at(11, 0))), ctx())
    assert "11:00" in verdict.reason and "10:00" not in verdict.reason


def test_summer_time_is_local_time_too() -> None:
    now = at(10, 0, day=10, month=7)  # UTC+2 in July
    verdict = decide("entry", replace(ANNA, valid_from=secs(at(12, 0, day=10, month=7))), ctx(now=now))
    check(verdict, "not_yet_valid", None, "valid from 12:00")


DAY_LISTS = [
    # (list day, now, result, words)
    ("2025-11-26", NOW, "not_yet_valid", ["'Day 2' is for Wednesday 26 November, not today"]),
    ("2025-11-24", NOW, "expired", ["'Day 2' was for Monday 24 November"]),
    ("2025-11-25", NOW, "admitted", []),
    # Just after local midnight the local date is the 26th while UTC is still on the 25th.
    ("2025-11-26", at(0, 30, day=26), "admitted", []),
    ("2025-11-25", at(0, 30, day=26), "expired", ["Tuesday 25 November"]),
]


@pytest.mark.parametrize(("day", "now", "result", "words"), DAY_LISTS)
def test_list_for_one_day(day: str, now: int, result: str, words: list[str]) -> None:
    lst = CheckinList(id="d2", name="Day 2", day=day)
    check(decide("entry", ANNA, ctx(lst, now=now)), result, None, *words)


OPENING = [
    # (opens_at, closes_at, now, result, words)
    (at(10, 30), None, NOW, "not_yet_valid", ["'Keynote' opens at 10:30"]),
    (at(9, 0, day=26), None, NOW, "not_yet_valid", ["opens at Wed 26 Nov 09:00"]),
    (None, at(9, 45), NOW, "expired", ["'Keynote' closed at 09:45"]),
    (at(10, 0), at(10, 0), NOW, "admitted", []),  # both ends inclusive
    (at(9, 0), at(11, 0), NOW, "admitted", []),
]


@pytest.mark.parametrize(("opens", "closes", "now", "result", "words"), OPENING)
def test_list_opening_times(
    opens: int | None, closes: int | None, now: int, result: str, words: list[str]
) -> None:
    lst = CheckinList(id="k", name="Keynote", opens_at=opens, closes_at=closes)
    check(decide("entry", ANNA, ctx(lst, now=now)), result, None, *words)


HOURS = [
    # (now, result, words): Hours 08:00-20:00 local
    (at(7, 59), "not_yet_valid", ["Entry opens at 08:00 (it is 07:59)"]),
    (at(8, 0), "admitted", []),
    (at(19, 59), "admitted", []),
    (at(20, 0), "expired", ["Entry closed at 20:00 (it is 20:00)"]),
    (at(23, 10), "expired", ["(it is 23:10)"]),
    # 08:30 local is 07:30 UTC: a UTC clock would wrongly refuse.
    (at(8, 30), "admitted", []),
    # 19:30 local in summer is 17:30 UTC; 20:15 local is 18:15 UTC: a UTC clock would admit.
    (at(20, 15, day=10, month=7), "expired", ["(it is 20:15)"]),
]


@pytest.mark.parametrize(("now", "result", "words"), HOURS)
def test_hours_rule(now: int, result: str, words: list[str]) -> None:
    lst = CheckinList(id="w", name="Workshop", rules=[Hours(opens="08:00", closes="20:00")])
    verdict = decide("entry", ANNA, ctx(lst, now=now))
    check(verdict, result, None if result == "admitted" else "hours", *words)


# --- entry counting rules --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entries", "result"),
    [(0, "admitted"), (1, "admitted"), (2, "already_admitted"), (3, "already_admitted")],
)
def test_max_entries(entries: int, result: str) -> None:
    lst = CheckinList(id="l", name="Lounge", reentry="multiple", rules=[MaxEntries(count=2)])
    history = [entry(at(8, 0) + i * 600_000) for i in range(entries)]
    verdict = decide("entry", ANNA, ctx(lst, history=history))
    if result == "admitted":
        check(verdict, "admitted", None)
    else:
        check(verdict, result, "max_entries", f"Already entered {entries} times", "'Lounge' allows 2")


def test_max_entries_counts_entries_not_exits() -> None:
    lst = CheckinList(id="l", name="Lounge", rules=[MaxEntries(count=2)])
    history = [entry(at(8, 0)), leave(at(8, 10))]
    check(decide("entry", ANNA, ctx(lst, history=history)), "admitted", None)


MAX_PER_DAY = [
    # (history, result)
    ([], "admitted"),
    ([entry(at(18, 0, day=24))], "admitted"),  # yesterday does not count
    ([entry(at(18, 0, day=24)), entry(at(8, 0))], "already_admitted"),
    # 00:30 local on the 25th is 23:30 UTC on the 24th: it is today in Vienna.
    ([entry(at(0, 30))], "already_admitted"),
    # 23:30 local on the 24th is 22:30 UTC on the 24th: yesterday.
    ([entry(at(23, 30, day=24))], "admitted"),
]


@pytest.mark.parametrize(("history", "result"), MAX_PER_DAY)
def test_max_entries_per_day(history: list[PriorScan], result: str) -> None:
    lst = CheckinList(id="l", name="Expo", reentry="multiple", rules=[MaxEntriesPerDay(count=1)])
    verdict = decide("entry", ANNA, ctx(lst, history=history))
    if result == "admitted":
        check(verdict, "admitted", None)
    else:
        check(verdict, result, "max_entries_per_day", "1 times today", "'Expo' allows 1 a day")


MIN_BETWEEN = [
    # (reentry, history, result)
    ("multiple", [entry(NOW - 10 * 60_000)], "already_admitted"),
    ("multiple", [entry(NOW - 29 * 60_000 - 59_000)], "already_admitted"),
    ("multiple", [entry(NOW - 30 * 60_000)], "admitted"),
    ("multiple", [entry(at(8, 0)), entry(NOW - 5 * 60_000)], "already_admitted"),  # the last entry counts
    ("after_exit", [entry(NOW - 10 * 60_000), leave(NOW - 5 * 60_000)], "already_admitted"),
    ("after_exit", [entry(NOW - 45 * 60_000), leave(NOW - 5 * 60_000)], "admitted"),
]


@pytest.mark.parametrize(("reentry", "history", "result"), MIN_BETWEEN)
def test_min_minutes_between(reentry: str, history: list[PriorScan], result: str) -> None:
    lst = CheckinList(
        id="l",
        name="Hall",
        reentry=reentry,  # type: ignore[arg-type]
        rules=[MinMinutesBetween(minutes=30)],
    )
    verdict = decide("entry", ANNA, ctx(lst, history=history))
    if result == "admitted":
        check(verdict, "admitted", None)
    else:
        check(verdict, result, "min_minutes_between", "minutes ago", "wait 30 minutes")


def test_min_minutes_between_says_how_long_ago() -> None:
    lst = CheckinList(id="l", name="Hall", reentry="multiple", rules=[MinMinutesBetween(minutes=30)])
    verdict = decide("entry", ANNA, ctx(lst, history=[entry(NOW - 12 * 60_000)]))
    check(verdict, "already_admitted", "min_minutes_between", "Entered 12 minutes ago")


# --- capacity ------------------------------------------------------------------------------

ROOM = CheckinList(id="workshop", name="Workshop list", room_id="room-b", capacity=60)

CAPACITY = [
    # (inside, capacity, result)
    (0, 60, "admitted"),
    (59, 60, "admitted"),
    (60, 60, "room_full"),
    (61, 60, "room_full"),
    (500, None, "admitted"),
]


@pytest.mark.parametrize(("inside", "capacity", "result"), CAPACITY)
def test_room_capacity(inside: int, capacity: int | None, result: str) -> None:
    verdict = decide("entry", ANNA, ctx(ROOM, inside=inside, capacity=capacity, room_name="Sala Łódź"))
    if result == "admitted":
        check(verdict, "admitted", None)
    else:
        check(verdict, "room_full", "capacity", "Sala Łódź is full", f"({inside} of {capacity} inside)")


def test_room_full_without_a_room_name_names_the_list() -> None:
    verdict = decide("entry", ANNA, ctx(ROOM, inside=60, capacity=60))
    check(verdict, "room_full", "capacity", "Workshop list is full (60 of 60 inside)")


# --- exits ---------------------------------------------------------------------------------

EXITS = [
    # (who, context kwargs, words): an exit is never refused for these reasons
    (ANNA, {"history": [entry(at(9, 0))]}, ["Goodbye, Anna Łukasiewicz"]),
    (ANNA, {}, ["no entry on record"]),
    (ANNA, {"revoked": "reported lost", "history": [entry(at(9, 0))]}, ["Goodbye"]),
    (replace(ANNA, cancelled=True), {}, []),
    (replace(ANNA, valid_until=secs(at(9, 0))), {}, []),
    (replace(ANNA, valid_from=secs(at(12, 0))), {}, []),
    (ANNA, {"inside": 60, "capacity": 60}, []),
    (ANNA, {"history": [entry(at(9, 0)), leave(at(9, 30))]}, ["no entry on record"]),
]


@pytest.mark.parametrize(("who", "kw", "words"), EXITS)
def test_exit_is_always_admitted(who: Presented, kw: dict[str, object], words: list[str]) -> None:
    lst = CheckinList(id="w", name="Workshop", reentry="once", rules=[Hours(opens="11:00", closes="12:00")])
    check(decide("exit", who, ctx(lst, **kw)), "admitted", None, *words)


# --- order of checks -------------------------------------------------------------------------

ORDER = [
    # (description, who, list, context kwargs, expected result, expected rule)
    (
        "wrong list before revoked",
        EXPO,
        WORKSHOP,
        {"revoked": "lost"},
        "wrong_list",
        None,
    ),
    (
        "revoked before expired",
        replace(ANNA, valid_until=secs(at(9, 0))),
        MAIN,
        {"revoked": "lost"},
        "revoked",
        None,
    ),
    (
        "cancelled before not yet valid",
        replace(ANNA, cancelled=True, valid_from=secs(at(12, 0))),
        MAIN,
        {},
        "revoked",
        None,
    ),
    (
        "revoked before already admitted and room full",
        ANNA,
        ROOM,
        {"revoked": "lost", "history": [entry(at(9, 0))], "inside": 60, "capacity": 60},
        "revoked",
        None,
    ),
    (
        "badge window before list day",
        replace(ANNA, valid_until=secs(at(9, 0))),
        CheckinList(id="d", name="Day 3", day="2025-11-27"),
        {},
        "expired",
        None,
    ),
    (
        "time before re-entry",
        ANNA,
        CheckinList(id="w", name="W", rules=[Hours(opens="11:00", closes="12:00")]),
        {"history": [entry(at(9, 0))]},
        "not_yet_valid",
        "hours",
    ),
    (
        "weekday before re-entry",
        ANNA,
        CheckinList(id="w", name="W", reentry="once", rules=[Weekdays(days=[3])]),
        {"history": [entry(at(9, 0))]},
        "wrong_list",
        "weekdays",
    ),
    (
        "re-entry before capacity",
        ANNA,
        ROOM,
        {"history": [entry(at(9, 0))], "inside": 60, "capacity": 60},
        "already_admitted",
        None,
    ),
    (
        "entry rules before capacity",
        ANNA,
        CheckinList(id="l", name="L", reentry="multiple", rules=[MaxEntries(count=1)]),
        {"history": [entry(at(9, 0))], "inside": 60, "capacity": 60},
        "already_admitted",
        "max_entries",
    ),
]


@pytest.mark.parametrize(
    ("who", "lst", "kw", "result", "rule"),
    [case[1:] for case in ORDER],
    ids=[case[0] for case in ORDER],
)
def test_order_of_checks(
    who: Presented, lst: CheckinList, kw: dict[str, object], result: str, rule: str | None
) -> None:
    check(decide("entry", who, ctx(lst, **kw)), result, rule)


def test_wrong_list_applies_to_exits_too() -> None:
    # A scanner set to the wrong list at a room door says so in both directions.
    check(decide("exit", EXPO, ctx(WORKSHOP, revoked="lost")), "wrong_list", None)


def test_the_same_scan_gets_the_same_answer() -> None:
    lst = CheckinList(id="l", name="Hall", rules=[MinMinutesBetween(minutes=30)])
    context = ctx(lst, history=[entry(NOW - 60 * 60_000), leave(NOW - 40 * 60_000)])
    assert decide("entry", ANNA, context) == decide("entry", ANNA, context)
