"""The box at a glance, for its front page (``/``): who it is, its link to the hub, its devices.

Two answers, because the front page is opened by anyone on the venue network:

* ``GET /api/v1/overview/public``: what a passer-by may read, the same kind of facts as
  ``/healthz`` (the box's name, its events by name, ok or degraded). No attendee, no device,
  no address, no error text.
* ``GET /api/v1/overview``: what a technician or organizer needs, for signed-in staff (door,
  desk, organizer; not a kiosk, whose token sits on a machine attendees touch): the hub link
  and what the hub has not acknowledged yet, every device with its state and last error, each
  printer's last reading (paper, cover, offline) and the print jobs that wait or failed.

Both are read from memory and the read connection only; nothing here writes.  The printers are
asked for their state as the kiosk asks them (at most every 3 s, :meth:`KioskService.status`),
so a printer switched off shows as offline within seconds, not at the next 30-s poll.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from litestar import get
from litestar.di import NamedDependency

from appliance.box import Box
from appliance.devices.controller import devices_of
from appliance.read_pool import ReadPool
from appliance.schedule.service import ScheduleService
from appliance.staff.guard import roles
from appliance.staff.service import StaffRole
from drivers.printer.status import PrinterStatus
from konferenco.types import now_ms
from sync.client import SyncClient

TAGS = ["ops"]
#: Who may read the whole overview: every staff role but the kiosk (organizers always may).
STAFF = (StaffRole.DOOR, StaffRole.DESK, StaffRole.ORGANIZER)
HUB_PEER = "hub"

LinkState = Literal["not_configured", "connected", "connecting", "not_connected", "refused"]
Health = Literal["ok", "degraded"]


class EventSummary(msgspec.Struct, kw_only=True):
    id: str
    name: str
    timezone: str


class PublicOverview(msgspec.Struct, kw_only=True):
    """The front page before sign-in: nothing personal, no device detail, no address."""

    name: str
    device_id: str
    events: list[EventSummary]
    status: Health
    uptime_s: int


class Unacknowledged(msgspec.Struct, kw_only=True):
    """Changes made here that a peer has not confirmed it holds: per document, and the oldest's age."""

    document: str
    count: int
    oldest_age_s: float


class HubLink(msgspec.Struct, kw_only=True):
    """The link to the hub; ``state`` is ``not_configured`` on a standalone box.

    ``unacknowledged`` counts against the hub even when none is configured: it is what a hub
    would still have to receive, so an operator sees what lives on this box alone.
    """

    state: LinkState
    url: str | None
    documents_synced: int
    documents: int
    last_error: str | None
    #: When the hub last told this box what it holds (ms since the epoch); None: never.
    last_acknowledged_at: int | None
    unacknowledged: int
    oldest_unacknowledged_age_s: float
    by_document: list[Unacknowledged]


class Upstream(msgspec.Struct, kw_only=True):
    """Another box this one syncs with (``--upstream``)."""

    url: str
    peer: str
    state: LinkState
    last_error: str | None
    unacknowledged: int


class DeviceSummary(msgspec.Struct, kw_only=True):
    id: str
    domain: str
    kind: str
    name: str
    gate: str | None
    state: str  # connected, disconnected, error, unknown
    detail: str
    since: int
    scans: int


class PrinterSummary(msgspec.Struct, kw_only=True):
    """One printer: the driver's state, its last status reading, and its jobs that are not done."""

    id: str
    name: str
    state: str  # the device state (connected, disconnected, error, unknown)
    #: The printer's own word from its last reading: ready, unreachable, unknown, offline,
    #: no_paper, cover_open, error; None before the first reading.
    reading: str | None
    paper: str | None  # ok, near_end, out; None: not known
    cover_open: bool | None
    detail: str
    queued: int
    printing: int
    failed: int
    uncertain: int


class LoopHealth(msgspec.Struct, kw_only=True):
    name: str
    state: str
    failures: int
    last_error: str | None


