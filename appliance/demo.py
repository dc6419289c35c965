"""A demo event, so a newcomer sees a working appliance without a hub.

``seed`` plays the hub's part locally: it makes event and catalog keys,
builds a catalog (ticket types, lists, gates, attendees with signed badge
codes), signs it as a bundle, and imports that bundle through the same path
a hub-issued one takes.  Names are drawn from many languages on purpose
(diacritics, ł, ø, ß), so search and badges are exercised from the start.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

from appliance.config import DataDir
from appliance.desk.service import certify_device
from appliance.staff.service import StaffRole, add_staff
from appliance.storage import import_file, open_replica
from konferenco.badges import BadgePayload, BadgeSigner, b64, raw_public_key
from konferenco.catalog.bundle import Attendee, Catalog, EventInfo, Gate, PublicKey, TicketType, sign_catalog
from konferenco.rules import CheckinList, Hours, MinMinutesBetween
from konferenco.text import fold
from sync.documents import ControlDoc
from sync.names import DocName
from sync.permissions import Capability, PeerIdentity, Role
from sync.records import Room, Session
from sync.sqlite_writer import connect

ROOMS = [
    Room(id="main-hall", name="Main Hall", capacity=800),
    Room(id="room-a", name="Salle Ádám", capacity=120),
    Room(id="room-b", name="Sala Łódź", capacity=60),
]

TALKS = [
    ("Opening keynote: offline first", ["Zoë Ångström"]),
    ("Badges that never lie", ["Jürgen Ødegård"]),
    ("CRDTs at the door", ["Nguyễn Thị Minh"]),
    ("Thermal printers in anger", ["Siobhán O'Connor"]),
    ("Scaling to 180,000 attendees", ["Ramón Núñez"]),
    ("Closing panel", ["Zoë Ångström", "Ramón Núñez"]),
]

FIRST = [
    "Zoë", "Jürgen", "Siobhán", "Ramón", "Łucja", "Søren", "Ærin", "Chloé", "Björn", "Małgorzata",
    "François", "Dước", "Ana", "João", "Håkon", "Žofia", "Çağla", "İlker", "Grzegorz", "Mikuláš",
    "Émile", "Nuño", "Aoife", "Kateřina", "Ólafur", "Dvořák", "Yusuf", "Mei", "Priya", "Tomasz",
    "Anneliese", "Fatoumata", "Ingrid", "Radosław", "Eleftheria", "Oğuz", "Ségolène", "Þóra", "Lúcia",
    "Kwame",
]  # fmt: skip
LAST = [
    "Ångström", "Ødegård", "O'Connor", "Núñez", "Wąsowska", "Kierkegaard", "Müller", "Straße", "Dupont",
    "Nguyễn", "Świątek", "Østergaard", "Łukasiewicz", "Fernández", "Šťastný", "Y\u0131lmaz", "Gonçalves",
    "Kowalczyk", "Brontë", "Jónsdóttir", "Papadopoulou", "Đorđević", "Novák", "García Márquez", "Smith",
    "van der Berg", "Ó Súilleabháin", "Çelik", "Lefèvre", "Björklund", "Häkkinen", "Mbeki", "Tanaka",
]  # fmt: skip
COMPANIES = [
    "Ålesund Analytics", "Brötchen & Bytes GmbH", "Café Façade SARL", "Łąka Systems", "Nørrebro Robotics",
    "Straßenbahn AG", "Česká Data s.r.o.", "Ñandú Labs", "Øresund Energy", "Zürich Cloud AG", "Konferenco",
    "", "", "",
]  # fmt: skip

DAYS = 3
STAFF = [
    ("Door", StaffRole.DOOR),
    ("Desk", StaffRole.DESK),
    ("Kiosk", StaffRole.KIOSK),
    ("Organizer", StaffRole.ORGANIZER),
]


def schedule(start: dt.date) -> list[Session]:
    sessions = []
    for day in range(2):
        for slot, (title, speakers) in enumerate(TALKS):
            room = ROOMS[slot % len(ROOMS)]
            begin = dt.datetime.combine(start + dt.timedelta(days=day), dt.time(9 + slot, 0), tzinfo=dt.UTC)
            sessions.append(
                Session(
                    id=f"d{day + 1}-s{slot + 1}",
                    title=title,
                    room_id=room.id,
                    starts_at=int(begin.timestamp() * 1000),
                    ends_at=int((begin + dt.timedelta(minutes=50)).timestamp() * 1000),
                    speakers=speakers,
                )
            )
    return sessions


def _ascii(text: str) -> str:
    return "".join(c for c in fold(text) if c.isalnum())


def attendees(
    event: str, count: int, rng: random.Random, signer: BadgeSigner, start: dt.date, tz: dt.tzinfo
) -> Iterator[Attendee]:
    """``count`` plausible attendees with signed badges; day passes valid on their day only."""
    for n in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        roll = rng.random()
        ticket = "full" if roll < 0.55 else "expo" if roll < 0.8 else "day" if roll < 0.95 else "speaker"
        valid_from = valid_until = 0
        if ticket == "day":
            day = start + dt.timedelta(days=rng.randrange(DAYS))
            valid_from = int(dt.datetime.combine(day, dt.time(0, 0), tzinfo=tz).timestamp())
            valid_until = valid_from + 86400 - 1
        attendee_id = f"a{n + 1:06d}"
        code = signer.sign(BadgePayload(event, attendee_id, ticket, 0, valid_from, valid_until))
        yield Attendee(
            id=attendee_id,
            name=f"{first} {last}",
            ticket_type_id=ticket,
            company=rng.choice(COMPANIES),
            email=f"{_ascii(first)}.{_ascii(last)}{n}@example.org",
            order_ref=f"ORD-{rng.randrange(16**5):05X}",
            badge_code=code,
            nfc_uid=f"{rng.getrandbits(56):014X}" if rng.random() < 0.3 else "",
            valid_from=valid_from,
            valid_until=valid_until,
        )


#: The demo event's time zone: its days, day passes and schedule are Vienna's.
DEMO_TZ = "Europe/Vienna"


def catalog(event: str, count: int, seed: int, signer: BadgeSigner, start: dt.date) -> Catalog:
    tz_name = DEMO_TZ
    tz = ZoneInfo(tz_name)
    begin = dt.datetime.combine(start, dt.time(0, 0), tzinfo=tz)
    return Catalog(
        event=EventInfo(
            id=event,
            name="Konferenco Demo Days",
            timezone=tz_name,
            starts_at=int(begin.timestamp() * 1000),
            ends_at=int((begin + dt.timedelta(days=DAYS)).timestamp() * 1000),
        ),
        revision=1,
        issued_at=int(dt.datetime.now(dt.UTC).timestamp() * 1000),
        ticket_types=[
            TicketType("full", "Full pass"),
            TicketType("expo", "Expo pass"),
            TicketType("day", "Day pass"),
            TicketType("speaker", "Speaker"),
        ],
        lists=[
            CheckinList(id="main", name="Main entrance"),
            CheckinList(
                id="workshop",
                name="Workshop in Sala Łódź",
                ticket_types=["full", "speaker"],
                room_id="room-b",
                reentry="after_exit",
                rules=[Hours(opens="08:00", closes="20:00")],
            ),
            CheckinList(
                id="party",
                name="Speakers' dinner",
                ticket_types=["speaker", "full"],
                reentry="once",
                rules=[MinMinutesBetween(minutes=5)],
            ),
        ],
        gates=[
            Gate(id="north", name="North entrance", default_list="main"),
            Gate(id="south", name="South entrance", default_list="main"),
            Gate(id="workshop", name="Sala Łódź door", default_list="workshop"),
            Gate(id="dinner", name="Dinner", default_list="party"),
            Gate(id="kiosk", name="Self check-in kiosk", default_list="main"),  # appliance/kiosk
        ],
        keys=[PublicKey(kid=signer.kid, public_key=b64(signer.public))],
        attendees=list(attendees(event, count, random.Random(seed), signer, start, tz)),
    )


def staff_file(data: DataDir) -> Path:
    return data.secrets / "demo-staff.json"


async def seed(
    data: DataDir,
    event: str,
    *,
    count: int = 500,
    rng_seed: int = 1,
    progress: Callable[[str, int, int], None] | None = None,
) -> str:
    """Create a demo appliance: keys, signed catalog, schedule, demo staff and a walk-in key."""
    config = data.init([event])
    catalog_key = data.catalog_key(create=True)
    assert catalog_key is not None
    config.catalog_keys = [b64(raw_public_key(catalog_key.public_key()))]
    data.save(config)
    event_key = data.event_key(event, create=True)
    assert event_key is not None
    data.signer()
    # today in the event's time zone: between 23:00 and 24:00 UTC, Vienna is already tomorrow, and
    # a first day taken from the UTC date would have ended (its day passes expired) before it began
    start = dt.datetime.now(ZoneInfo(DEMO_TZ)).date()
    bundle = sign_catalog(catalog(event, count, rng_seed, BadgeSigner(event_key), start), catalog_key)
    bundle_path = data.path / "catalog.json"
    bundle_path.write_bytes(bundle)
    report = await import_file(data, bundle_path, progress=progress)
    certify_device(data, event, config.device_id)

    conn = connect(data.database)
    pins = {}
    try:
        for name, role in STAFF:
            pin = f"{random.SystemRandom().randrange(10**6):06d}"
            add_staff(conn, name, role, pin)
            pins[name] = {"role": role.value, "pin": pin}
    finally:
        conn.close()
    fd = os.open(staff_file(data), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(pins, f)

    replica = open_replica(data)
    await replica.start()
    sessions = schedule(start)

    def write(doc: object) -> None:
        control = ControlDoc(doc)  # type: ignore[arg-type]
        control.set_setting("name", "Konferenco Demo Days")
        control.set_setting("timezone", "Europe/Vienna")
        for room in ROOMS:
            control.put_room(room)
        for session in sessions:
            control.put_session(session)

    await replica.write(DocName.control(event), write)
    await replica.close()
    added = report.result.added if report.result else 0
    return (
        f"demo appliance {config.device_id} for event '{event}' in {data.path}: {added} attendees, "
        f"{len(ROOMS)} rooms, {len(sessions)} sessions"
    )


# --- what ``demo credentials`` prints -------------------------------------------------------

DEMO_TOKEN_SECONDS = 7 * 24 * 3600


def demo_peer_tokens(data: DataDir, events: list[str]) -> tuple[str, str]:
    """A read-only viewer token and an organizer device token, valid a week, for trying sync."""
    signer = data.signer()
    viewer = signer.issue(
        PeerIdentity(peer_id="demo-viewer", role=Role.VIEWER, events=tuple(events)), DEMO_TOKEN_SECONDS
    )
    organizer = signer.issue(
        PeerIdentity(
            peer_id="demo-organizer",
            role=Role.DEVICE,
            events=tuple(events),
            device_id="demo-organizer",
            capabilities=(Capability.ORGANIZER,),
        ),
        DEMO_TOKEN_SECONDS,
    )
    return viewer, organizer


def demo_staff(data: DataDir) -> dict[str, dict[str, str]]:
    """The demo staff accounts ``seed`` made, by name: role and PIN (empty if this box has none)."""
    path = staff_file(data)
    if not path.exists():
        return {}
    accounts: dict[str, dict[str, str]] = json.loads(path.read_text())
    return accounts


def first_gate(data: DataDir, event: str) -> str:
    """The gate a quick-start scan is made at: the catalog's first, else ``main``."""
    conn = data.reader()
    try:
        row = conn.execute("SELECT id FROM catalog_gate WHERE event_id = ? ORDER BY id", (event,)).fetchone()
    except sqlite3.OperationalError:  # no catalog yet
        row = None
    finally:
        conn.close()
    return str(row[0]) if row else "main"


def demo_door_token(data: DataDir, hours: int = 12) -> str:
    """A door token for the quick-start scan (a demo box only: an enrolled one prints how to get one)."""
    return data.staff_tokens().issue("demo-door", "Door", StaffRole.DOOR, hours * 3600)


def demo_printer(data: DataDir) -> Path | None:
    """Give a demo box with no printer a ``file`` printer, so the kiosk prints with no hardware.

    The ESC/POS bytes of the last badge land in ``DATA/printed/last-badge.escpos``.  Returns that
    file while the demo printer is this box's printer, None when the box has a printer of its own.
    """
    from appliance.devices.admin import add_device

    config = data.load()
    folder = data.path / "printed"
    if any(d.domain == "printer" for d in config.devices):
        return folder / "last-badge.escpos" if any(d.id == "demo-printer" for d in config.devices) else None
    folder.mkdir(mode=0o700, exist_ok=True)
    target = folder / "last-badge.escpos"
    target.touch(exist_ok=True)
    add_device(
        data,
        config,
        device_id="demo-printer",
        domain="printer",
        kind="file",
        name="Demo printer (a file)",
        settings={"connection": "file", "device": str(target.resolve()), "poll_interval": 0},
    )
    return target
