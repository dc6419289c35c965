"""A dead box replaced from its backup loses no acknowledged scan (issue #16 part 4, the acceptance test).

Real processes throughout: a hub, box A enrolled and connected to it, and
``konferenco appliance backup run`` beside A replicating to a file replica.
Door lanes storm A with scans and count every one A answered 200, by nonce
(as ``test_checkin_crash.py`` does).  In the middle of the storm A **and** its
backup runner are killed with SIGKILL (a dead box loses both; Litestream dies
with its runner).  Box B is restored from the replica into a new directory
(``konferenco appliance restore``) and started against the hub.  Once it has
caught up:

* every scan A acknowledged is on B (its own restored log plus what the hub
  sent back), and no nonce is recorded twice, on B or at the hub.  Both
  copies of a scan (Litestream's replica, the hub's) are made asynchronously
  after the door's answer, which waits only for A's own disk, so the scans of
  the last moment before the kill may be on A's dead disk only: those are
  counted, and must all be younger than :data:`RPO_WINDOW_S`;
* the scans only the hub had — written after the replica's last sync — are
  counted: that is the replica's RPO in scans (printed, and recorded as a
  test property);
* B has A's device id, a Yjs client id A never used, and admits a new scan.

The same with no hub: A and its LAN peer P (syncing from A) are enrolled,
then the hub goes away before the storm; B, restored from A's replica,
catches up from P alone.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.appliance.test_backup import BackupProcess, status, wait_synced
from tests.e2e.hub_setup import create_event, create_organization, enrol, fresh_database, sign_in
from tests.e2e.test_checkin_crash import logged_scans
from tests.helpers import ApplianceProcess, Box, HubProcess, konferenco, wait_for

LANES = 6
STORM_S = 4.0
ATTENDEES = 300
#: Seconds before the kill within which an acknowledged scan may be on neither the replica nor the
#: hub/peer: both copies are asynchronous (Litestream's 1 s sync interval, the sync's ~1 s), and a
#: scan is acknowledged once it is on the box's own disk.  Older than this, nothing may be missing.
RPO_WINDOW_S = 3.0


@dataclass
class Tally:
    """Every scan A acknowledged (nonce -> its answer), and every surprise."""

    acked: dict[str, dict[str, Any]] = field(default_factory=dict)
    at: dict[str, float] = field(default_factory=dict)  # nonce -> wall time of the 200
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def lane(url: str, token: str, codes: list[str], number: int, stop: threading.Event, tally: Tally) -> None:
    """One door lane scanning at gate ``main`` until stopped; a lost connection ends the scan unanswered."""
    rng = random.Random(number)
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=5) as http:
        i = 0
        while not stop.is_set():
            nonce = f"lane{number}-{i}"
            body = {
                "code": rng.choice(codes),
                "nonce": nonce,
                "gate": "main",
                "direction": rng.choice(["entry", "entry", "exit"]),
                "device_time": int(time.time() * 1000),
            }
            i += 1
            try:
                response = http.post(f"{url}/api/v1/scans", json=body)
            except httpx.TransportError:  # A was killed: this scan was never acknowledged
                time.sleep(0.05)
                continue
            with tally.lock:
                if response.status_code == 200:
                    tally.acked[nonce] = response.json()
                    tally.at[nonce] = time.time()
                else:
                    tally.unexpected.append(f"{response.status_code} {response.text[:200]}")


def storm_then_kill(box: Box, runner: BackupProcess, codes: list[str]) -> tuple[Tally, float]:
    """Door lanes scan BOX for STORM_S, then the box dies: its appliance and its backup, at once.

    Returns every answer counted and the moment of the kill.
    """
    stop, tally = threading.Event(), Tally()
    with ThreadPoolExecutor(LANES) as pool:
        lanes = [pool.submit(lane, box.process.url, box.token, codes, n, stop, tally) for n in range(LANES)]
        try:
            time.sleep(STORM_S)
            killed_at = time.time()
            box.process.kill()
            runner.kill()
        finally:
            stop.set()
        for done in lanes:
            done.result()
    return tally, killed_at


def settled(pair: Any, what: str, timeout: float = 90) -> None:
    """Wait until PAIR() gives two equal values, and again a second later (nothing more arriving)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left, right = pair()
        if left == right:
            time.sleep(1.0)
            left, right = pair()
            if left == right:
                return
        time.sleep(0.5)
    raise TimeoutError(f"timed out waiting for {what}: {pair()}")


