"""Shared fixtures for the appliance tests: one real demo appliance per test module.

``demo_appliance`` (module scope) seeds a demo event with the real CLI
(``konferenco demo seed --data DIR --attendees 200 --seed 7``), exports its
badges (``appliance badges --out``), starts ``konferenco appliance serve`` as
a child process on loopback and issues one staff token per role
(``appliance issue-token --role ...``).  Tests in one module share that
appliance, so each test should scan *its own* attendees: :meth:`DemoAppliance.take`
hands out every badge at most once per module.

A module can change the demo's size or seed with module-level constants
``DEMO_ATTENDEES = 500`` / ``DEMO_SEED = 3``.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import ApplianceProcess, konferenco

ROLES = ("door", "kiosk", "desk", "organizer")
Row = dict[str, Any]


@dataclass
class DemoAppliance:
    """A running demo appliance and what a test needs to talk to it."""

    data: Path  # the data directory (DIR/catalog.json, DIR/secrets/demo-staff.json, ...)
    process: ApplianceProcess
    tokens: dict[str, str]  # role -> staff token from ``appliance issue-token``
    badges: list[
        Row
    ]  # rows of the exported CSV: attendee_id, badge_code, name, company, ticket_type, nfc_uid
    catalog: dict[str, Row]  # attendee id -> the attendee as in the signed catalog (valid_from, email, ...)
    staff: dict[str, Row]  # demo account name -> {"role": ..., "pin": ...}
    device_id: str  # this appliance's device id (DIR/appliance.json)
    event: str = "demo"
    _taken: set[str] = field(default_factory=set)

    @property
    def url(self) -> str:
        return self.process.url

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def client(self, role: str | None = None, *, headers: dict[str, str] | None = None) -> httpx.Client:
        """An HTTP client on the appliance, signed in as ``role`` (None: no token) plus ``headers``."""
        return httpx.Client(
            base_url=self.url, headers={**(self.headers(role) if role else {}), **(headers or {})}, timeout=10
        )

    def take(self, where: Callable[[Row], bool] = lambda _: True) -> Row:
        """A badge row no other test of this module took, merged with its catalog entry.

        The row has the CSV columns plus ``ticket_type_id``, ``email``,
        ``valid_from`` and ``valid_until`` from the catalog.
        """
        for row in self.badges:
            merged = {**self.catalog[row["attendee_id"]], **row}
            if row["attendee_id"] not in self._taken and where(merged):
                self._taken.add(row["attendee_id"])
                return merged
        raise LookupError("no unused demo badge matches; seed more attendees (DEMO_ATTENDEES)")


def nonce() -> str:
    """A fresh scan nonce."""
    return uuid.uuid4().hex


@pytest.fixture(scope="module")
def demo_appliance(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoAppliance]:
    count = getattr(request.module, "DEMO_ATTENDEES", 200)
    seed = getattr(request.module, "DEMO_SEED", 7)
    root = tmp_path_factory.mktemp("demo")
    data = root / "data"
    konferenco("demo", "seed", "--data", str(data), "--attendees", str(count), "--seed", str(seed))
    badges_csv = root / "badges.csv"
    with ThreadPoolExecutor(max_workers=len(ROLES) + 1) as pool:
        # The CLI takes a second to start: export and issue tokens while the server comes up.
        exported = pool.submit(
            konferenco, "appliance", "badges", "--data", str(data), "--out", str(badges_csv)
        )
        issued = {
            role: pool.submit(konferenco, "appliance", "issue-token", "--data", str(data), "--role", role)
            for role in ROLES
        }
        process = ApplianceProcess(data).start()
        try:
            exported.result()
            tokens = {role: job.result().stdout.strip() for role, job in issued.items()}
        except BaseException:
            process.stop()
            raise
    try:
        with badges_csv.open(encoding="utf-8", newline="") as f:
            badges = list(csv.DictReader(f))
        bundle = json.loads((data / "catalog.json").read_bytes())
        catalog = {a["id"]: a for a in bundle["catalog"]["attendees"]}
        staff = json.loads((data / "secrets" / "demo-staff.json").read_text())
        device_id = json.loads((data / "appliance.json").read_text())["device_id"]
        yield DemoAppliance(data, process, tokens, badges, catalog, staff, device_id)
    finally:
        process.stop()
