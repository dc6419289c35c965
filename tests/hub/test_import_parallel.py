"""Big imports, signed and folded in worker processes: the same badges, the same rules, the same report.

The thresholds are lowered (:data:`CHUNK_ROWS`, :data:`POOL_MIN_ROWS`) so a file of a few thousand
rows takes the path a 180,000-row file takes — several chunks, two processes — in a second.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped, unused-ignore]
import pytest

from hub.catalog import import_pool
from hub.catalog.distribution import build_bundle
from hub.catalog.events import add_ticket_type, create_event
from hub.catalog.import_pool import ImportPool
from hub.catalog.keys import signer
from hub.catalog.roster import ImportRefused, ImportResult, import_attendees
from hub.catalog.search import search
from hub.tenants.accounts import Principal
from konferenco.badges import BadgePayload, KeyRing, TrustedKey, unb64, verify
from konferenco.catalog.bundle import Attendee, decode_bundle
from tests.helpers import HubProcess, until, wait_for
from tests.hub.api_support import new_event, new_org
from tests.hub.services import Hub, hub_services, organization

ROWS = 2_500


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[ImportPool]:
    """Two worker processes, and chunks of 400 rows from 1,000 rows on."""
    monkeypatch.setattr(import_pool, "CHUNK_ROWS", 400)
    monkeypatch.setattr(import_pool, "POOL_MIN_ROWS", 1_000)
    workers = ImportPool(processes=2)
    try:
        yield workers
    finally:
        workers.close()


def roster(count: int, prefix: str = "T") -> bytes:
    """A ticket shop's export; names with accents, CJK and ligatures, so folding has work to do."""
    names = ["Zoë Ångström-Łukasiewicz", "田中 太郎", "Núñez Øster", "Ada Lovelace", "ﬁona Straße"]
    lines = ["external_ref,name,company,email,ticket_type"]
    for n in range(count):
        ticket = "general" if n % 3 else "vip"
        lines.append(f"{prefix}-{n:05d},{names[n % len(names)]} {n},Firm {n % 7},p{n}@example.org,{ticket}")
    return ("\n".join(lines) + "\n").encode()


async def _event(hub: Hub, who: Principal) -> str:
    async with hub.db.tenant(who.org_id) as conn:
        event = await create_event(conn, hub.sealer, who, "Summit", timezone="Europe/Berlin")
        await add_ticket_type(conn, who, event, "vip", "VIP")
    return event


async def _import(hub: Hub, who: Principal, event: str, data: bytes, pool: ImportPool) -> ImportResult:
    async with hub.db.tenant(who.org_id) as conn:
        return await import_attendees(conn, hub.sealer, who, event, data, pool=pool)


async def _catalog(hub: Hub, who: Principal, event: str) -> tuple[list[Attendee], KeyRing]:
    """What an appliance receives: the attendees and the keys to check their badges with."""
    async with hub.db.tenant(who.org_id) as conn:
        bundle, _ = await build_bundle(conn, hub.secrets.catalog_key, event)
    catalog = decode_bundle(bundle).catalog
    ring = KeyRing([TrustedKey(k.kid, unb64(k.public_key), event, 0, 0, "event") for k in catalog.keys])
    return catalog.attendees, ring


async def test_every_badge_of_a_parallel_import_verifies_with_the_event_key(
    hub_db: str, tmp_path: Path, pool: ImportPool, caplog: pytest.LogCaptureFixture
) -> None:
    async with hub_services(hub_db, tmp_path / "s") as hub:
        acme = await organization(hub, "acme", tier="enterprise")
        event = await _event(hub, acme)
        with caplog.at_level(logging.WARNING, logger=import_pool.__name__):
            result = await _import(hub, acme, event, roster(ROWS), pool)
        assert (result.added, result.updated, result.unchanged) == (ROWS, 0, 0)
        assert len(pool.pids) == 2 and not caplog.records  # signed by the two processes, none died
        attendees, ring = await _catalog(hub, acme, event)
        assert len(attendees) == ROWS
        async with hub.db.tenant(acme.org_id) as conn:
            current = await signer(conn, hub.sealer, event)
        for a in attendees:
            badge = verify(a.badge_code, ring, event)
            assert (badge.payload.attendee, badge.payload.ticket_type) == (a.id, a.ticket_type_id)
            assert badge.kid == current.kid
            # Byte for byte what this process signs with the same key: the same code format.
            assert a.badge_code == current.sign(BadgePayload(event, a.id, a.ticket_type_id))


async def test_search_finds_people_a_parallel_import_folded(
    hub_db: str, tmp_path: Path, pool: ImportPool
) -> None:
    async with hub_services(hub_db, tmp_path / "s") as hub:
        acme = await organization(hub, "acme", tier="enterprise")
        event = await _event(hub, acme)
        await _import(hub, acme, event, roster(ROWS), pool)
        async with hub.db.tenant(acme.org_id) as conn:
            last = await search(conn, event, f"lukasiewicz {ROWS - 5}")  # the last chunk's rows
            cjk = await search(conn, event, "太郎 2496")
            ligature = await search(conn, event, "fiona strasse 2499")
        assert [r["external_ref"] for r in last] == [f"T-{ROWS - 5:05d}"]
        assert [r["external_ref"] for r in cjk] == ["T-02496"]
        assert [r["external_ref"] for r in ligature] == ["T-02499"]


