"""Run every benchmark and write ``docs/benchmarks.md`` (what ``make bench`` does).

``python -m bench.run [--quick]``: ``--quick`` makes one repetition of
everything instead of 5 (small benchmarks) and 3 (the convergence run), to
check that the benchmarks work, not to quote the figures.

Each benchmark is a module whose ``run()`` returns a
:class:`~bench.common.BenchResult`; this file only renders them, so the
measuring code and the report format stay apart.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import sqlite3
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from bench import (
    backup,
    badge_render,
    checkin_import,
    checkin_scans,
    door_catchup,
    door_page,
    driver_scan,
    hub_catalog,
    hub_ingest,
    kiosk,
    local_append,
    schedule_import,
    schedule_queries,
    schedule_signage,
    sign_page,
    sync_convergence,
    tui,
)
from bench.common import ROOT, BenchResult, Row, Series, Table, progress

OUTPUT = ROOT / "docs" / "benchmarks.md"


@dataclass(frozen=True)
class Benchmark:
    name: str
    run: Callable[[], BenchResult]


def benchmarks(quick: bool) -> list[Benchmark]:
    small, big = (1, 1) if quick else (5, 3)
    return [
        Benchmark("local append", lambda: local_append.run(repetitions=small)),
        Benchmark("sync convergence", lambda: sync_convergence.run(repetitions=big, step_repetitions=small)),
        Benchmark("catalog import", lambda: checkin_import.run(repetitions=big)),
        Benchmark("scans over HTTP", lambda: checkin_scans.run(repetitions=big)),
        Benchmark("door during catch-up", lambda: door_catchup.run(repetitions=big)),
        Benchmark("hub ingest", lambda: hub_ingest.run(repetitions=big)),
        Benchmark("hub catalog", lambda: hub_catalog.run(repetitions=big)),
        Benchmark("badge render", lambda: badge_render.run(repetitions=small)),
        Benchmark("driver scan", lambda: driver_scan.run(repetitions=big)),
        Benchmark("schedule queries", lambda: schedule_queries.run(repetitions=small)),
        Benchmark("schedule edit to signs", lambda: schedule_signage.run(repetitions=big)),
        Benchmark("schedule import", lambda: schedule_import.run(repetitions=big)),
        Benchmark("kiosk", lambda: kiosk.run(repetitions=big)),
        Benchmark("door page", lambda: door_page.run(repetitions=big)),
        Benchmark("room sign page", lambda: sign_page.run(repetitions=big)),
        Benchmark("staff TUI", lambda: tui.run(repetitions=big)),
        Benchmark("backup and restore", lambda: backup.run(repetitions=big)),
    ]


# --- the machine ---------------------------------------------------------------------------


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _filesystem(path: str) -> str:
    """The filesystem type holding ``path`` (fsync cost depends on it)."""
    best, kind = "", "unknown"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            _, mount, fstype, *_ = line.split()
            if path.startswith(mount) and len(mount) > len(best):
                best, kind = mount, fstype
    except OSError:
        pass
    return kind


def machine() -> list[tuple[str, str]]:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    tmp = tempfile.gettempdir()
    return [
        ("CPUs (nproc)", f"{len(os.sched_getaffinity(0))} ({_cpu_model()})"),
        ("Memory", f"{memory / 2**30:.1f} GiB"),
        ("OS", platform.platform()),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("pycrdt", _version("pycrdt")),
        ("SQLite", f"{sqlite3.sqlite_version} (stdlib sqlite3)"),
        (
            "Also",
            ", ".join(
                f"{p} {_version(p)}" for p in ("msgspec", "litestar", "uvicorn", "uvloop", "websockets")
            ),
        ),
        ("Databases in", f"{tmp} ({_filesystem(tmp)})"),
    ]


def source_digest() -> str:
    """A digest of the code measured: the figures belong to the code that ran, maybe edited since."""
    digest = hashlib.sha256()
    for path in sorted(p for folder in ("sync", "appliance", "hub") for p in (ROOT / folder).rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


# --- rendering --------------------------------------------------------------------------------


def fmt(value: float) -> str:
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _with_unit(value: float, unit: str) -> str:
    return f"{fmt(value)} {unit}".strip()


def _spread(series: Series) -> str:
    return f"{fmt(series.low)}-{fmt(series.high)} {series.unit}".strip()


def _row(row: Row) -> str:
    value = row.value
    cells = [row.metric, f"**{_with_unit(value.median, value.unit)}**", _spread(value)]
    if row.baseline is not None:
        base = row.baseline
        ratio = value.median / base.median if base.median else float("nan")
        cells += [f"{_with_unit(base.median, base.unit)} ({row.baseline_label})", f"{ratio:.2f}x"]
    else:
        cells += ["-", "-"]
    cells.append(row.target or "-")
    return "| " + " | ".join(cells) + " |"


def _table(table: Table) -> list[str]:
    lines = [f"**{table.title}**", "", "| " + " | ".join(table.headers) + " |"]
    lines.append("|" + "|".join("---" for _ in table.headers) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in table.rows]
    return [*lines, ""]


def render_result(result: BenchResult) -> list[str]:
    lines = [f"## {result.title}", "", result.method, ""]
    times = "repetition" if result.repetitions == 1 else "repetitions"
    lines += [f"Medians over {result.repetitions} {times}; min-max is across repetitions.", ""]
    lines += [
        "| Metric | Median | Min-max | Baseline, same run (median) | Ratio to baseline | Target |",
        "|---|---|---|---|---|---|",
    ]
    lines += [_row(row) for row in result.rows]
    lines.append("")
    met = sum(v.met for v in result.verdicts)
    lines.append(f"**Targets: {met} of {len(result.verdicts)} met.**")
    lines.append("")
    for verdict in result.verdicts:
        word = "met" if verdict.met else "NOT met"
        lines.append(f"- {verdict.target}: **{word}** (measured {verdict.measured})")
    lines.append("")
    for table in result.details:
        lines += _table(table)
    if result.notes:
        lines += ["Notes:", ""]
        lines += [f"- {note}" for note in result.notes]
        lines.append("")
    return lines


def render(
    results: list[tuple[str, BenchResult | str]],
    started: datetime,
    seconds: float,
    quick: bool,
    environment: list[tuple[str, str]],
) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`python -m bench.run"
        + (" --quick" if quick else "")
        + "`); do not edit by hand, rerun it.",
        "",
        f"- Date: {started.strftime('%Y-%m-%d %H:%M UTC')} (the run took {seconds / 60:.1f} min)",
    ]
    lines += [f"- {key}: {value}" for key, value in environment]
    if quick:
        lines += ["", "> **--quick run: one repetition of everything. Do not quote these figures.**"]
    lines.append("")
    for name, result in results:
        if isinstance(result, str):
            lines += [f"## {name}", "", "**The benchmark failed:**", "", "```", result.rstrip(), "```", ""]
        else:
            lines += render_result(result)
    return "\n".join(lines).rstrip() + "\n"


def _section(name: str, result: BenchResult | str) -> str:
    if isinstance(result, str):
        return "\n".join(
            [f"## {name}", "", "**The benchmark failed:**", "", "```", result.rstrip(), "```", ""]
        )
    return "\n".join(render_result(result))


def merge(existing: str, results: list[tuple[str, BenchResult | str]], stamp: str) -> str:
    """``existing`` with the sections of ``results`` replaced (or added at the end), and a header line.

    For re-running a few benchmarks after a change (``--only``) without
    pretending the rest was measured again: the header keeps the full run's
    date and machine, and says which sections were re-run when.
    """
    head, _, body = existing.partition("\n## ")
    sections = [f"## {part}" for part in body.split("\n## ")] if body else []
    for name, result in results:
        text = _section(name, result).rstrip() + "\n"
        title = text.split("\n", 1)[0]
        for i, section in enumerate(sections):
            if section.split("\n", 1)[0] == title:
                sections[i] = text
                break
        else:
            sections.append(text)
    head = head.rstrip() + f"\n- Re-run alone since: {stamp}\n"
    return head + "\n" + "\n".join(s.rstrip() + "\n" for s in sections)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the benchmarks and write docs/benchmarks.md.")
    parser.add_argument("--quick", action="store_true", help="one repetition of everything")
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"default: {OUTPUT.relative_to(ROOT)}")
    parser.add_argument(
        "--only",
        metavar="NAMES",
        help="comma-separated benchmark names (e.g. 'schedule queries'): run just these and replace their "
        "sections in the existing output, which says so in its header",
    )
    args = parser.parse_args(argv)
    if args.only:
        return _only(args.only, args.output, args.quick)
    started = datetime.now(UTC)
    environment = machine()
    load_at_start = load_average()
    digest_at_start = source_digest()
    t0 = time.monotonic()
    results: list[tuple[str, BenchResult | str]] = []
    failed = False
    for bench in benchmarks(args.quick):
        progress(f"=== {bench.name} ===")
        try:
            results.append((bench.name, bench.run()))
        except Exception:
            failed = True
            progress(f"{bench.name} FAILED")
            traceback.print_exc()
            results.append((bench.name, traceback.format_exc()))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    environment.append(
        (
            "Load average (1, 5, 15 min)",
            f"{load_at_start} at start, {load_average()} at the end (shared machine)",
        )
    )
    digest = source_digest()
    if digest == digest_at_start:
        environment.append(("source digest (sync, appliance, hub)", f"{digest} (unchanged during the run)"))
    else:
        environment.append(
            (
                "source digest (sync, appliance, hub)",
                f"**changed during the run** ({digest_at_start} -> {digest}): the figures may mix versions",
            )
        )
        progress("warning: sync/ changed during the run; the figures may mix versions")
    args.output.write_text(render(results, started, time.monotonic() - t0, args.quick, environment))
    progress(f"wrote {args.output}")
    return 1 if failed else 0


def _only(names: str, output: Path, quick: bool) -> int:
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    known = {b.name: b for b in benchmarks(quick)}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        progress(f"no benchmark named {', '.join(unknown)} (known: {', '.join(known)})")
        return 2
    started = datetime.now(UTC)
    digest, load = source_digest(), load_average()
    results: list[tuple[str, BenchResult | str]] = []
    failed = False
    for name in wanted:
        progress(f"=== {name} ===")
        try:
            results.append((name, known[name].run()))
        except Exception:
            failed = True
            traceback.print_exc()
            results.append((name, traceback.format_exc()))
    stamp = (
        f"{', '.join(wanted)} on {started.strftime('%Y-%m-%d %H:%M UTC')} "
        f"(`python -m bench.run --only`; load average {load} at start; source digest {digest})"
    )
    existing = output.read_text() if output.exists() else render([], started, 0, quick, machine())
    output.write_text(merge(existing, results, stamp))
    progress(f"wrote {output}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
