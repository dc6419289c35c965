"""The appliance's composition root: every part built in one place, in order, and stopped in reverse.

The order is the data's path through the box::

    store → sync → check-in service → print queue → door (with its print policy)
          → devices (with a sink factory) → signs → links to the hub and peers

Each part is handed what it needs when it is built and reaches for nothing
else: no part looks another up in a shared state object, and nothing is
wired "later".  That is what closes the window the old lifespan had, in
which a scanner could admit someone before the print queue existed and the
badge was silently not printed.  Stopping runs the same list backwards
(``AsyncExitStack``), so the links stop before the door, the door before
the store, and the store closes last.

The HTTP app (``appliance/app.py``) starts a box in its lifespan and hands
its parts to handlers through Litestar's dependency injection; the CLI and
tests can start one without HTTP at all.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass, field
from typing import Any

from appliance.checkin.door import Door, PrintPolicy
from appliance.checkin.service import CheckinService
from appliance.config import ApplianceConfig, DataDir, DeviceConfig, EventScope
from appliance.desk.service import Desk, tag_owner
from appliance.devices.manager import DeviceManager
from appliance.grassroots.assembly import grassroots_part
from appliance.grassroots.service import Grassroots
from appliance.health import health_report
from appliance.hub_link import CatalogPuller
from appliance.kiosk.service import KioskService
from appliance.live import LiveFeed
from appliance.peer_check import PeerChecks
from appliance.peers import (
    REPORT_EVERY_S,
    BoxTrust,
    CertifiedCapabilities,
    PeerAuthenticator,
    RefusalReporter,
    box_prover,
    publish_certificates,
)
from appliance.printing.badges import BadgeRenderer
from appliance.printing.queue import PrintQueue
from appliance.read_pool import ReadPool
from appliance.schedule.service import ScheduleService
from appliance.schedule.standalone import ServingLock
from appliance.signage_feed import SignageFeed
from appliance.staff.service import StaffDirectory, StaffTokens
from appliance.storage import open_replica
from drivers.base import ScanEvent
from konferenco.lifecycle import Periodic
from konferenco.types import now_ms
from sync.client import SyncClient
from sync.names import DocName
from sync.permissions import Capability
from sync.replica import Replica
from sync.service import SyncService
from sync.sqlite_store import SQLiteUpdateStore
from sync.sqlite_writer import SQLiteWriter, Synchronous

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Upstream:
    """A peer this appliance connects to: the hub or another appliance."""

    url: str
    #: Empty: the box authenticates with its device certificate (a LAN peer of the same event).
    token: str
    peer: str = "hub"
    #: The hub this box enrolled with: it must prove it holds a pinned hub key, not merely a device key.
    hub: bool = False


@dataclass
class Links:
    """What connects this box to others: sync clients and, when enrolled, the catalog puller."""

    clients: list[SyncClient] = field(default_factory=list)
    puller: CatalogPuller | None = None


class Box:
    """One appliance, assembled.  Attributes are set by :meth:`start`, in the order they are built."""

    config: ApplianceConfig
    replica: Replica
    sync: SyncService
    writer: SQLiteWriter
    conn: sqlite3.Connection  # the event loop's read connection (point lookups)
    reads: ReadPool  # aiosqlite readers for the heavier queries (search, figures)
    checkin: CheckinService
    schedule: ScheduleService
    grassroots: Grassroots
    staff: StaffDirectory
    tokens: StaffTokens
    desk: Desk
    prints: PrintQueue
    door: Door
    devices: DeviceManager
    feeds: list[SignageFeed]
    links: Links
    kiosk: KioskService
    badges: BadgeRenderer

    def __init__(
        self, data: DataDir, *, upstreams: list[Upstream] | None = None, synchronous: Synchronous = "FULL"
    ) -> None:
        self.data = data
        self.config = data.load()
        self.events = EventScope(tuple(self.config.events))
        self.upstreams = list(upstreams or [])
        self.started_at = now_ms()
        self._stack = AsyncExitStack()
        # Built now, opened in start(): the HTTP app routes sync sessions to this service.
        # Peers prove themselves both ways (sync/peer_proof.py): this box's certificate for them,
        # what it knows offline to check theirs, and the hook that takes their certificates.
        self.trust = BoxTrust(lambda: self.conn, self.config)
        # What a device may write is checked on write (ours) and in the projection (theirs).
        self.replica = open_replica(
            data,
            synchronous,
            capabilities=frozenset(self.config.capabilities),
            capabilities_of=CertifiedCapabilities(data),
        )
        self.prover = box_prover(data, self.config)
        self.peer_auth = PeerAuthenticator(data.signer(), self.trust)
        self.peer_checks = PeerChecks(self.trust)
        self.links = Links()  # filled in by start(): /healthz may be asked before
        self.sync = SyncService(self.replica, self.peer_auth, events=lambda: set(self.config.events))
        # Notifications only (print progress, scans), for pages; built first, so no event is missed.
        self.live = LiveFeed()

    async def start(self) -> None:
        """Build and start every part; if one fails, what was started is stopped again."""
        try:
            await self._start(self._stack)
        except BaseException:
            await self._stack.aclose()
            raise

    async def stop(self) -> None:
        await self._stack.aclose()

    def health(self) -> dict[str, Any]:
        """What ``/healthz`` answers: this box, and how each of its background loops is doing."""
        report = health_report(
            device_id=self.config.device_id,
            events=self.config.events,
            documents=len(self.replica.loaded()),
            started_at=self.started_at,
            loops=[self.links.puller, *self.links.clients, *self.feeds],
        )
        report["sync"] = self.catch_up()
        report["peers"] = self.peer_report()
        return report

    def _scanned(self, answer: Any, event: str) -> None:
        self.live.publish(
            "scan",
            {
                "scan_id": answer.scan_id,
                "result": answer.result,
                "gate": answer.gate,
                "attendee_id": answer.attendee.id if answer.attendee else None,
                "at": answer.at,
                "event": event,
            },
        )

    def _tapped(self, device: DeviceConfig, read: ScanEvent) -> None:
        """A help-desk reader read a tag or code: tell the desk whose it is (nothing is recorded)."""
        event = self.checkin.scope.resolve(None)
        owner = tag_owner(self.conn, event, read.nfc_uid) if read.nfc_uid else None
        self.live.publish(
            "tap",
            {
                "device": device.id,
                "nfc_uid": read.nfc_uid or None,
                "code": read.code or None,
                "attendee_id": owner,
                "at": read.at,
                "event": event,
            },
        )

    def peer_report(self) -> dict[str, Any]:
        """Upstreams that failed to prove who they are, and peers whose proofs this box refused."""
        clients = self.links.clients
        return {
            "untrusted_upstreams": [asdict(c.untrusted) for c in clients if c.untrusted is not None],
            "refused_peers": self.peer_auth.report(),
        }

    def catch_up(self) -> dict[str, Any]:
        """How far a peer's catch-up is: changes received but not yet projected, and the writer's queue."""
        pending = self.replica.catch_up()
        foreground, background = self.writer.backlog()
        return {
            "catching_up": sum(pending.values()),
            "documents_catching_up": len(pending),
            "writer_backlog": {"foreground": foreground, "background": background},
            "documents_loaded": len(self.replica.loaded()),
            "documents_unloaded": self.replica.unloaded,
        }

    async def _start(self, stack: AsyncExitStack) -> None:
        data, config = self.data, self.config
        # 0. this box alone writes here from now on (a command-line schedule import waits or goes via HTTP)
        lock = ServingLock(data)
        await lock.acquire(f"appliance {config.device_id}")
        stack.callback(lock.release)
        # 1. the store: every document this box writes or reads, and the read side of SQLite
        await self.replica.start()
        stack.push_async_callback(self.replica.close)
        for event in config.events:
            await self.replica.open(DocName.control(event))
            await self.replica.open(self.replica.device_log(event, config.device_id))
        store = self.replica.store
        assert isinstance(store, SQLiteUpdateStore)
        self.writer = store.writer
        self.conn = data.reader()
        stack.callback(self.conn.close)
        self.reads = ReadPool(data.database)
        await self.reads.open()
        stack.push_async_callback(self.reads.close)
        # 2. sync: peers that connect to us (their sessions end before the store closes)
        stack.push_async_callback(self.sync.shutdown)
        # 3. the check-in service, and the people who use it
        self.checkin = CheckinService(self.replica, self.conn, config.events, config.device_id)
        self.schedule = ScheduleService(
            self.replica, self.conn, config.events, organizer=Capability.ORGANIZER in config.capabilities
        )
        stack.callback(self.schedule.close)
        # grassroots proposals and decisions; hosts' kiosk edits laid over every schedule read
        self.grassroots = grassroots_part(
            stack, self.replica, self.conn, self.checkin, self.schedule, config, lambda: self.devices.signs()
        )
        self.staff = StaffDirectory(self.conn, self.writer)
        self.tokens = data.staff_tokens()
        self.desk = Desk(
            data,
            self.replica,
            config.device_id,
            organizer=Capability.ORGANIZER in config.capabilities,
            keys_changed=self.checkin.catalog_cache.invalidate,
        )
        if await publish_certificates(data, config, self.replica, self.conn):
            self.checkin.catalog_cache.invalidate()
        # 4. the print queue, with the printer table the device manager fills; one badge drawing
        # for the printer and the kiosk's preview
        self.badges = BadgeRenderer(data, config)
        printers: dict[str, Any] = {}
        self.prints = PrintQueue(
            self.writer,
            self.conn,
            self.replica,
            config.device_id,
            printers=printers,
            render=self.badges.render,
            on_change=lambda job: self.live.publish("print", job),
        )
        # 5. the door, with its print policy
        self.door = Door(
            self.checkin,
            PrintPolicy(self.prints, config.auto_print),
            on_scan=self._scanned,
            on_tap=self._tapped,
        )
        # 6. devices: outputs first, then the scanners and readers that feed the door
        self.devices = DeviceManager(config, self.door.device_sink, printers)
        await self.devices.start()
        stack.push_async_callback(self.devices.stop)
        await self.prints.start()  # after the printers: jobs a crash left are settled and sent at once
        stack.push_async_callback(self.prints.stop)
        # the touch kiosk: its rules over the door, the desk and the print queue
        self.kiosk = KioskService(
            data=data,
            config=config,
            writer=self.writer,
            conn=self.conn,
            reads=self.reads,
            tokens=self.tokens,
            checkin=self.checkin,
            door=self.door,
            desk=self.desk,
            prints=self.prints,
            devices=self.devices,
            schedule=self.schedule,
            renderer=self.badges,
            events=self.events,
        )
        await self.kiosk.start()
        # 7. signs: each started publisher gets the schedule and capacity feed
        self.feeds = []
        for sign in self.devices.signs():
            feed = SignageFeed(sign, self.replica, self.conn, config.events[0], schedule=self.schedule)
            feed.start()
            stack.push_async_callback(feed.stop)
            self.feeds.append(feed)
        # 8. links: the hub (when enrolled) and any configured upstream peers
        self.links = Links()
        upstreams = list(self.upstreams)
        credential = data.hub_credential()
        if config.hub_url and credential:  # enrolled: the hub is an upstream, and the catalog's source
            upstreams.append(Upstream(config.hub_url, credential, "hub", hub=True))
            puller = CatalogPuller(
                data, self.writer, config.events, on_change=self.checkin.catalog_cache.invalidate
            )
            puller.start()
            stack.push_async_callback(puller.stop)
            self.links.puller = puller
        identity = data.identity(config)
        # Refused peers go into this box's log, for the organizer's console (appliance/peers.py).
        self.reporter = RefusalReporter(config, self.replica, self.peer_auth)
        reports = Periodic("peer refusals to the log", self.reporter.report, REPORT_EVERY_S, logger=log)
        reports.start()
        stack.push_async_callback(reports.stop)
        for upstream in upstreams:
            client = SyncClient(
                self.replica,
                upstream.url,
                upstream.token,
                identity,
                remote_peer=upstream.peer,
                trust=self.trust,
                expect_hub=upstream.hub,
                prover=self.prover,
            )
            client.start()
            stack.push_async_callback(client.stop)
            self.links.clients.append(client)
            self.reporter.watch(client)
        log.info("appliance %s serving events %s", config.device_id, ", ".join(config.events))
