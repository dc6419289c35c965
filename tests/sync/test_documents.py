"""Typed documents (:mod:`sync.documents`), their records and their names."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from pycrdt import Array, Doc, Map

from sync.documents import (
    Appended,
    Assigned,
    Change,
    ControlDoc,
    DeviceLog,
    Quarantined,
    observe,
    read_all,
)
from sync.names import DocName, UnknownDocument, check_id
from sync.records import (
    Amendment,
    Annulment,
    Decision,
    Revocation,
    Room,
    Scan,
    Session,
    WalkIn,
    to_json_value,
)

LOG = DocName.parse("event/e1/device/d1")
CONTROL = DocName.parse("event/e1/control")

T0 = 1_700_000_000_123  # an integer millisecond timestamp


def scan_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"nonce": "n1", "gate": "Hall A", "result": "admitted", "at": T0}
    fields.update(overrides)
    return fields


class Changes(list[Change]):
    """The changes observe() reported; holds its subscriptions, which end when dropped."""

    subscriptions: list[Any]


def watch(name: DocName, doc: Doc) -> Changes:
    changes = Changes()
    changes.subscriptions = observe(name, doc, changes.append)
    assert changes.subscriptions
    return changes


# --- DeviceLog: validation on write --------------------------------------------------


def test_append_scan_round_trip() -> None:
    log = DeviceLog(Doc())
    scan = log.append_scan(**scan_fields(code="BADGE-1", device_time=T0 - 5))
    assert len(log) == 1
    assert log.records() == [scan]
    got = log.records()[0]
    assert isinstance(got, Scan)
    assert (got.nonce, got.gate, got.result, got.code, got.direction) == (
        "n1",
        "Hall A",
        "admitted",
        "BADGE-1",
        "entry",
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"gate": "g" * 121},  # ShortText is at most 120 characters
        {"result": "teleported"},  # not one of the ScanResult literals
        {"direction": "sideways"},
        {"nonce": ""},  # Id needs at least one character
        {"nonce": "has space"},  # Id pattern
        {"nonce": "x" * 65},  # Id is at most 64 characters
        {"at": -1},  # Millis >= 0
        {"at": 2**53},  # Millis <= 2**53 - 1
        {"reason": "r" * 501},  # Text is at most 500 characters
        {"code": ""},  # BadgeCode needs at least one character
    ],
    ids=lambda o: next(iter(o)),
)
def test_append_scan_validates_before_writing(overrides: dict[str, Any]) -> None:
    doc = Doc()
    log = DeviceLog(doc)
    state = doc.get_state()
    with pytest.raises(msgspec.ValidationError):
        log.append_scan(**scan_fields(**overrides))
    assert len(log) == 0
    assert log.records() == []
    assert doc.get_state() == state, "nothing may be written to the document"


def test_failed_append_leaves_earlier_records_alone() -> None:
    log = DeviceLog(Doc())
    first = log.append_scan(**scan_fields())
    with pytest.raises(msgspec.ValidationError):
        log.append_scan(**scan_fields(nonce="n2", gate="g" * 121))
    assert len(log) == 1
    assert log.records() == [first]


def test_boundary_values_accepted() -> None:
    log = DeviceLog(Doc())
    log.append_scan(**scan_fields(gate="g" * 120, nonce="x" * 64, at=0))
    log.append_scan(**scan_fields(nonce="n2", at=2**53 - 1))
    assert [r.at for r in log.records()] == [0, 2**53 - 1]


def test_other_device_records() -> None:
    log = DeviceLog(Doc())
    walk_in = WalkIn(attendee_id="a1", name="Zoë", ticket_type_id="t1", at=T0)
    annulment = Annulment(scan_id="s1", reason="mistake", at=T0 + 1)
    log.append(walk_in)
    log.append(annulment)
    assert log.records() == [walk_in, annulment]
    with pytest.raises(msgspec.ValidationError):
        log.append(WalkIn(attendee_id="a2", name="n" * 501, ticket_type_id="t1"))
    assert len(log) == 2


def test_control_records_do_not_belong_in_a_device_log() -> None:
    log = DeviceLog(Doc())
    with pytest.raises(msgspec.ValidationError):
        log.append(Revocation(target="badge", value="b1"))  # type: ignore[arg-type]
    assert len(log) == 0


def test_records_are_plain_json_objects_tagged_by_kind() -> None:
    doc = Doc()
    DeviceLog(doc).append_scan(**scan_fields())
    (raw,) = doc.get("log", type=Array).to_py()
    assert isinstance(raw, dict)
    assert raw["kind"] == "scan"
    assert raw["nonce"] == "n1"
    assert raw["id"]


# --- integer milliseconds ------------------------------------------------------------


def test_millis_come_back_as_int() -> None:
    log = DeviceLog(Doc())
    log.append_scan(**scan_fields(device_time=T0 + 7))
    (scan,) = log.records()
    assert isinstance(scan, Scan)
    assert type(scan.at) is int and scan.at == T0
    assert type(scan.device_time) is int and scan.device_time == T0 + 7


def test_millis_come_back_as_int_after_sync() -> None:
    source = Doc()
    DeviceLog(source).append_scan(**scan_fields())
    target = Doc()
    target.apply_update(source.get_update())
    (scan,) = DeviceLog(target).records()
    assert type(scan.at) is int and scan.at == T0


def test_fractional_millis_from_a_foreign_writer_are_rejected() -> None:
    doc = Doc()
    raw = {"kind": "scan", "id": "s1", "at": T0 + 0.5, "nonce": "n", "gate": "g", "result": "admitted"}
    doc.get("log", type=Array).append(raw)
    assert DeviceLog(doc).records() == []
    (change,) = read_all(LOG, doc)
    assert isinstance(change, Quarantined)
    assert "$.at" in change.error, change.error


def test_control_millis_come_back_as_int() -> None:
    control = ControlDoc(Doc())
    control.decide("p1", "scheduled", room_id="r1", starts_at=T0, ends_at=T0 + 3_600_000, at=T0)
    control.put_session(Session(id="s1", title="Talk", room_id="r1", starts_at=T0, ends_at=T0 + 1))
    (decision,) = control.decisions()
    assert type(decision.starts_at) is int and type(decision.ends_at) is int and type(decision.at) is int
    session = control.sessions()["s1"]
    assert type(session.starts_at) is int and session.starts_at == T0


# --- ControlDoc ----------------------------------------------------------------------


def test_revoke_round_trip() -> None:
    control = ControlDoc(Doc())
    record = control.revoke("badge", "b-17", reason="lost", by="org1")
    assert isinstance(record, Revocation)
    assert control.revocations() == [record]
    got = control.revocations()[0]
    assert (got.target, got.value, got.reason, got.by) == ("badge", "b-17", "lost", "org1")


def test_amend_round_trip() -> None:
    control = ControlDoc(Doc())
    record = control.amend("a1", "name", "Zoë Smith", by="org1")
    assert control.amendments() == [record]
    assert isinstance(record, Amendment)
    assert control.amendments()[0].value == "Zoë Smith"


def test_decide_round_trip() -> None:
    control = ControlDoc(Doc())
    record = control.decide("p1", "accepted")
    assert isinstance(record, Decision)
    assert control.decisions() == [record]
    assert control.decisions()[0].room_id is None


def test_log_accessors_filter_by_kind_and_keep_order() -> None:
    control = ControlDoc(Doc())
    r1 = control.revoke("badge", "b1")
    a1 = control.amend("a1", "company", "ACME")
    r2 = control.revoke("device", "d9")
    d1 = control.decide("p1", "rejected")
    assert control.revocations() == [r1, r2]
    assert control.amendments() == [a1]
    assert control.decisions() == [d1]


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.revoke("planet", "b1"),
        lambda c: c.revoke("badge", ""),
        lambda c: c.amend("a1", "salary", "1"),
        lambda c: c.decide("p1", "maybe"),
        lambda c: c.decide("p1", "scheduled", starts_at=-5),
    ],
    ids=["target", "value", "field", "decision", "starts_at"],
)
def test_control_appends_validate_before_writing(call: Any) -> None:
    doc = Doc()
    control = ControlDoc(doc)
    with pytest.raises(msgspec.ValidationError):
        call(control)
    assert len(doc.get("log", type=Array)) == 0
    assert control.revocations() == control.amendments() == control.decisions() == []


def test_put_room_and_session_round_trip() -> None:
    control = ControlDoc(Doc())
    room = Room(id="r1", name="Main hall", capacity=300)
    session = Session(
        id="s1",
        title="Opening",
        room_id="r1",
        starts_at=T0,
        ends_at=T0 + 1_800_000,
        speakers=["Ada", "Grace"],
        grassroots=True,
    )
    control.put_room(room)
    control.put_room(Room(id="r2", name="Side room"))
    control.put_session(session)
    assert control.rooms() == {"r1": room, "r2": Room(id="r2", name="Side room")}
    assert control.sessions() == {"s1": session}
    assert type(control.rooms()["r1"].capacity) is int


def test_put_room_replaces_by_id() -> None:
    control = ControlDoc(Doc())
    control.put_room(Room(id="r1", name="Old"))
    control.put_room(Room(id="r1", name="New", capacity=5))
    assert control.rooms() == {"r1": Room(id="r1", name="New", capacity=5)}


def test_put_invalid_room_or_session_writes_nothing() -> None:
    doc = Doc()
    control = ControlDoc(doc)
    state = doc.get_state()
    with pytest.raises(msgspec.ValidationError):
        control.put_room(Room(id="r1", name="n" * 121))
    with pytest.raises(msgspec.ValidationError):
        control.put_room(Room(id="r1", name="ok", capacity=-1))
    with pytest.raises(msgspec.ValidationError):
        control.put_session(Session(id="s 1", title="t", room_id="r1", starts_at=0, ends_at=1))
    assert control.rooms() == {} and control.sessions() == {}
    assert doc.get_state() == state


def test_remove_session_and_settings() -> None:
    control = ControlDoc(Doc())
    control.put_session(Session(id="s1", title="t", room_id="r1", starts_at=0, ends_at=1))
    control.remove_session("s1")
    control.remove_session("never-existed")
    assert control.sessions() == {}
    control.set_setting("doors_open", True)
    control.set_setting("limits", {"hall": 300})
    assert control.settings() == {"doors_open": True, "limits": {"hall": 300}}
    with pytest.raises(TypeError):
        control.set_setting("bad", object())
    assert "bad" not in control.settings()


# --- observe(): local and remote changes ---------------------------------------------


def test_observe_local_appends() -> None:
    doc = Doc()
    changes = watch(LOG, doc)
    log = DeviceLog(doc)
    s1 = log.append_scan(**scan_fields())
    s2 = log.append_scan(**scan_fields(nonce="n2", result="already_admitted"))
    assert changes == [Appended(LOG, "log", s1), Appended(LOG, "log", s2)]


def test_observe_remote_update_on_a_second_doc() -> None:
    source = Doc()
    log = DeviceLog(source)
    s1 = log.append_scan(**scan_fields())
    target = Doc()
    changes = watch(LOG, target)
    target.apply_update(source.get_update())
    assert changes == [Appended(LOG, "log", s1)]
    # an incremental update carries only what is new
    state = target.get_state()
    s2 = log.append_scan(**scan_fields(nonce="n2"))
    target.apply_update(source.get_update(state))
    assert changes == [Appended(LOG, "log", s1), Appended(LOG, "log", s2)]
    # a duplicate update changes nothing and reports nothing
    target.apply_update(source.get_update())
    assert len(changes) == 2


def test_observe_control_doc_logs_and_maps() -> None:
    source = Doc()
    control = ControlDoc(source)
    target = Doc()
    changes = watch(CONTROL, target)
    revocation = control.revoke("attendee", "a1")
    room = Room(id="r1", name="Hall")
    control.put_room(room)
    control.set_setting("theme", "dark")
    session = Session(id="s1", title="t", room_id="r1", starts_at=0, ends_at=1)
    control.put_session(session)
    target.apply_update(source.get_update())
    assert sorted(changes, key=repr) == sorted(
        [
            Appended(CONTROL, "log", revocation),
            Assigned(CONTROL, "rooms", "r1", room),
            Assigned(CONTROL, "settings", "theme", "dark"),
            Assigned(CONTROL, "sessions", "s1", session),
        ],
        key=repr,
    )
    changes.clear()
    state = target.get_state()
    control.remove_session("s1")
    target.apply_update(source.get_update(state))
    assert changes == [Assigned(CONTROL, "sessions", "s1", None)]


def test_read_all_rebuilds_what_observe_reported() -> None:
    doc = Doc()
    changes = watch(CONTROL, doc)
    control = ControlDoc(doc)
    control.revoke("key", "k1")
    control.put_room(Room(id="r1", name="Hall"))
    assert sorted(read_all(CONTROL, doc), key=repr) == sorted(changes, key=repr)


# --- observe(): foreign values are quarantined ----------------------------------------


@pytest.mark.parametrize(
    ("raw", "mentions"),
    [
        ({"kind": "scan", "nonce": 5}, "nonce"),
        ({"kind": "scan", "id": "s1", "nonce": "n", "gate": "g", "result": "lost"}, "result"),
        ({"kind": "teleport", "id": "x"}, "teleport"),
        ({"nonce": "n"}, "kind"),
        ("just a string", "object"),
        (42, "object"),
        ([1, 2], "object"),
        (None, "object"),
    ],
    ids=["wrong-type", "bad-literal", "unknown-kind", "no-kind", "string", "number", "list", "null"],
)
def test_foreign_values_in_a_log_are_quarantined(raw: Any, mentions: str) -> None:
    doc = Doc()
    changes = watch(LOG, doc)
    doc.get("log", type=Array).append(raw)  # a raw pycrdt client: no validation
    (change,) = changes
    assert isinstance(change, Quarantined)
    assert (change.doc, change.root, change.key) == (LOG, "log", None)
    assert change.error and mentions in change.error, change.error
    assert DeviceLog(doc).records() == []
    # and the same when it arrives by sync
    target = Doc()
    remote = watch(LOG, target)
    target.apply_update(doc.get_update())
    assert [type(c) for c in remote] == [Quarantined]


def test_quarantine_keeps_the_raw_value() -> None:
    doc = Doc()
    changes = watch(LOG, doc)
    doc.get("log", type=Array).append({"kind": "scan", "nonce": 5})
    (change,) = changes
    assert isinstance(change, Quarantined)
    assert change.raw == {"kind": "scan", "nonce": 5}


def test_nested_shared_type_in_a_log_is_quarantined_as_plain_json() -> None:
    doc = Doc()
    changes = watch(LOG, doc)
    doc.get("log", type=Array).append(Map({"kind": "scan"}))
    (change,) = changes
    assert isinstance(change, Quarantined)
    assert change.raw == {"kind": "scan"}
    assert "nonce" in change.error


def test_good_and_bad_values_in_one_transaction() -> None:
    good = DeviceLog(Doc())
    scan = good.append_scan(**scan_fields())
    doc = Doc()
    changes = watch(LOG, doc)
    with doc.transaction():
        log = doc.get("log", type=Array)
        log.append("junk")
        log.append(msgspec.to_builtins(scan))
        log.append({"kind": "scan"})
    assert [type(c) for c in changes] == [Quarantined, Appended, Quarantined]
    assert changes[1] == Appended(LOG, "log", scan)
    assert DeviceLog(doc).records() == [scan]
    assert len(DeviceLog(doc)) == 3


def test_foreign_values_in_control_maps_are_quarantined() -> None:
    doc = Doc()
    changes = watch(CONTROL, doc)
    doc.get("rooms", type=Map)["r1"] = {"id": "r1"}  # no name
    doc.get("sessions", type=Map)["s1"] = "not a session"
    doc.get("settings", type=Map)["nested"] = Map({"a": 1})
    by_root = {c.root: c for c in changes}
    assert set(by_root) == {"rooms", "sessions", "settings"}
    rooms = by_root["rooms"]
    assert isinstance(rooms, Quarantined) and rooms.key == "r1" and "name" in rooms.error
    sessions = by_root["sessions"]
    assert isinstance(sessions, Quarantined) and sessions.key == "s1"
    assert sessions.raw == "not a session"
    settings = by_root["settings"]
    assert isinstance(settings, Quarantined) and settings.key == "nested"
    assert settings.raw == {"a": 1}


def test_control_log_rejects_device_records() -> None:
    doc = Doc()
    changes = watch(CONTROL, doc)
    DeviceLog(doc).append_scan(**scan_fields())  # a device record in the control log
    (change,) = changes
    assert isinstance(change, Quarantined)
    assert ControlDoc(doc).revocations() == []


def test_record_identity_is_stable_across_reads() -> None:
    doc = Doc()
    doc.get("log", type=Array).append({"kind": "scan", "nonce": "n", "gate": "g", "result": "admitted"})
    log = DeviceLog(doc)
    first = [r.id for r in log.records()]
    second = [r.id for r in log.records()]
    assert first == second


# --- document names ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("event/e1/control", DocName("e1", "control")),
        ("event/e1/device/d1", DocName("e1", "device", "d1")),
        ("event/Conf-2025.v2_x/device/scanner-01", DocName("Conf-2025.v2_x", "device", "scanner-01")),
        ("event/e/device/control", DocName("e", "device", "control")),
        (f"event/{'e' * 64}/device/{'d' * 64}", DocName("e" * 64, "device", "d" * 64)),
    ],
)
def test_doc_name_parse_accepts_the_two_forms(name: str, expected: DocName) -> None:
    parsed = DocName.parse(name)
    assert parsed == expected
    assert str(parsed) == name


def test_doc_name_constructors_agree_with_parse() -> None:
    assert DocName.control("e1") == DocName.parse("event/e1/control")
    assert DocName.device("e1", "d1") == DocName.parse("event/e1/device/d1")
    with pytest.raises(ValueError, match="invalid id"):
        DocName.device("e1", "../d1")
    with pytest.raises(ValueError, match="invalid id"):
        DocName.control("")


@pytest.mark.parametrize(
    "name",
    [
        "",
        "event/x/other",
        "event/x",
        "event/x/",
        "event/x/control/",
        "event/x/control/extra",
        "/event/x/control",
        "../etc",
        "../etc/passwd",
        "event/../control",
        "event/./control",
        "event/x/device/..",
        "event/x/device/../../y/control",
        "event//control",
        "event/x/device/",
        "event/x/device",
        "event/x/device/a/b",
        "event/x y/control",
        "event/x/device/d%2f1",
        "Event/x/control",
        "event/x/Control",
        "event/-x/control",
        "event/_x/control",
        "event/.x/control",
        "event/é/control",
        f"event/{'e' * 65}/control",
        f"event/e/device/{'d' * 65}",
        "event/x/control ",
        " event/x/control",
    ],
)
def test_doc_name_parse_rejects_everything_else(name: str) -> None:
    with pytest.raises(UnknownDocument) as info:
        DocName.parse(name)
    assert repr(name) in str(info.value)
    assert "event/<id>/control" in str(info.value)


def test_unknown_document_is_a_value_error() -> None:
    assert issubclass(UnknownDocument, ValueError)


@pytest.mark.parametrize("name", ["event/x/control\n", "event/x/device/d1\n"])
def test_doc_name_parse_rejects_trailing_newline(name: str) -> None:
    with pytest.raises(UnknownDocument):
        DocName.parse(name)


def test_check_id_rejects_trailing_newline() -> None:
    with pytest.raises(ValueError):
        check_id("d1\n")


def test_record_id_rejects_trailing_newline() -> None:
    log = DeviceLog(Doc())
    with pytest.raises(msgspec.ValidationError):
        log.append_scan(**scan_fields(nonce="n1\n"))


def test_a_nul_from_a_foreign_writer_is_quarantined_wherever_it_hides() -> None:
    """No database here can store U+0000: in a record's text, a settings value or a map's key."""
    source = Doc()
    good = DeviceLog(source).append_scan(**scan_fields())
    source.get("log", type=Array).append({**to_json_value(good), "id": "x2", "gate": "North\x00door"})
    control = Doc()
    control.get("rooms", type=Map)["hall\x00b"] = {"id": "hall-b", "name": "Hall B"}
    control.get("settings", type=Map)["welcome"] = "Hello\x00"
    for name, doc in ((LOG, source), (CONTROL, control)):
        target = Doc()
        changes = watch(name, target)
        target.apply_update(doc.get_update())
        for listed in (changes, list(read_all(name, target))):
            quarantined = [c for c in listed if isinstance(c, Quarantined)]
            assert quarantined and all("NUL" in c.error for c in quarantined)
            assert all("\x00" not in (c.key or "") for c in quarantined)  # the report itself is storable
    assert Appended(LOG, "log", good) in watch_all(LOG, source)


def watch_all(name: DocName, doc: Doc) -> list[Change]:
    return list(read_all(name, doc))