def split_lost(acked: dict[str, float], present: set[str], killed_at: float) -> tuple[list[str], list[str]]:
    """Acknowledged scans missing from PRESENT: (older than the RPO window, inside it)."""
    lost = [n for n in acked if n not in present]
    return [n for n in lost if killed_at - acked[n] > RPO_WINDOW_S], [
        n for n in lost if killed_at - acked[n] <= RPO_WINDOW_S
    ]


def checkin_nonces(data: Path, device_id: str) -> list[str]:
    with sqlite3.connect(f"file:{data / 'appliance.db'}?mode=ro", uri=True) as conn:
        return [n for (n,) in conn.execute("SELECT nonce FROM checkin WHERE device_id = ?", (device_id,))]


def client_ids(data: Path) -> set[tuple[str, int]]:
    """(document, Yjs client id) of every update this data directory's processes authored."""
    with sqlite3.connect(f"file:{data / 'appliance.db'}?mode=ro", uri=True) as conn:
        return {(d, c) for d, c in conn.execute("SELECT DISTINCT doc, client_id FROM sync_authored")}


@dataclass
class Outcome:
    device_a: str
    device_b: str
    acked: dict[str, dict[str, Any]]
    acked_at: dict[str, float]
    killed_at: float
    on_dead_disk: set[str]  # nonces on A's own (dead) disk: what A acknowledged is there
    unexpected: list[str]
    restored: list[str]  # nonces in B's database right after the restore
    on_b: list[str]  # nonces on B once it caught up (checkin rows)
    logged_b: dict[str, str]  # scan id -> nonce in B's copy of A's device log
    hub_scans: int
    clients_a: set[int]
    clients_b_new: set[int]
    new_scan: dict[str, Any]
    replica_lag: dict[str, Any]
    catch_up_s: float


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    root = tmp_path_factory.mktemp("restore")
    replica = f"file://{root / 'replica'}"
    with fresh_database() as database:
        create_organization(database)
        hub = HubProcess(database, root / "secrets")
        runner: BackupProcess | None = None
        a: Box | None = None
        b: ApplianceProcess | None = None
        try:
            hub.start()
            organizer = create_event(sign_in(hub.url), attendees=ATTENDEES)
            a = enrol(organizer, root / "A", "A")
            a.process.start()
            wait_for(lambda: organizer.devices()[a.device_id]["connected"], what="A connected to the hub")
            codes = [badge.code for badge in organizer.badges()]
            spare, codes = codes[-1], codes[:-1]  # never scanned at A: B admits it at the end

            runner = BackupProcess(a.data, replica).start()
            wait_synced(lambda: status(a.data, replica)[1])

            tally, killed_at = storm_then_kill(a, runner, codes)
            lag = status(a.data, replica)[1]  # the dead box's disk against its replica: the RPO

            new = root / "B"
            restored = konferenco("appliance", "restore", "--from", replica, "--data", str(new))
            assert "restored appliance" in restored.stdout
            at_restore = checkin_nonces(new, a.device_id)
            clients_restored = client_ids(new)

            b = ApplianceProcess(new)
            started = time.monotonic()
            b.start()
            device_b = httpx.get(f"{b.url}/healthz", timeout=10).json()["device_id"]
            acked = dict(tally.acked)
            old = {n for n, at in tally.at.items() if killed_at - at > RPO_WINDOW_S}
            wait_for(
                lambda: old <= set(checkin_nonces(new, a.device_id)),
                timeout=90, interval=0.5, what="B to catch up with the older acknowledged scans",
            )  # fmt: skip
            catch_up_s = time.monotonic() - started
            wait_for(lambda: organizer.devices()[a.device_id]["connected"], what="B connected as A's device")
            settled(
                lambda: (organizer.dashboard()["scans"], len(checkin_nonces(new, a.device_id))),
                "the hub and B to hold the same scans",
            )

            token = konferenco(
                "appliance", "issue-token", "--data", str(new), "--role", "door"
            ).stdout.strip()
            response = httpx.post(
                f"{b.url}/api/v1/scans",
                json={"code": spare, "nonce": "on-b-after-restore", "gate": "main"},
                headers={"Authorization": f"Bearer {token}"}, timeout=10,
            )  # fmt: skip
            assert response.status_code == 200, response.text
            expected = len(checkin_nonces(new, a.device_id))
            wait_for(lambda: organizer.dashboard()["scans"] == expected, timeout=60, interval=0.5,
                     what="the hub to count every scan once, B's new one included")  # fmt: skip
            with sqlite3.connect(f"file:{new / 'appliance.db'}?mode=ro", uri=True) as conn:
                logged = logged_scans(conn, f"event/{organizer.event_id}/device/{a.device_id}")
            yield Outcome(
                device_a=a.device_id,
                device_b=device_b,
                acked=acked,
                acked_at=dict(tally.at),
                killed_at=killed_at,
                on_dead_disk=set(checkin_nonces(a.data, a.device_id)),
                unexpected=list(tally.unexpected),
                restored=at_restore,
                on_b=checkin_nonces(new, a.device_id),
                logged_b=logged,
                hub_scans=int(organizer.dashboard()["scans"]),
                clients_a={c for _, c in client_ids(a.data)},
                clients_b_new={c for _, c in client_ids(new) - clients_restored},
                new_scan=response.json(),
                replica_lag=lag,
                catch_up_s=catch_up_s,
            )
        finally:
            if runner is not None:
                runner.stop()
            for process in (a.process if a is not None else None, b):
                if process is not None:
                    process.stop()
            hub.stop()


