"""The TUI guide shows the screens the snapshot tests check: ``docs/screenshots/tui/`` holds copies.

``make screenshots`` (``KONFERENCO_SCREENSHOTS=docs/screenshots``) copies each snapshot under a
readable name; without it, this test only checks the copies are current, so a screen changed
and re-snapshotted cannot leave the guide showing the old one.
"""

from __future__ import annotations

import os
import shutil

from tests.helpers import ROOT

SNAPSHOTS = ROOT / "tests" / "tui" / "__snapshots__"
#: The guide's name for each picture -> the snapshot it copies.
SHOTS = {
    "sign-in.svg": "test_signin/test_snapshot_sign_in_after_a_wrong_pin[wide].svg",
    "desk.svg": "test_desk_snapshots/test_snapshot_desk_with_a_record_open[wide].svg",
    "desk-80x24.svg": "test_desk_snapshots/test_snapshot_desk_with_a_record_open[narrow].svg",
    "walk-in-refused-80x24.svg": (
        "test_desk_snapshots/test_snapshot_walk_in_form_with_inline_errors[narrow].svg"
    ),
    "door.svg": "test_door_snapshots/test_snapshot_door_wide.svg",
    "print-queue.svg": "test_prints_snapshots/test_snapshot_prints_wide.svg",
    "devices.svg": "test_devices/test_snapshot_devices_wide.svg",
    "sync.svg": "test_sync/test_snapshot_sync_wide.svg",
    "stats-80x24.svg": "test_stats_snapshots/test_snapshot_stats_narrow.svg",
    "proposals.svg": "test_proposals/test_snapshot_proposals_wide.svg",
}


def test_the_guide_shows_the_screens_the_tests_check() -> None:
    published = os.environ.get("KONFERENCO_SCREENSHOTS")
    target = (ROOT / published if published else ROOT / "docs" / "screenshots") / "tui"
    if published:
        target.mkdir(parents=True, exist_ok=True)
        for name, snapshot in SHOTS.items():
            shutil.copyfile(SNAPSHOTS / snapshot, target / name)
    stale = [
        name
        for name, snapshot in SHOTS.items()
        if not (target / name).exists() or (target / name).read_bytes() != (SNAPSHOTS / snapshot).read_bytes()
    ]
    assert not stale, f"run `make screenshots`: {', '.join(stale)} in {target} differ from their snapshots"
    guide = (ROOT / "docs" / "tui.md").read_text(encoding="utf-8")
    assert all(f"screenshots/tui/{name}" in guide for name in SHOTS), "docs/tui.md should show every picture"
