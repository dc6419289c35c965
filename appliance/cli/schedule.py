"""``konferenco appliance schedule``: import a pretalx/frab schedule, export it, list its findings.

A thin skin over :mod:`appliance.schedule.transfer`.  An import on a stopped
box writes through a replica of its own and holds the box's lock meanwhile (a
box started then waits for it); on a serving box it goes through the box's
API on ``--port`` (see :mod:`appliance.schedule.standalone`).  Exports and
findings only read what is stored, so they work either way.

Exit codes: 0 done; 1 refused (the problems or findings are listed, nothing
was written); 2 usage error.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click
import msgspec

from appliance.cli.common import DATA_OPTION, provisioned
from appliance.config import DataDir

#: Warnings printed per rule (an import into an event of other dates warns for every session).
WARNINGS_PER_RULE = 10
EVENT_OPTION = click.option("--event", help="Event (default: the appliance's first event).")
PORT_OPTION = click.option(
    "--port",
    default=8080,
    show_default=True,
    type=int,
    help="Where the appliance serves, if it does: the import then goes through its API.",
)


@click.group("schedule", context_settings={"help_option_names": ["-h", "--help"]})
def schedule() -> None:
    """The event's schedule: import a pretalx/frab file, export it, list what the rules find."""


def _event(data: DataDir, event: str | None) -> str:
    config = data.load()
    if event is None:
        return config.events[0]
    if event not in config.events:
        raise click.ClickException(
            f"this appliance does not serve event '{event}' ({', '.join(config.events)})"
        )
    return event


def _say_refusal(body: dict[str, Any]) -> None:
    """Every problem of a refused file, or every finding of a refused result, one per line (stderr)."""
    details = body.get("details") or {}
    for problem in details.get("problems") or []:
        line = f" (line {problem['line']})" if problem.get("line") else ""
        who = f" [{problem['source_id']}]" if problem.get("source_id") else ""
        click.echo(f"refused: {problem.get('where', '')}{line}{who}: {problem.get('reason', '')}", err=True)
    if details.get("more"):
        click.echo(f"refused: ... and {details['more']} more problems", err=True)
    for finding in details.get("findings") or []:
        click.echo(f"refused: {finding['rule']}: {finding['message']}", err=True)


def _say_outcome(outcome: dict[str, Any], file: Path) -> None:
    report = outcome["report"]
    for problem in report.get("skipped") or []:
        who = f" [{problem['source_id']}]" if problem.get("source_id") else ""
        line = f" (line {problem['line']})" if problem.get("line") else ""
        click.echo(f"skipped: {problem['where']}{line}{who}: {problem['reason']}", err=True)
    said: dict[str, int] = {}
    for finding in outcome.get("warnings") or []:
        said[finding["rule"]] = said.get(finding["rule"], 0) + 1
        if said[finding["rule"]] <= WARNINGS_PER_RULE:
            click.echo(f"warning: {finding['rule']}: {finding['message']}", err=True)
    for rule, count in said.items():
        if count > WARNINGS_PER_RULE:
            click.echo(f"warning: {rule}: ... and {count - WARNINGS_PER_RULE} more like these", err=True)
    prefix = "dry run, nothing written: " if outcome["dry_run"] else ""
    sentences = report.get("sentences") or [outcome.get("summary", "")]
    click.echo(f"{file.name}: {prefix}{sentences[0]}")
    for sentence in sentences[1:]:
        click.echo(f"  {sentence}")