@pytest.mark.slow
def test_the_storm_was_real(outcome: Outcome) -> None:
    assert not outcome.unexpected, outcome.unexpected[:5]
    assert len(outcome.acked) >= 100, len(outcome.acked)


@pytest.mark.slow
def test_every_acknowledged_scan_is_on_the_new_box_once(outcome: Outcome, record_property: Any) -> None:
    """Every scan A acknowledged is on B (restored, or from the hub), none twice.

    Except, at most, those of the last :data:`RPO_WINDOW_S` seconds before the kill that neither the
    replica nor the hub had received yet: they are on A's dead disk only.  They are counted (the
    combined RPO) and must all be that recent; anything older missing is a failure.
    """
    present = set(outcome.on_b)
    too_old, recent = split_lost(outcome.acked_at, present, outcome.killed_at)
    assert not too_old, (
        f"{len(too_old)} of {len(outcome.acked)} acknowledged scans older than {RPO_WINDOW_S} s lost, "
        f"e.g. {sorted(too_old)[:5]}"
    )
    assert set(outcome.acked) <= outcome.on_dead_disk  # acknowledged means on A's disk
    twice = [n for n, k in Counter(outcome.on_b).items() if k > 1]
    assert not twice, f"nonces recorded twice on B: {twice[:5]}"
    assert len(set(outcome.logged_b.values())) == len(outcome.logged_b), "a nonce is twice in A's device log"
    assert set(outcome.acked) - set(recent) <= set(outcome.logged_b.values())
    from_hub_only = set(outcome.acked) - set(outcome.restored) - set(recent)
    record_property("acknowledged", len(outcome.acked))
    record_property("recovered_from_hub_only", len(from_hub_only))
    record_property("lost_within_rpo_window", len(recent))
    record_property("catch_up_s", round(outcome.catch_up_s, 2))
    at_kill = outcome.replica_lag["databases"][0]
    reach = max((outcome.killed_at - outcome.acked_at[n] for n in recent), default=0.0)
    from_replica = len(outcome.acked) - len(from_hub_only) - len(recent)
    print(
        f"\n{len(outcome.acked)} scans acknowledged by A; {from_replica} restored from the replica, "
        f"{len(from_hub_only)} only from the hub (the replica's RPO in scans), "
        f"{len(recent)} on neither (acknowledged at most {reach:.2f} s before the kill); "
        f"B caught up in {outcome.catch_up_s:.1f} s; replica at the kill: {at_kill}"
    )


@pytest.mark.slow
def test_the_hub_counts_each_scan_once(outcome: Outcome) -> None:
    # every scan on B (A's acknowledged ones, the unanswered ones A stored, B's new one), each once
    assert outcome.hub_scans == len(outcome.on_b) == len(set(outcome.on_b))