async def test_reimporting_a_big_file_changes_nothing_and_keeps_every_code(
    hub_db: str, tmp_path: Path, pool: ImportPool
) -> None:
    async with hub_services(hub_db, tmp_path / "s") as hub:
        acme = await organization(hub, "acme", tier="enterprise")
        event = await _event(hub, acme)
        first = await _import(hub, acme, event, roster(ROWS), pool)
        before, _ = await _catalog(hub, acme, event)
        again = await _import(hub, acme, event, roster(ROWS), pool)
        assert (again.added, again.updated, again.unchanged) == (0, 0, ROWS)
        assert again.revision == first.revision  # appliances have nothing to download
        # A renamed person in a later chunk is one update; everyone keeps the code on their badge.
        renamed = roster(ROWS).replace(b"Ada Lovelace 2003,", b"Ada King 2003,")
        third = await _import(hub, acme, event, renamed, pool)
        assert (third.added, third.updated, third.revision) == (0, 1, first.revision + 1)
        after, _ = await _catalog(hub, acme, event)
        assert {a.id: a.badge_code for a in after} == {a.id: a.badge_code for a in before}


async def test_a_big_file_with_bad_rows_is_refused_whole_with_their_lines(
    hub_db: str, tmp_path: Path, pool: ImportPool
) -> None:
    async with hub_services(hub_db, tmp_path / "s") as hub:
        acme = await organization(hub, "acme", tier="enterprise")
        event = await _event(hub, acme)
        lines = roster(ROWS).decode().splitlines()
        lines[1500] = "T-bad-1,,Nameless,x@example.org,general"
        lines[2400] = "T-bad-2,Bob,,bob@example.org,platinum"
        with pytest.raises(ImportRefused) as refused:
            await _import(hub, acme, event, ("\n".join(lines) + "\n").encode(), pool)
        problems = refused.value.details["problems"]
        assert [(p["line"], p["field"]) for p in problems] == [(1501, "name"), (2401, "ticket_type")]
        attendees, _ = await _catalog(hub, acme, event)
        assert attendees == []


async def test_a_small_import_starts_no_worker_process(hub_db: str, tmp_path: Path) -> None:
    workers = ImportPool(processes=2)  # the real thresholds
    try:
        async with hub_services(hub_db, tmp_path / "s") as hub:
            acme = await organization(hub, "acme")
            event = await _event(hub, acme)
            result = await _import(hub, acme, event, roster(50), workers)
            assert result.added == 50
            assert workers.pids == []
            attendees, ring = await _catalog(hub, acme, event)
            assert all(verify(a.badge_code, ring, event).payload.attendee == a.id for a in attendees)
    finally:
        workers.close()


async def test_a_worker_process_that_died_does_not_fail_the_import(
    hub_db: str, tmp_path: Path, pool: ImportPool
) -> None:
    pool.warm()
    victim = wait_for(lambda: pool.pids if len(pool.pids) == 2 else None, what="two workers")[0]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: not psutil.pid_exists(victim) or psutil.Process(victim).status() == "zombie")
    async with hub_services(hub_db, tmp_path / "s") as hub:
        acme = await organization(hub, "acme", tier="enterprise")
        event = await _event(hub, acme)
        result = await _import(hub, acme, event, roster(ROWS), pool)
        assert result.added == ROWS
        attendees, ring = await _catalog(hub, acme, event)
        assert all(verify(a.badge_code, ring, event).payload.attendee == a.id for a in attendees)
        # The next big import has its processes again.
        other = await _event(hub, acme)
        assert (await _import(hub, acme, other, roster(ROWS, "U"), pool)).added == ROWS
        assert len(pool.pids) == 2 and victim not in pool.pids


async def test_idle_worker_processes_stop_and_the_next_big_import_starts_them_again(
    hub_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_pool, "CHUNK_ROWS", 400)
    monkeypatch.setattr(import_pool, "POOL_MIN_ROWS", 1_000)
    workers = ImportPool(processes=2, idle_s=0.3)
    try:
        async with hub_services(hub_db, tmp_path / "s") as hub:
            acme = await organization(hub, "acme", tier="enterprise")
            event = await _event(hub, acme)
            await _import(hub, acme, event, roster(ROWS), workers)
            first = workers.pids
            assert len(first) == 2
            await until(lambda: not workers.pids, what="idle processes to stop")
            await until(lambda: not any(psutil.pid_exists(pid) for pid in first), what="their exit")
            other = await _event(hub, acme)
            assert (await _import(hub, acme, other, roster(ROWS, "U"), workers)).added == ROWS
            assert len(workers.pids) == 2
    finally:
        workers.close()


def test_stopping_the_hub_stops_its_import_processes(hub_db: str, tmp_path: Path) -> None:
    size = import_pool.POOL_MIN_ROWS + 1_000  # the real thresholds: the hub's own pool starts
    with HubProcess(hub_db, tmp_path / "secrets") as hub, httpx.Client(base_url=hub.url, timeout=60) as http:
        org = new_org(hub_db, http, tier="enterprise")
        event = new_event(http, org, roster=None)
        vip = http.post(
            f"/api/v1/events/{event}/ticket-types", json={"id": "vip", "name": "VIP"}, headers=org.auth
        )
        assert vip.status_code == 201, vip.text
        imported = http.post(
            f"/api/v1/events/{event}/attendees/import", content=roster(size), headers=org.auth
        )
        assert imported.status_code == 200, imported.text
        assert imported.json()["added"] == size
        assert hub.proc is not None
        children = psutil.Process(hub.proc.pid).children(recursive=True)  # one uvicorn worker: no others
        workers = [p for p in children if "spawn_main" in " ".join(p.cmdline())]
        assert len(workers) == 2  # the hub worker's import processes (beside multiprocessing's tracker)
        os.kill(hub.proc.pid, signal.SIGTERM)  # the hub alone, as a service manager stops it
        assert hub.proc.wait(timeout=30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
    deadline = time.monotonic() + 10
    while any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in children):
        assert time.monotonic() < deadline, "an import process outlived the hub"
        time.sleep(0.05)
    log = hub.log.read_text()
    assert "Application shutdown complete" in log and "Traceback" not in log
