"""Schemathesis against both apps' OpenAPI documents, as real processes with real credentials: 0 failures.

Each app runs as ``konferenco … serve`` on throw-away data (a demo appliance in a temporary
directory, a hub on a scratch PostgreSQL database), so deleting, revoking and importing are
fuzzed like everything else.  Schemathesis (the ``st`` command, in a subprocess) sends what
its coverage phase derives from each schema (every boundary, every missing or wrong-typed
field), then random valid and invalid requests (fuzzing), then chains of calls (stateful),
with a staff organizer token on the appliance and an organizer API token on the hub, so the
authenticated operations are reached, not only their 401.

Checks: no 5xx (``not_a_server_error``), every status documented for its route
(``status_code_conformance``), every body valid against the documented schema
(``response_schema_conformance``) and of the documented media type
(``content_type_conformance``).  The seed is fixed, so a failure reproduces; its report
(and the ``curl`` to replay each case) is printed in the assertion.

Bounded for CI by ``FUZZ_SECONDS`` per app (default 75 s); ``make fuzz`` runs it longer.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import ApplianceProcess, HubProcess, konferenco, scratch_database
from tests.hub.api_support import new_event, new_org

#: Seconds of fuzzing per app: short in ``make test``, longer with ``make fuzz``.
FUZZ_SECONDS = int(os.environ.get("FUZZ_SECONDS", "75"))
SEED = int(os.environ.get("FUZZ_SEED", "18"))
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance"
PHASES = os.environ.get("FUZZ_PHASES", "examples,coverage,fuzzing,stateful")
ST = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"

pytestmark = pytest.mark.timeout(FUZZ_SECONDS * 3 + 120)


def schemathesis(url: str, token: str, report: Path, known: dict[str, list[str]]) -> None:
    """Run ``st run`` against ``url``'s document, failing the test with its report on any failure.

    ``known`` maps a parameter (``"path.event_id"``) to ids that exist: Schemathesis uses one
    of them half of the time, so the handlers behind "no such event" are fuzzed too.
    """
    config = report / "schemathesis.toml"
    report.mkdir(parents=True, exist_ok=True)
    config.write_text(
        "".join(
            f"[dictionaries.{name.replace('.', '_')}]\nvalues = {json.dumps(values)}\n"
            for name, values in known.items()
        )
        + "[parameters]\n"
        + "".join(
            f'"{name}" = {{ dictionary = "{name.replace(".", "_")}", probability = 0.5 }}\n' for name in known
        )
    )
    command = [
        ST, "--config-file", str(config), "run", f"{url}/schema/openapi.json",
        "--url", url,
        "--checks", CHECKS,
        "--phases", PHASES,
        "--max-time", str(FUZZ_SECONDS),
        "--seed", str(SEED),
        "--workers", "1",
        "--request-timeout", "20",
        "--header", f"Authorization: Bearer {token}",
        "--generation-database", "none",
        "--report", "junit",
        "--report-dir", str(report),
        "--no-color",
    ]  # fmt: skip
    # In the report directory: ``st`` keeps what ``st replay`` needs in ``./.schemathesis``.
    done = subprocess.run(command, capture_output=True, text=True, timeout=FUZZ_SECONDS * 3 + 60, cwd=report)
    if done.returncode != 0:
        # No traceback: its frame would show the bearer token.
        pytest.fail(
            f"schemathesis found failures (exit {done.returncode}):\n{done.stdout}\n{done.stderr}",
            pytrace=False,
        )


Target = tuple[str, str, dict[str, list[str]]]  # base URL, bearer token, known ids by parameter


@pytest.fixture
def appliance(tmp_path: Path) -> Iterator[Target]:
    """A demo appliance of its own (it will be fuzzed: revocations, deletions) and an organizer token."""
    data = tmp_path / "data"
    konferenco("demo", "seed", "--data", str(data), "--attendees", "50", "--seed", "18")
    token = konferenco("appliance", "issue-token", "--data", str(data), "--role", "organizer").stdout.strip()
    attendees = [a["id"] for a in json.loads((data / "catalog.json").read_bytes())["catalog"]["attendees"]]
    with ApplianceProcess(data) as process:
        yield process.url, token, {"query.event": ["demo"], "path.attendee_id": attendees[:10]}


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Target]:
    """A hub on a scratch database, an organization with one event, and its owner's API token."""
    with scratch_database() as url, HubProcess(url, tmp_path / "secrets") as process:
        with httpx.Client(base_url=process.url, timeout=30) as http:
            org = new_org(url, http)
            event = new_event(http, org)
            found = http.get(f"/api/v1/events/{event}/attendees", headers=org.auth).json()
        yield process.url, org.token, {"path.event_id": [event], "path.attendee_id": [a["id"] for a in found]}


def test_appliance_api_answers_every_fuzzed_request_as_documented(appliance: Target, tmp_path: Path) -> None:
    url, token, known = appliance
    schemathesis(url, token, tmp_path / "report", known)


def test_hub_api_answers_every_fuzzed_request_as_documented(hub: Target, tmp_path: Path) -> None:
    url, token, known = hub
    schemathesis(url, token, tmp_path / "report", known)