@pytest.mark.slow
def test_the_new_box_is_the_same_device_with_a_new_yjs_client_id(outcome: Outcome) -> None:
    assert outcome.device_b == outcome.device_a
    assert outcome.clients_b_new, "B's new scan was authored under no client id"
    assert not outcome.clients_b_new & outcome.clients_a, "B reuses a Yjs client id A authored with"


@pytest.mark.slow
def test_the_new_box_admits_a_new_scan(outcome: Outcome) -> None:
    assert outcome.new_scan["result"] == "admitted", outcome.new_scan
    assert "on-b-after-restore" in outcome.on_b


# --- no hub: the restored box catches up from a LAN peer ---------------------------------------------


@dataclass
class LanOutcome:
    acked_at: dict[str, float]
    killed_at: float
    restored: set[str]
    on_b: list[str]
    on_p: set[str]
    device_a: str
    device_b: str


@pytest.fixture(scope="module")
def lan_outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LanOutcome]:
    """A and its LAN peer P, both enrolled (so they prove themselves to each other); the hub then gone."""
    root = tmp_path_factory.mktemp("restore-lan")
    replica = f"file://{root / 'replica'}"
    with fresh_database() as database:
        create_organization(database)
        hub = HubProcess(database, root / "secrets")
        runner: BackupProcess | None = None
        a: Box | None = None
        p: ApplianceProcess | None = None
        b: ApplianceProcess | None = None
        try:
            hub.start()
            organizer = create_event(sign_in(hub.url), attendees=ATTENDEES)
            a, peer = enrol(organizer, root / "A", "A"), enrol(organizer, root / "P", "P")
            a.process.start()
            p = ApplianceProcess(peer.data, None, "--upstream", a.process.url, "--upstream-token", "",
                                 "--upstream-peer", "A").start()  # fmt: skip
            codes = [badge.code for badge in organizer.badges()]
            connected = lambda: all(d["connected"] for d in organizer.devices().values())  # noqa: E731
            wait_for(connected, what="A and P connected to the hub")
            hub.stop()  # the venue's internet is gone: only P can give B what the replica missed

            runner = BackupProcess(a.data, replica).start()
            wait_synced(lambda: status(a.data, replica)[1])
            tally, killed_at = storm_then_kill(a, runner, codes)
            assert not tally.unexpected, tally.unexpected[:5]

            new = root / "B"
            konferenco("appliance", "restore", "--from", replica, "--data", str(new))
            restored = set(checkin_nonces(new, a.device_id))
            b = ApplianceProcess(new, None, "--upstream", p.url, "--upstream-token", "",
                                 "--upstream-peer", "P")  # fmt: skip
            b.start()
            device_b = httpx.get(f"{b.url}/healthz", timeout=10).json()["device_id"]
            device = a.device_id
            settled(
                lambda: (set(checkin_nonces(peer.data, device)), set(checkin_nonces(new, device))),
                "B and its LAN peer to hold the same scans",
            )
            yield LanOutcome(
                dict(tally.at), killed_at, restored, checkin_nonces(new, device),
                set(checkin_nonces(peer.data, device)), device, device_b,
            )  # fmt: skip
        finally:
            if runner is not None:
                runner.stop()
            for process in (b, p, a.process if a is not None else None):
                if process is not None:
                    process.stop()
            hub.stop()


@pytest.mark.slow
def test_with_no_hub_the_restored_box_catches_up_from_a_lan_peer(lan_outcome: LanOutcome) -> None:
    acked = lan_outcome.acked_at
    assert len(acked) >= 100
    assert lan_outcome.device_b == lan_outcome.device_a
    too_old, recent = split_lost(acked, set(lan_outcome.on_b), lan_outcome.killed_at)
    assert not too_old, f"{len(too_old)} acknowledged scans older than {RPO_WINDOW_S} s lost: {too_old[:5]}"
    twice = [n for n, k in Counter(lan_outcome.on_b).items() if k > 1]
    assert not twice, f"nonces recorded twice on B: {twice[:5]}"
    from_peer = set(acked) - lan_outcome.restored - set(recent)
    assert from_peer, "the replica had everything: this run did not test the catch-up from the peer"
    print(
        f"\nLAN: {len(acked)} scans acknowledged by A; {len(from_peer)} came back only from the peer, "
        f"{len(recent)} on neither replica nor peer (within the last {RPO_WINDOW_S} s)"
    )