def _import_here(
    data: DataDir, event_id: str, file: Path, body: bytes, dry_run: bool, overlaps: str | None
) -> dict[str, Any]:
    """On the stopped box: the service over a replica of our own, with a progress bar."""
    from rich.progress import Progress

    from appliance.schedule.standalone import writable_schedule
    from appliance.schedule.transfer import import_schedule
    from konferenco.errors import KonferencoError

    async def run(progress: Any) -> dict[str, Any]:
        async with writable_schedule(data, f"schedule import {file.name}") as service:
            outcome = await import_schedule(
                service, event_id, body, file.name, dry_run=dry_run, progress=progress,
                by="command line", overlap_reason=overlaps,
            )  # fmt: skip
        value: dict[str, Any] = msgspec.to_builtins(outcome)
        return value

    with Progress(transient=True, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task(f"importing {file.name}", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, description=f"writing sessions of {file.name}", completed=done, total=total)

        try:
            return asyncio.run(run(progress))
        except KonferencoError as exc:
            bar.stop()
            _say_refusal(exc.body())
            raise click.ClickException(f"{file.name}: {exc.message}") from None


def _import_there(
    data: DataDir, event_id: str, file: Path, body: bytes, dry_run: bool, overlaps: str | None, port: int
) -> dict[str, Any]:
    """On the serving box: through its API, signed in as an organizer with the box's own staff secret."""
    import httpx

    from appliance.schedule.standalone import ServingLock
    from appliance.staff.service import StaffRole

    token = data.staff_tokens().issue("cli", "Command line", StaffRole.ORGANIZER, 600)
    url = f"http://127.0.0.1:{port}/api/v1/schedule/import"
    params = {"event": event_id, "filename": file.name, "dry_run": "true" if dry_run else "false"}
    if overlaps:
        params["approve_overlaps"] = overlaps
    click.echo(f"the appliance serves {data.path}: importing through its API on port {port}", err=True)
    try:
        response = httpx.post(
            url, params=params, content=body, headers={"Authorization": f"Bearer {token}"}, timeout=300
        )
    except httpx.HTTPError as exc:
        holder = ServingLock(data).holder() or "an appliance"
        raise click.ClickException(
            f"{holder} holds {data.path}, but nothing answers on 127.0.0.1:{port} ({exc}); pass --port with "
            "the port it serves on, or stop it and import again"
        ) from None
    answer: dict[str, Any] = response.json() if response.content else {}
    if response.status_code != 200:
        _say_refusal(answer)
        raise click.ClickException(f"{file.name}: {answer.get('message') or response.reason_phrase}")
    return answer


@schedule.command("import")
@DATA_OPTION
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@EVENT_OPTION
@click.option("--dry-run", is_flag=True, help="Read, check and report, but write nothing.")
@click.option(
    "--approve-overlaps",
    "overlaps",
    metavar="REASON",
    help="Approve the file's own room overlaps (two of its sessions in one room at once) with this "
    "reason, recorded on each; without it such a file is refused.",
)
@PORT_OPTION
def import_command(
    data_dir: Path, file: Path, event: str | None, dry_run: bool, overlaps: str | None, port: int
) -> None:
    """Import FILE (pretalx or frab schedule JSON, frab schedule.xml), all or nothing.

    Rooms and sessions are created or updated by the file's stable ids;
    nothing missing from the file is removed. Prints what was created,
    updated, left unchanged and skipped (with where and why). A file that
    cannot be read whole, or a result that a blocking rule refuses, writes
    nothing and exits 1 with every problem listed.
    """
    from appliance.schedule.standalone import is_served
    from konferenco.schedule.formats.limits import MAX_BYTES

    data, _ = provisioned(data_dir)
    event_id = _event(data, event)
    size = file.stat().st_size
    if size > MAX_BYTES:
        raise click.ClickException(
            f"{file.name} is {size / 1024 / 1024:.0f} MB; "
            f"a schedule file is at most {MAX_BYTES // 1024 // 1024} MB"
        )
    body = file.read_bytes()
    if is_served(data):
        outcome = _import_there(data, event_id, file, body, dry_run, overlaps, port)
    else:
        outcome = _import_here(data, event_id, file, body, dry_run, overlaps)
    _say_outcome(outcome, file)


@schedule.command("export")
@DATA_OPTION
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["ics", "xml", "json"]),
    required=True,
    help="iCalendar, frab XML or JSON.",
)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: stdout)."
)
@click.option("--room", help="iCalendar: only this room's sessions (room id).")
@click.option("--speaker", help="iCalendar: only this speaker's sessions (name or attendee id).")
@EVENT_OPTION
def export_command(
    data_dir: Path, fmt: str, out: Path | None, room: str | None, speaker: str | None, event: str | None
) -> None:
    """Export the schedule: every scheduled session, grassroots ones included.

    Reads what is stored; safe while the appliance serves.
    """
    from appliance.schedule.standalone import read_index
    from appliance.schedule.transfer import render

    data, _ = provisioned(data_dir)
    event_id = _event(data, event)
    if (room or speaker) and fmt != "ics":
        raise click.UsageError("--room and --speaker filter the iCalendar export (--format ics) only")
    index = asyncio.run(read_index(data, event_id))
    if room is not None and room not in index.rooms:
        raise click.ClickException(
            f"there is no room '{room}' in this event ({', '.join(sorted(index.rooms))})"
        )
    body = render(index, fmt, room=room, speaker=speaker)  # type: ignore[arg-type]  # a Choice of the three
    if out is None:
        sys.stdout.buffer.write(body)
        return
    try:
        out.write_bytes(body)
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror}") from None
    shown = sum(1 for s in index.sessions.values() if s.placed)
    click.echo(f"{out}: {fmt} export of {shown} scheduled sessions in {len(index.rooms)} rooms", err=True)


@schedule.command("findings")
@DATA_OPTION
@EVENT_OPTION
def findings_command(data_dir: Path, event: str | None) -> None:
    """List what the rules find in the schedule now, and grassroots decisions that conflict.

    One line per finding: its severity, rule and sentence. Reads what is
    stored; safe while the appliance serves.
    """
    from appliance.schedule.standalone import read_schedule_state
    from konferenco.schedule.grassroots import proposal_states, slot_conflicts

    data, _ = provisioned(data_dir)
    event_id = _event(data, event)
    state, frame = asyncio.run(read_schedule_state(data, event_id))
    index = state.index(frame)
    found = index.findings()
    for finding in found:
        click.echo(f"{finding.severity:<5}  {finding.rule:<15}  {finding.message}")
    _, late = proposal_states({d.proposal_id for d in state.decisions}, state.decisions)
    conflicts = late + slot_conflicts(index, state.decisions)
    for conflict in conflicts:
        click.echo(f"conflict  {conflict.rule:<15}  {conflict.message}")
    placed = sum(1 for s in state.sessions.values() if s.placed)
    blocking = sum(1 for f in found if f.severity == "block")
    click.echo(
        f"{len(found)} findings ({blocking} blocking) and {len(conflicts)} grassroots conflicts "
        f"in {placed} scheduled sessions of event '{event_id}'",
        err=True,
    )
