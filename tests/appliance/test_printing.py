"""Badge printing on a real appliance process, to a loopback ESC/POS "printer" that keeps the bytes.

The bytes are decoded back into the printed image and the QR on it must read
as the attendee's badge code.  The faults a door meets are played for real:
the printer switched off before the job, and the printer dying mid-job.
"""

from __future__ import annotations

import asyncio
import csv
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import zxingcpp

from appliance.catalog.schema import migrate
from appliance.printing.queue import PrintQueue
from konferenco.types import new_id, now_ms
from sync.documents import DeviceLog
from sync.names import DocName
from sync.records import BadgePrint
from sync.replica import Replica
from sync.sqlite_store import SQLiteUpdateStore
from tests.drivers.escpos_decode import decode
from tests.drivers.test_printer import FakePrinter
from tests.helpers import ApplianceProcess, konferenco, wait_for


@dataclass
class Desk:
    data: Path
    process: ApplianceProcess
    badges: list[dict[str, str]]
    token: str
    printer_port: int

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        auth = {"Authorization": f"Bearer {self.token}"}
        return httpx.request(method, f"{self.process.url}{path}", headers=auth, timeout=10, **kwargs)

    def job(self, job_id: str) -> dict[str, Any]:
        jobs = {j["id"]: j for j in self.call("GET", "/api/v1/print-jobs").json()}
        return dict(jobs[job_id])


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    root = tmp_path_factory.mktemp("desk")
    data = root / "data"
    konferenco("demo", "seed", "--data", str(data), "--attendees", "40", "--seed", "5")
    probe = FakePrinter()  # only to reserve a port the tests' printers then take in turn
    port = probe.port
    probe.stop()
    konferenco(
        "appliance", "devices", "add", "--data", str(data), "--id", "desk-printer", "--domain", "printer",
        "--kind", "network", "--set", "host=127.0.0.1", "--set", f"port={port}", "--set", "poll_interval=0",
    )  # fmt: skip
    konferenco(
        "appliance",
        "devices",
        "auto-print",
        "--data",
        str(data),
        "--gate",
        "north",
        "--printer",
        "desk-printer",
    )
    out = root / "badges.csv"
    konferenco("appliance", "badges", "--data", str(data), "--out", str(out))
    token = konferenco("appliance", "issue-token", "--data", str(data), "--role", "desk").stdout.strip()
    with out.open(encoding="utf-8", newline="") as f:
        badges = list(csv.DictReader(f))
    with ApplianceProcess(data) as process:
        yield Desk(data, process, badges, token, port)


def _qr_on(job_bytes: bytes) -> list[str]:
    page = decode(job_bytes).page().convert("L")
    return [r.text for r in zxingcpp.read_barcodes(page)]


def test_the_first_admission_at_a_printing_gate_prints_that_badge_once(desk: Desk) -> None:
    printer = FakePrinter(port=desk.printer_port)
    try:
        badge = desk.badges[0]
        scan = {"gate": "north", "code": badge["badge_code"]}
        first = desk.call("POST", "/api/v1/scans", json={**scan, "nonce": new_id()}).json()
        assert first["result"] == "admitted", first
        done = wait_for(
            lambda: [j for j in desk.call("GET", "/api/v1/print-jobs").json() if j["status"] == "done"],
            what="the badge to print",
        )
        assert [(j["attendee_id"], j["kind"]) for j in done] == [(badge["attendee_id"], "auto")]
        assert badge["badge_code"] in _qr_on(printer.received)  # the printed QR is this person's badge
        again = desk.call("POST", "/api/v1/scans", json={**scan, "nonce": new_id()}).json()
        assert again["result"] == "already_admitted"
        assert len(desk.call("GET", "/api/v1/print-jobs").json()) == 1  # never a second badge on its own
    finally:
        printer.stop()


def test_a_job_for_a_switched_off_printer_waits_and_prints_once_it_is_on(desk: Desk) -> None:
    badge = desk.badges[1]
    queued = desk.call("POST", "/api/v1/print-jobs", json={"attendee_id": badge["attendee_id"]})
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["id"]
    waiting = wait_for(lambda: (j := desk.job(job_id))["attempts"] >= 1 and j, what="a failed attempt")
    assert waiting["status"] == "queued" and "offline" in waiting["detail"].lower(), waiting
    printer = FakePrinter(port=desk.printer_port)  # switched on
    try:
        wait_for(lambda: desk.job(job_id)["status"] == "done", timeout=30, what="the waiting job to print")
        assert badge["badge_code"] in _qr_on(printer.received)
    finally:
        printer.stop()


