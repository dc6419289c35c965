"""The ids our exports give rooms, sessions and people, stable from one export to the next.

Consumers key on them: a conference app keeps an attendee's favourites by a
session's ``guid`` or ``id``, the recording pipeline its cut lists, a
calendar its events by ``UID``.  So they depend on nothing but the record:

- a session imported from pretalx or frab keeps its upstream ``guid`` (the
  same session is the same in both systems' exports); any other session's
  guid is a UUID 5 of its id in our namespace;
- the integer ``id`` (required by the XSD, ``int`` in Java apps) is a hash
  of our id below 2³¹, unique within one export;
- people get a UUID 5 of their folded name.

Reading our own export back maps each guid to the session it came from
(:func:`session_guid`), so exporting, editing elsewhere and importing again
updates sessions instead of duplicating them.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from functools import lru_cache

from konferenco.schedule.model import Room, Session, fold_name

from .values import KONFERENCO_NS, canonical_uuid

_INT_RANGE = 2**31 - 1


def session_guid(session: Session) -> str:
    """The session's guid in exports: the upstream guid when it has one, else a UUID 5 of its id."""
    return canonical_uuid(session.source_id) or str(uuid.uuid5(KONFERENCO_NS, f"session:{session.id}"))


def room_guid(room: Room) -> str:
    return str(uuid.uuid5(KONFERENCO_NS, f"room:{room.id}"))


@lru_cache(maxsize=8192)  # a speaker appears in many sessions; uuid5 and folding are not free
def person_guid(name: str) -> str:
    return str(uuid.uuid5(KONFERENCO_NS, f"person:{fold_name(name)}"))


def session_guids(sessions: Iterable[Session]) -> dict[str, str]:
    """Session id → guid, unique within the export (a copied session that kept its source id gets its own)."""
    taken: set[str] = set()
    found: dict[str, str] = {}
    for session in sorted(sessions, key=lambda s: s.id):
        guid = session_guid(session)
        if guid in taken:
            guid = str(uuid.uuid5(KONFERENCO_NS, f"session:{session.id}"))
        taken.add(guid)
        found[session.id] = guid
    return found


def session_numbers(ids: Iterable[str]) -> dict[str, int]:
    """Session id → a positive integer below 2³¹ from a hash of the id, unique within the export.

    Two ids whose hashes meet (rare: about one export in 200 at 5,000
    sessions) are told apart by the next free number, in id order, so the
    result still depends only on the ids.
    """
    taken: set[int] = set()
    found: dict[str, int] = {}
    for sid in sorted(ids):
        number = (
            int.from_bytes(hashlib.sha256(f"session:{sid}".encode()).digest()[:8], "big") % _INT_RANGE + 1
        )
        while number in taken:
            number = number % _INT_RANGE + 1
        taken.add(number)
        found[sid] = number
    return found
