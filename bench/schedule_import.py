"""Importing the largest example schedule: what an organizer waits for.

Target (issue #12): the wall time of importing the largest example in
``../shared/schedule-formats/examples/`` (frab-camp2019.json: 79 sessions,
5 days), reported, no fixed limit.

Two ways, each repetition into a fresh data directory:

* **the command**: ``konferenco appliance schedule import --data DIR FILE``
  on a stopped box, timed as the shell sees it (interpreter start, imports,
  reading, the rule check, the fsync'd writes).  Baseline: the same
  interpreter running ``konferenco appliance schedule import --help``,
  the floor of any command.
* **in the process**, step by step: reading the file
  (``read_schedule``), planning and checking it, and writing it through
  ``sync.schedule_edits.apply_import`` into a real SQLite replica.
  Baseline: ``json.loads`` of the same bytes.

With ``KONFERENCO_EXTRA_SCHEDULES=DIR`` the in-process run also imports
every ``*.json``/``*.xml`` there (real exports of other events, such as
38C3's 1,007-session ``schedule.xml``), approving their own overlaps.

``python -m bench.schedule_import [--repetitions N]`` runs it alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import (
    ROOT,
    BenchResult,
    Row,
    Series,
    Table,
    Verdict,
    konferenco,
    konferenco_command,
    progress,
)
from konferenco.schedule.formats import plan_import, read_schedule
from konferenco.schedule.model import EventFrame
from sync import schedule_edits
from sync.projection import RecordProjection
from sync.replica import Replica
from sync.sqlite_store import SQLiteUpdateStore

EXAMPLES = ROOT.parent / "shared" / "schedule-formats" / "examples"


def largest() -> Path:
    return max(EXAMPLES.glob("*.json"), key=lambda p: p.stat().st_size)


def _wall(args: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {done.stderr[-1500:]}")
    return took * 1000


async def _in_process(path: Path, db: Path, overlaps: str | None = None) -> dict[str, float]:
    data = await asyncio.to_thread(path.read_bytes)
    t0 = time.perf_counter()
    json.loads(data) if path.suffix == ".json" else None
    t1 = time.perf_counter()
    imported = read_schedule(data, path.name)
    t2 = time.perf_counter()
    replica = Replica(SQLiteUpdateStore(db, projector=RecordProjection()))
    await replica.start()
    try:
        state = await schedule_edits.snapshot(replica, "bench")
        frame = EventFrame(event_id="bench", timezone=imported.timezone or "UTC")
        plan = plan_import(state.rooms, state.sessions, imported)
        t3 = time.perf_counter()
        await schedule_edits.apply_import(
            replica, "bench", plan.rooms, plan.sessions, frame, by="bench", overlap_reason=overlaps
        )
        t4 = time.perf_counter()
    finally:
        await replica.close()
    return {
        "json": (t1 - t0) * 1000,
        "read": (t2 - t1) * 1000,
        "plan": (t3 - t2) * 1000,
        "write": (t4 - t3) * 1000,
        "sessions": float(len(imported.sessions)),
    }


def run(repetitions: int = 3) -> BenchResult:
    path = largest()
    cli, floor, steps = [], [], []
    extra: list[tuple[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory(prefix="kf-bench-import-") as tmp:
        for rep in range(repetitions):
            progress(f"schedule import, repetition {rep + 1}/{repetitions}: {path.name}")
            data = Path(tmp) / f"box{rep}"
            konferenco("appliance", "init", "--data", str(data), "--event", "camp")
            floor.append(_wall([*konferenco_command(), "appliance", "schedule", "import", "--help"]))
            cli.append(
                _wall(
                    [*konferenco_command(), "appliance", "schedule", "import", "--data", str(data), str(path)]
                )
            )
            steps.append(asyncio.run(_in_process(path, Path(tmp) / f"replica{rep}.db")))
        folder = os.environ.get("KONFERENCO_EXTRA_SCHEDULES")
        for other in sorted(Path(folder).glob("*")) if folder else []:
            if other.suffix in (".json", ".xml"):
                progress(f"schedule import: {other.name} (from KONFERENCO_EXTRA_SCHEDULES)")
                db = Path(tmp) / f"extra-{other.stem}.db"
                extra.append((other.name, asyncio.run(_in_process(other, db, "as published"))))

    def series(key: str) -> Series:
        return Series.of([s[key] for s in steps], "ms")

    cli_ms, floor_ms = Series.of(cli, "ms"), Series.of(floor, "ms")
    total = Series.of([s["read"] + s["plan"] + s["write"] for s in steps], "ms")
    rows = [
        Row(f"`konferenco appliance schedule import` of {path.name}, wall time", cli_ms, floor_ms,
            "the same command's `--help` (interpreter and imports)"),
        Row("in the process: read + plan and check + write", total, series("json"),
            "`json.loads` of the file"),
        Row("reading (`read_schedule`)", series("read")),
        Row("planning and the rule check", series("plan")),
        Row("writing (`apply_import`, fsync'd, with projection)", series("write")),
    ]  # fmt: skip
    sessions = int(steps[0]["sessions"])
    verdicts = [
        Verdict(
            f"import of the largest example ({path.name}, {sessions} sessions): wall time reported",
            f"{cli_ms.median:.0f} ms by the command ({cli_ms.median - floor_ms.median:.0f} ms above its "
            f"--help); {total.median:.0f} ms in the process",
            True,
        )
    ]
    details = []
    if extra:
        details.append(
            Table(
                "Real exports of other events (KONFERENCO_EXTRA_SCHEDULES, in the process, one run)",
                ("file", "sessions", "read", "plan and check", "write"),
                tuple(
                    (
                        name,
                        f"{int(s['sessions']):,}",
                        f"{s['read']:.0f} ms",
                        f"{s['plan']:.0f} ms",
                        f"{s['write']:.0f} ms",
                    )
                    for name, s in extra
                ),
            )
        )
    return BenchResult(
        title="Schedule import",
        method=(
            f"`{path.name}` ({path.stat().st_size / 1024:.0f} KB, {sessions} sessions), the largest example "
            "shipped in `shared/schedule-formats/examples/`, imported into a fresh data directory per "
            "repetition: by the command on a stopped box (wall time of the process) and in this process "
            "step by step into a real SQLite replica. Baselines in the same repetition: the command's "
            "`--help` and `json.loads` of the file."
        ),
        repetitions=repetitions,
        rows=rows,
        verdicts=verdicts,
        details=details,
        notes=[
            "Most of the command's time is the interpreter, its imports (the `--help` baseline) and opening "
            "the box's data directory; the import itself is the in-process total (median "
            f"{statistics.median([s['write'] for s in steps]):.0f} ms of it writing)."
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Schedule import benchmark.")
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args()
    from bench.run import render_result

    print("\n".join(render_result(run(args.repetitions))))


if __name__ == "__main__":
    main()