class CatalogVersion(msgspec.Struct, kw_only=True):
    """Which catalog an event runs on here: the hub's revision, when it came, how many people."""

    event: str
    revision: int | None  # None: no catalog imported yet
    imported_at: int | None
    attendees: int


class Overview(msgspec.Struct, kw_only=True):
    name: str
    device_id: str
    events: list[EventSummary]
    capabilities: list[str]
    status: Health
    uptime_s: int
    #: Where this box keeps its state (for the technician's commands, ``--data``).
    data_dir: str
    hub: HubLink
    upstreams: list[Upstream]
    devices: list[DeviceSummary]
    printers: list[PrinterSummary]
    loops: list[LoopHealth]
    at: int
    catalog: list[CatalogVersion] = msgspec.field(default_factory=list)


async def _events(box: Box, schedule: ScheduleService) -> list[EventSummary]:
    out = []
    for event in box.config.events:
        frame = await schedule.frame(event)
        out.append(EventSummary(id=event, name=frame.name or event, timezone=frame.timezone))
    return out


def _link_state(client: SyncClient) -> LinkState:
    """One word for a sync client: connected once every document it knows is in sync.

    Before it knows any document it lists them from the upstream; a listing that keeps failing
    (the upstream unreachable) is "not connected", not "connecting" for ever.
    """
    states = [s.state for s in client.status.values()]
    if client.untrusted is not None or "refused" in states:
        return "refused"
    if states and all(s == "synced" for s in states):
        return "connected"
    if "waiting" in states or any(not t.health().healthy for t in client.tasks):
        return "not_connected"
    return "connecting"


def _last_error(client: SyncClient) -> str | None:
    """Why the link is not (wholly) up: an unproven upstream, a document's error, a failing loop's."""
    if client.untrusted is not None:
        return f"untrusted upstream: {client.untrusted.reason}"
    errors = [s.last_error for s in client.status.values() if s.state != "synced" and s.last_error]
    errors += [h.last_error for h in (t.health() for t in client.tasks) if h.failures and h.last_error]
    return errors[0] if errors else None


def _unacknowledged(box: Box, peer: str, now: int) -> list[Unacknowledged]:
    pending = box.replica.acks.pending_all(peer)
    return [
        Unacknowledged(document=doc, count=p.count, oldest_age_s=round(p.age_seconds(now), 1))
        for doc, p in sorted(pending.items())
    ]


def _hub(box: Box, now: int) -> HubLink:
    client = next((c for c in box.links.clients if c.remote_peer == HUB_PEER), None)
    docs = _unacknowledged(box, HUB_PEER, now)
    row = box.conn.execute(
        "SELECT max(updated_at) FROM sync_peer_state WHERE peer = ?", (HUB_PEER,)
    ).fetchone()
    return HubLink(
        state=_link_state(client) if client is not None else "not_configured",
        url=client.url if client is not None else box.config.hub_url,
        documents_synced=sum(s.state == "synced" for s in client.status.values()) if client else 0,
        documents=len(client.status) if client else 0,
        last_error=_last_error(client) if client else None,
        last_acknowledged_at=row[0] if row and row[0] is not None else None,
        unacknowledged=sum(d.count for d in docs),
        oldest_unacknowledged_age_s=max((d.oldest_age_s for d in docs), default=0.0),
        by_document=docs,
    )


async def _catalogs(box: Box, reads: ReadPool) -> list[CatalogVersion]:
    """Each event's catalog as imported here (a stale revision explains a "not on the roster" at the door).

    On the read pool: counting 180,000 attendees takes about 10 ms warm (half a second cold), too
    long for the event loop the door's scans are decided on, every 5 s for every open screen.
    """
    out = []
    async with reads.connection() as conn:
        for event in box.config.events:
            rows = list(
                await conn.execute_fetchall(
                    "SELECT revision, imported_at, (SELECT count(*) FROM attendee WHERE event_id = ?1)"
                    " FROM (SELECT 1) LEFT JOIN catalog_event ON id = ?1",
                    (event,),
                )
            )
            revision, imported_at, attendees = rows[0]
            out.append(
                CatalogVersion(
                    event=event, revision=revision, imported_at=imported_at, attendees=int(attendees)
                )
            )
    return out


