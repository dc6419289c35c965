"""The appliance's link to its hub: enrolment, and keeping the catalog current.

``enroll`` turns a one-time token (from the organizer's console) into a
provisioned data directory: device id, event, capabilities, the hub's
catalog key, the device credential (``secrets/hub-credential``) and a
certificate of the walk-in badge key; then it downloads and imports the
catalog, so the box can check people in before it is even started.

While serving, :class:`CatalogPuller` asks the hub for the delta since the
revision held here, every ``interval`` seconds, and imports it through the
app's own SQLite writer.  Offline, it keeps failing quietly with backoff
(a :class:`~konferenco.lifecycle.Periodic` task: one warning per outage,
its health on ``/healthz``) and the box keeps working on what it has; back
online it catches up in one request.  Sync of the event documents is separate (``sync.client``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import msgspec

from appliance.catalog.importer import ImportReport, import_bundle
from appliance.catalog.roster import current_revision
from appliance.config import ApplianceConfig, DataDir
from konferenco.badges import b64, raw_public_key
from konferenco.catalog.csv_reader import Progress
from konferenco.lifecycle import Periodic, Supervised
from sync.permissions import Capability
from sync.records import DeviceKey
from sync.sqlite_writer import SQLiteWriter

log = logging.getLogger(__name__)


class HubLinkError(RuntimeError):
    """The hub refused or could not be reached; the message says which and why."""


class _Grant(msgspec.Struct, frozen=True, kw_only=True):
    device_id: str
    event_id: str
    capabilities: list[Capability]
    credential: str
    catalog_keys: list[str]
    certificate: DeviceKey


def _refusal(response: httpx.Response) -> str:
    try:
        body = response.json()
        return str(body.get("message") or body)
    except ValueError:
        return response.text[:200] or response.reason_phrase


async def enroll(data: DataDir, hub_url: str, token: str, name: str = "") -> ApplianceConfig:
    """Provision DATA from the hub (see the module docstring); refuses an existing appliance."""
    if data.exists():
        raise HubLinkError(f"{data.path} holds an appliance already; enrol into a new directory")
    hub_url = hub_url.rstrip("/")
    data.path.mkdir(parents=True, exist_ok=True)
    data.secrets.mkdir(mode=0o700, exist_ok=True)
    public = b64(raw_public_key(data.device_key().public_key()))
    async with httpx.AsyncClient(timeout=30) as http:
        try:
            response = await http.post(
                f"{hub_url}/api/v1/enrol",
                json={"token": token.strip(), "badge_public_key": public, "name": name},
            )
        except httpx.HTTPError as exc:
            raise HubLinkError(f"cannot reach the hub at {hub_url}: {exc}") from None
    if response.status_code != 201:
        raise HubLinkError(f"the hub refused the enrolment: {_refusal(response)}")
    grant = msgspec.json.decode(response.content, type=_Grant)
    data.save_hub_credential(grant.credential)
    config = data.init([grant.event_id], device_id=grant.device_id, catalog_keys=grant.catalog_keys)
    config.capabilities = list(grant.capabilities)
    config.hub_url = hub_url
    data.save(config)
    data.save_device_certificate(grant.event_id, grant.certificate)
    return config


@dataclass
class CatalogFetch:
    revision: int
    report: ImportReport | None  # None: nothing new


async def fetch_catalog(
    data: DataDir,
    writer: SQLiteWriter,
    event_id: str,
    *,
    http: httpx.AsyncClient | None = None,
    progress: Progress | None = None,
) -> CatalogFetch:
    """Bring the event's catalog up to the hub's revision (delta if possible, else a snapshot)."""
    config = data.load()
    credential = data.hub_credential()
    if config.hub_url is None or credential is None:
        raise HubLinkError("this appliance is not enrolled with a hub (run 'konferenco appliance enroll')")
    conn = data.reader()
    try:
        held = current_revision(conn, event_id)
    finally:
        conn.close()
    own = http is None
    client = http or httpx.AsyncClient(timeout=120)
    try:
        url = f"{config.hub_url}/api/v1/events/{event_id}/catalog"
        headers = {"Authorization": f"Bearer {credential}"}
        response = await client.get(url, params={"since": held} if held else None, headers=headers)
        if response.status_code == 409:  # the hub lost history we hold (restored backup): start over
            response = await client.get(url, headers=headers)
        revision = int(response.headers.get("X-Catalog-Revision", "0"))
        if response.status_code == 304 or (held is not None and revision == held):
            return CatalogFetch(held or revision, None)
        if response.status_code != 200:
            raise HubLinkError(f"the hub refused the catalog: {_refusal(response)}")
        raw = response.content
        del response
    except httpx.HTTPError as exc:
        raise HubLinkError(f"cannot reach the hub at {config.hub_url}: {exc}") from None
    finally:
        if own:
            await client.aclose()
    return CatalogFetch(revision, await import_bundle(data, writer, raw, event_id, progress))


class CatalogPuller:
    """Polls the hub for catalog deltas while the appliance serves (module docstring)."""

    def __init__(
        self,
        data: DataDir,
        writer: SQLiteWriter,
        events: list[str],
        *,
        interval: float = 30.0,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.data = data
        self.writer = writer
        self.events = events
        self.interval = float(os.environ.get("KONFERENCO_CATALOG_INTERVAL", interval))
        self.on_change = on_change
        # After a failure: twice the interval, doubling up to 16 times it (at most 10 minutes).
        self.task = Periodic(
            "catalog pull",
            self.pull_once,
            self.interval,
            backoff=(min(2 * self.interval, 600.0), min(16 * self.interval, 600.0)),
            expected=(HubLinkError,),
            logger=log,
        )

    @property
    def tasks(self) -> list[Supervised]:
        return [self.task]

    @property
    def last_error(self) -> str | None:
        """Why the last pull failed, while the puller is backing off."""
        return self.task.last_error if self.task.failures else None

    def start(self) -> None:
        self.task.start()

    async def stop(self) -> None:
        await self.task.stop()

    async def pull_once(self) -> bool:
        changed = False
        async with httpx.AsyncClient(timeout=120) as http:
            for event in self.events:
                fetched = await fetch_catalog(self.data, self.writer, event, http=http)
                if fetched.report is not None:
                    changed = True
                    log.info("catalog of %s updated to revision %d from the hub", event, fetched.revision)
        if changed and self.on_change is not None:
            self.on_change()  # e.g. the check-in catalog cache: the door sees the change at once
        return changed
