"""The slot finder: free, ranked, and never a slot a blocking rule refuses."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from konferenco.schedule.model import HOUR, Hours, Room, ScheduleSettings, Session, settings_from
from konferenco.schedule.rules import blocking
from konferenco.schedule.slots import SlotQuery, find_slots
from tests.konferenco.schedule.builders import FRAME, MINUTE, ROOMS, index, session, t


def test_an_empty_day_offers_slots_in_every_room_that_fits_best_room_first() -> None:
    slots = find_slots(index(), SlotQuery(duration_ms=HOUR, attendance=15, limit=20))
    assert slots, "an empty day has room"
    assert slots[0].room_id == "b"  # 15 people: the 20-seat room wastes fewer seats than the 100-seat hall
    assert {s.room_id for s in slots} == {"a", "b"}
    for s in slots:
        assert FRAME.starts_at <= s.starts_at and s.ends_at <= FRAME.ends_at
        assert s.ends_at - s.starts_at == HOUR
        assert s.starts_at % (15 * MINUTE) == 0  # on the quarter hour


def test_slots_avoid_sessions_and_keep_the_room_s_changeover_buffer() -> None:
    busy = [session("s1", "a", "08:00", 240), session("s2", "a", "13:00", 420)]  # A free 12:00-13:00 only
    slots = find_slots(index(*busy), SlotQuery(duration_ms=30 * MINUTE, rooms=["a"], limit=50))
    assert slots
    for s in slots:
        # 10 minutes of changeover after 12:00 and before 13:00
        assert t("12:10") <= s.starts_at and s.ends_at <= t("12:50"), s


def test_a_full_room_offers_nothing() -> None:
    busy = session("all", "b", "08:00", 12 * 60)
    assert find_slots(index(busy), SlotQuery(duration_ms=HOUR, rooms=["b"])) == []


def test_grassroots_slots_only_in_grassroots_rooms() -> None:
    slots = find_slots(index(), SlotQuery(duration_ms=HOUR, grassroots=True, limit=30))
    assert slots and {s.room_id for s in slots} == {"a"}


def test_features_filter_rooms() -> None:
    slots = find_slots(index(), SlotQuery(duration_ms=HOUR, features=["Projector"], limit=30))
    assert {s.room_id for s in slots} == {"a"}


def test_wished_times_come_first() -> None:
    slots = find_slots(index(), SlotQuery(duration_ms=HOUR, rooms=["a"], wished=[(t("15:00"), t("16:00"))]))
    assert (slots[0].starts_at, slots[0].ends_at) == (t("15:00"), t("16:00"))


def test_opening_hours_limit_slots() -> None:
    rooms = {"b": Room(id="b", name="B", hours=[Hours(day="2026-06-10", opens="14:00", closes="16:00")])}
    slots = find_slots(index(rooms=rooms), SlotQuery(duration_ms=HOUR, limit=30))
    assert slots and all(t("14:00") <= s.starts_at and s.ends_at <= t("16:00") for s in slots)


def test_over_capacity_rooms_are_left_out_when_the_event_blocks_it_and_ranked_last_when_it_warns() -> None:
    warn = find_slots(index(), SlotQuery(duration_ms=HOUR, attendance=50, limit=100))
    assert warn[-1].room_id == "b" and [w.rule for w in warn[-1].warnings] == ["over_capacity"]
    strict = ScheduleSettings(severities={"over_capacity": "block"})
    assert {
        s.room_id for s in find_slots(index(settings=strict), SlotQuery(duration_ms=HOUR, attendance=50))
    } == {"a"}


def test_a_host_who_speaks_elsewhere_is_not_offered_that_time_when_person_overlap_blocks() -> None:
    strict = settings_from({"severities": {"person_overlap": "block"}})
    talk = session("talk", "b", "09:00", 9 * 60, speaker_ids=["att-1"])  # 09:00-18:00 in room B
    query = SlotQuery(duration_ms=HOUR, rooms=["a"], host="att-1", limit=50)
    slots = find_slots(index(talk, settings=strict), query)
    starts = sorted(s.starts_at for s in slots)
    assert starts[0] == t("08:00") and starts[-1] == t("19:00")  # both free ends of the day are offered
    assert all(s.ends_at <= t("09:00") or s.starts_at >= t("18:00") for s in slots)


def test_no_slot_for_a_session_longer_than_the_window() -> None:
    assert find_slots(index(), SlotQuery(duration_ms=13 * HOUR)) == []
    assert find_slots(index(), SlotQuery(duration_ms=0)) == []


# --- the property the issue names: the finder never returns a slot a block rule refuses -------

minutes = st.integers(min_value=0, max_value=47).map(lambda q: q * 15)


@st.composite
def busy_days(draw: st.DrawFn) -> tuple[list[Session], ScheduleSettings]:
    sessions = []
    for i in range(draw(st.integers(0, 20))):
        m = draw(minutes)
        sessions.append(
            session(
                f"s{i}",
                draw(st.sampled_from(["a", "b"])),
                f"{8 + m // 60:02d}:{m % 60:02d}",
                draw(st.sampled_from([15, 30, 60, 120])),
                speaker_ids=[draw(st.sampled_from(["p1", "p2", "p3"]))],
            )
        )
    severities = draw(
        st.dictionaries(
            st.sampled_from(["changeover", "person_overlap", "over_capacity", "grassroots_room"]),
            st.sampled_from(["block", "warn", "ignore"]),
        )
    )
    return sessions, ScheduleSettings(severities=severities)


@settings(max_examples=200, deadline=None)
@given(
    busy_days(),
    st.sampled_from([15, 30, 45, 60, 90, 240]),
    st.one_of(st.none(), st.integers(0, 150)),
    st.booleans(),
    st.one_of(st.none(), st.sampled_from(["p1", "p2"])),
)
def test_every_slot_passes_every_blocking_rule(
    day: tuple[list[Session], ScheduleSettings],
    minutes_: int,
    attendance: int | None,
    grassroots: bool,
    host: str | None,
) -> None:
    sessions, rules = day
    ix = index(*sessions, settings=rules)
    query = SlotQuery(
        duration_ms=minutes_ * MINUTE, attendance=attendance, grassroots=grassroots, host=host, limit=25
    )
    for slot in find_slots(ix, query):
        probe = Session(
            id="probe", title="probe", room_id=slot.room_id, starts_at=slot.starts_at, ends_at=slot.ends_at,
            attendance=attendance, grassroots=grassroots, host=host,
        )  # fmt: skip
        assert not blocking(ix.check(probe)), (slot, ix.check(probe))
        # and it is really free: nothing placed in that room intersects it
        assert not ix.in_room(slot.room_id, slot.starts_at, slot.ends_at)
        assert slot.room_id in ROOMS