def _printers(box: Box, devices: list[DeviceSummary]) -> list[PrinterSummary]:
    counts: dict[tuple[str, str], int] = {}
    for printer, status, count in box.conn.execute(
        "SELECT printer, status, count(*) FROM print_job"
        " WHERE status IN ('queued', 'printing', 'failed', 'uncertain') GROUP BY printer, status"
    ):
        counts[(printer, status)] = count
    out = []
    for device in devices:
        if device.domain != "printer":
            continue
        reading = getattr(box.devices.drivers.get(device.id), "last_status", None)
        status = reading if isinstance(reading, PrinterStatus) else None
        out.append(
            PrinterSummary(
                id=device.id,
                name=device.name,
                state=device.state,
                reading=status.state if status else None,
                paper=status.paper if status else None,
                cover_open=status.cover_open if status else None,
                detail=device.detail,
                **{k: counts.get((device.id, k), 0) for k in ("queued", "printing", "failed", "uncertain")},
            )
        )
    return out


@get(
    "/api/v1/overview/public",
    summary="The box's name, its events and whether it is well (public: the front page before sign-in)",
    tags=TAGS,
)
async def public_overview(
    box: NamedDependency[Box], schedule: NamedDependency[ScheduleService]
) -> PublicOverview:
    health = box.health()
    return PublicOverview(
        name=box.config.name,
        device_id=box.config.device_id,
        events=await _events(box, schedule),
        status=health["status"],
        uptime_s=health["uptime_s"],
    )


@get(
    "/api/v1/overview",
    summary="The box at a glance: hub link, what the hub has not acknowledged, devices and printers",
    description="For signed-in staff (door, desk, organizer); a kiosk's token is refused. "
    "`hub.unacknowledged` counts this box's changes the hub has not confirmed it holds "
    "(all of them on a box with no hub configured). `catalog` names each event's catalog "
    "revision, when it was imported and how many attendees it holds.",
    tags=TAGS,
    opt=roles(*STAFF),
)
async def overview(
    box: NamedDependency[Box], schedule: NamedDependency[ScheduleService], reads: NamedDependency[ReadPool]
) -> Overview:
    # The printers read now (or within the kiosk's 3 s), sharing the kiosk's cache: a page open on
    # several phones does not ask a printer more often than one kiosk does.
    await box.kiosk.status()
    now = now_ms()
    health = box.health()
    devices = [
        DeviceSummary(
            id=d.id,
            domain=d.domain,
            kind=d.kind,
            name=d.name,
            gate=d.gate,
            state=d.state.state,
            detail=d.state.detail,
            since=d.state.since,
            scans=d.scans,
        )
        for d in devices_of(box.config, box.devices)
    ]
    return Overview(
        name=box.config.name,
        device_id=box.config.device_id,
        events=await _events(box, schedule),
        capabilities=[str(c) for c in box.config.capabilities],
        status=health["status"],
        uptime_s=health["uptime_s"],
        data_dir=str(box.data.path),
        hub=_hub(box, now),
        upstreams=[
            Upstream(
                url=c.url,
                peer=c.remote_peer,
                state=_link_state(c),
                last_error=_last_error(c),
                unacknowledged=sum(p.count for p in box.replica.acks.pending_all(c.remote_peer).values()),
            )
            for c in box.links.clients
            if c.remote_peer != HUB_PEER
        ],
        devices=devices,
        printers=_printers(box, devices),
        loops=[
            LoopHealth(
                name=t["name"], state=t["state"], failures=t["failures"], last_error=t.get("last_error")
            )
            for t in health["tasks"]
        ],
        at=now,
        catalog=await _catalogs(box, reads),
    )


ROUTES = [public_overview, overview]
