"""What the decision needs from the catalog, cached in memory and refreshed when it changes.

The hot path must not parse JSON lists or rebuild a key ring per scan, and
the catalog changes rarely (an import, a device key arriving by sync).  The
cache checks a cheap fingerprint of the catalog at most once a second, so
an import made by the CLI while the server runs is picked up within a
second, without a restart.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from appliance.catalog.roster import capability_names, event_keys, load_lists
from konferenco.badges import KeyRing
from konferenco.rules import CheckinList


@dataclass
class EventCatalog:
    event_id: str
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    lists: dict[str, CheckinList] = field(default_factory=dict)
    gates: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (name, default list)
    ticket_types: dict[str, str] = field(default_factory=dict)
    rooms: dict[str, tuple[str, int | None]] = field(default_factory=dict)  # from the control document
    keys: KeyRing = field(default_factory=KeyRing)


class CatalogCache:
    """Cached catalog of every event this appliance serves."""

    def __init__(self, conn: sqlite3.Connection, events: list[str], check_every: float = 1.0) -> None:
        self._conn = conn
        self._events = events
        self._check_every = check_every
        self._checked = 0.0
        self._fingerprint: tuple[object, ...] | None = None
        self._cache: dict[str, EventCatalog] = {}

    def event(self, event_id: str) -> EventCatalog:
        now = time.monotonic()
        if now - self._checked >= self._check_every or self._fingerprint is None:
            self._checked = now
            fingerprint = self._read_fingerprint()
            if fingerprint != self._fingerprint:
                self._cache = {e: self._load(e) for e in self._events}
                self._fingerprint = fingerprint
        return self._cache[event_id]

    def invalidate(self) -> None:
        self._fingerprint = None

    def _read_fingerprint(self) -> tuple[object, ...]:
        return (
            self._conn.execute("SELECT group_concat(imported_at) FROM catalog_event").fetchone()[0],
            self._conn.execute("SELECT count(*) FROM device_key").fetchone()[0],
            self._conn.execute(
                "SELECT group_concat(key || body) FROM sync_entry WHERE root = 'rooms'"
            ).fetchone(),
        )

    def _load(self, event_id: str) -> EventCatalog:
        conn = self._conn
        out = EventCatalog(event_id)
        row = conn.execute("SELECT timezone FROM catalog_event WHERE id = ?", (event_id,)).fetchone()
        if row is not None:
            try:
                out.timezone = ZoneInfo(row[0])
            except (KeyError, ValueError):
                out.timezone = ZoneInfo("UTC")
        out.lists = load_lists(conn, event_id)
        out.gates = {
            r[0]: (r[1], r[2])
            for r in conn.execute(
                "SELECT id, name, default_list FROM catalog_gate WHERE event_id = ?", (event_id,)
            )
        }
        out.ticket_types = dict(
            conn.execute(
                "SELECT id, name FROM catalog_ticket_type WHERE event_id = ?", (event_id,)
            ).fetchall()
        )
        control = f"event/{event_id}/control"
        for key, name, capacity in conn.execute(
            "SELECT key, json_extract(body, '$.name'), json_extract(body, '$.capacity') FROM sync_entry "
            "WHERE doc = ? AND root = 'rooms'",
            (control,),
        ):
            out.rooms[key] = (name, capacity)
        ring = event_keys(conn, event_id)
        for device, public, not_after, signature, capabilities in conn.execute(
            "SELECT device_id, public_key, not_after, signature, capabilities FROM device_key"
            " WHERE event_id = ?",
            (event_id,),
        ):
            ring.add_device_key(
                event_id,
                device,
                bytes(public),
                not_after or 0,
                bytes(signature),
                capability_names(capabilities),
            )
        out.keys = ring
        return out
