"""Setting up a new box from a hub: check, enrol, download the catalog (``appliance enroll``).

An enrolment token works once.  Everything that can be checked before it
is spent is checked first (the data directory is new, the port the box is
to serve on is free); then the hub provisions the box, and its event's
catalog is downloaded so the door works from the first minute.
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.config import ApplianceConfig, DataDir
from appliance.hub_link import HubLinkError, enroll, fetch_catalog
from appliance.ports import ensure_port_free
from appliance.storage import open_replica
from konferenco.catalog.bundle import BundleError
from sync.sqlite_store import SQLiteUpdateStore


class CatalogDownloadFailed(RuntimeError):
    """Enrolled, but the first catalog download failed (``appliance serve`` keeps trying)."""

    def __init__(self, config: ApplianceConfig, reason: str) -> None:
        super().__init__(reason)
        self.config = config


@dataclass(frozen=True)
class Enrolled:
    config: ApplianceConfig
    revision: int
    attendees: int


async def download_catalog(data: DataDir, config: ApplianceConfig) -> tuple[int, int]:
    """Import the first event's catalog from the hub; its revision and how many attendees came."""
    store = open_replica(data).store
    assert isinstance(store, SQLiteUpdateStore)
    await store.open()
    try:
        fetched = await fetch_catalog(data, store.writer, config.events[0])
    finally:
        await store.close()
    return fetched.revision, fetched.report.rows if fetched.report else 0


async def enrol_box(
    data: DataDir, hub_url: str, token: str, name: str = "", *, serve_at: tuple[str, int] | None = None
) -> Enrolled:
    """Enrol DATA with the hub and download its catalog.

    SERVE_AT (host, port): where the box will serve; taken, it raises
    :class:`appliance.ports.PortTaken` before the token is sent.  A failed
    enrolment raises :class:`HubLinkError`; a failed download after it,
    :class:`CatalogDownloadFailed`.
    """
    if data.exists():
        raise HubLinkError(f"{data.path} holds an appliance already; enrol into a new directory")
    if serve_at is not None:
        ensure_port_free(*serve_at)
    config = await enroll(data, hub_url, token, name)
    try:
        revision, rows = await download_catalog(data, config)
    except (HubLinkError, BundleError) as exc:
        raise CatalogDownloadFailed(config, str(exc)) from None
    return Enrolled(config, revision, rows)
