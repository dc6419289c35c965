"""``konferenco hub schedule import``: a schedule file imported from a shell while the hub serves.

The command writes into the same update log as the hub's workers, so the
running hub shows the import at once, without a restart; a refused file or
an unknown event exits 1 with the reasons, and writes nothing.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.helpers import HubProcess, konferenco, wait_for
from tests.hub.api_support import new_org, sql
from tests.hub.test_schedule_api import EXAMPLES, example_counts, schedule, undated_event


def test_the_cli_imports_a_file_the_serving_hub_shows_at_once(
    hub_db_module: str, hub: HubProcess, http: httpx.Client
) -> None:
    org = new_org(hub_db_module, http)
    event = undated_event(http, org)
    file = str(EXAMPLES / "pretalx-democon.json")
    rooms, sessions = example_counts("pretalx-democon.json")
    base = ("hub", "schedule", "import", "--database-url", hub_db_module, "--event", event)

    preview = konferenco(*base, file, "--dry-run")
    assert preview.stdout.startswith("dry run, nothing written.")
    assert f"{sessions} sessions created, 0 updated, 0 unchanged" in preview.stdout
    assert schedule(http, org, event)["sessions"] == []

    done = konferenco(*base, file)
    assert "dry run" not in done.stdout and f"{sessions} sessions created" in done.stdout
    wait_for(
        lambda: len(schedule(http, org, event)["sessions"]) == sessions, what="the hub to show the import"
    )
    assert len(schedule(http, org, event)["rooms"]) == rooms
    again = konferenco(*base, file)
    assert f"0 sessions created, 0 updated, {sessions} unchanged" in again.stdout
    assert len(schedule(http, org, event)["sessions"]) == sessions


def test_a_refused_file_or_an_unknown_event_exits_1_and_writes_nothing(
    hub_db_module: str, hub: HubProcess, http: httpx.Client, tmp_path: Path
) -> None:
    org = new_org(hub_db_module, http)
    event = undated_event(http, org)

    broken = tmp_path / "broken.json"
    broken.write_text('{"schedule": {"version": "1", "conference": {"days": "soon"}}}', encoding="utf-8")
    refused = konferenco(
        "hub",
        "schedule",
        "import",
        "--database-url",
        hub_db_module,
        "--event",
        event,
        str(broken),
        check=False,
    )
    assert refused.returncode == 1
    assert refused.stderr.startswith("refused: The schedule file was refused")
    assert len(refused.stderr.splitlines()) >= 2, "each problem on a line of its own"
    unknown = konferenco(
        "hub", "schedule", "import", "--database-url", hub_db_module, "--event", "ev-nope",
        str(EXAMPLES / "pretalx-democon.json"), check=False,
    )  # fmt: skip
    assert unknown.returncode == 1 and "no event 'ev-nope'" in unknown.stderr
    control = f"event/{event}/control"
    assert sql(hub_db_module, "SELECT count(*) AS n FROM sync_update WHERE doc = $1", control)[0]["n"] == 0