def test_a_printer_dying_mid_job_leaves_it_uncertain_and_offered_for_reprint(desk: Desk) -> None:
    badge = desk.badges[2]
    dying = FakePrinter(port=desk.printer_port, close_after=600)
    try:
        job_id = desk.call("POST", "/api/v1/print-jobs", json={"attendee_id": badge["attendee_id"]}).json()[
            "id"
        ]
        uncertain = wait_for(lambda: (j := desk.job(job_id))["status"] == "uncertain" and j, what="uncertain")
        assert uncertain["detail"]
    finally:
        dying.stop()
    assert desk.job(job_id)["status"] == "uncertain"  # not retried by the machine
    printer = FakePrinter(port=desk.printer_port)
    try:
        reprint = desk.call("POST", f"/api/v1/print-jobs/{job_id}/reprint")
        assert reprint.status_code == 202, reprint.text
        assert reprint.json()["reprint_of"] == job_id
        wait_for(lambda: desk.job(reprint.json()["id"])["status"] == "done", what="the reprint")
        assert badge["badge_code"] in _qr_on(printer.received)
    finally:
        printer.stop()
    unknown = desk.call("POST", "/api/v1/print-jobs", json={"attendee_id": "nobody-here"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_attendee"


async def test_a_job_cut_off_by_a_crash_is_uncertain_after_restart_and_recorded(tmp_path: Path) -> None:
    store = SQLiteUpdateStore(tmp_path / "a.db")
    replica = Replica(store)
    await replica.start()
    await store.writer.run(migrate)
    job_id = new_id()
    await store.writer.run(
        lambda conn: conn.execute(
            "INSERT INTO print_job (id, event_id, attendee_id, printer, kind, status, created_at, updated_at)"
            " VALUES (?, 'e1', 'a1', 'p1', 'auto', 'printing', ?, ?)",
            (job_id, now_ms(), now_ms()),
        )
    )
    reader = sqlite3.connect(tmp_path / "a.db")

    sent: list[bytes] = []

    class Watched:
        """A printer that only records: an interrupted job must never reach it again by itself."""

        async def print_badge(self, data: bytes) -> Any:
            sent.append(data)
            raise RuntimeError("unexpected print")

    queue = PrintQueue(store.writer, reader, replica, "box1", {"p1": Watched()}, render=lambda job: b"badge")
    await queue.start()
    try:
        await asyncio.sleep(0.2)
        job = queue.job(job_id)
        assert job.status == "uncertain" and "stopped while printing" in job.detail
        assert sent == []
        records = [
            r
            for r in DeviceLog(replica.doc(DocName.device("e1", "box1"))).records()
            if isinstance(r, BadgePrint)
        ]
        assert [(r.job_id, r.status) for r in records] == [(job_id, "uncertain")]
    finally:
        await queue.stop()
        reader.close()
        await replica.close()


def test_staff_cancel_a_waiting_job_but_not_a_finished_one(desk: Desk) -> None:
    badge = desk.badges[3]  # the printer is off: the job waits
    job_id = desk.call("POST", "/api/v1/print-jobs", json={"attendee_id": badge["attendee_id"]}).json()["id"]
    # What staff see before they cancel: the job waiting, with the printer's reason (it was tried
    # once already; while a try is under way the job is "printing" and cannot be cancelled).
    wait_for(
        lambda: (job := desk.job(job_id))["status"] == "queued" and job["detail"],
        what="the job to wait for the printer",
    )
    cancelled = desk.call("POST", f"/api/v1/print-jobs/{job_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    again = desk.call("POST", f"/api/v1/print-jobs/{job_id}/cancel")
    assert again.status_code == 409 and again.json()["code"] == "not_waiting"
    printer = FakePrinter(port=desk.printer_port)  # switched on: the cancelled job stays unprinted
    try:
        later = desk.call("POST", "/api/v1/print-jobs", json={"attendee_id": desk.badges[4]["attendee_id"]})
        wait_for(lambda: desk.job(later.json()["id"])["status"] == "done", what="a later job")
        assert desk.job(job_id)["status"] == "cancelled"
        assert badge["badge_code"] not in _qr_on(printer.received)
    finally:
        printer.stop()
