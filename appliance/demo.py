"""A demo event, so a newcomer sees a working appliance without a hub."""

from __future__ import annotations

import datetime as dt

from appliance.config import DataDir
from sync.documents import ControlDoc
from sync.names import DocName
from sync.records import Room, Session

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


async def seed(data: DataDir, event: str) -> str:
    config = data.init([event])
    data.signer()
    replica = data.replica()
    await replica.start()
    sessions = schedule(dt.datetime.now(dt.UTC).date())

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
    return (
        f"demo appliance {config.device_id} for event '{event}' in {data.path}: "
        f"{len(ROOMS)} rooms, {len(sessions)} sessions"
    )
