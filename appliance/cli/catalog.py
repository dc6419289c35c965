"""The catalog from the command line: importing attendees, exporting their badges."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from appliance.catalog.export import NoCatalog, export_badges
from appliance.cli.common import DATA_OPTION, provisioned
from appliance.config import DataDir, NotProvisioned
from konferenco.catalog.csv_reader import CsvOptions, Problem, group_problems


def _mapping(mappings: tuple[str, ...]) -> dict[str, str]:
    mapping = {}
    for item in mappings:
        field, sep, column = item.partition("=")
        if not sep or not field or not column:
            raise click.UsageError(f"--map needs FIELD=COLUMN, not {item!r}")
        mapping[field.strip()] = column.strip()
    return mapping


def _say_problems(verdict: str, problems: list[Problem], every_one: bool) -> None:
    """One line per kind of problem (with a few line numbers), or with EVERY_ONE one per row."""
    if every_one:
        lines = [str(problem) for problem in problems]
    else:
        lines = [str(group) for group in group_problems(problems)]
    for line in lines:
        click.echo(f"{verdict}: {line}", err=True)


@click.command("import")
@DATA_OPTION
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["bundle", "csv"]), help="Default: csv for *.csv, else bundle."
)
@click.option("--event", help="Event the file is for (default: the appliance's first event).")
@click.option(
    "--map", "mappings", multiple=True, metavar="FIELD=COLUMN", help="CSV: which column holds a field."
)
@click.option("--ticket-type", help="CSV: ticket type for rows without one (id or name).")
@click.option("--delimiter", help="CSV: field separator (default: detected).")
@click.option("--skip-invalid", is_flag=True, help="CSV: import the valid rows even if some are rejected.")
@click.option(
    "--all-problems",
    is_flag=True,
    help="List every rejected row on its own line (default: identical problems once, with their lines).",
)
def import_command(
    data_dir: Path,
    file: Path,
    fmt: str | None,
    event: str | None,
    mappings: tuple[str, ...],
    ticket_type: str | None,
    delimiter: str | None,
    skip_invalid: bool,
    all_problems: bool,
) -> None:
    """Import a signed catalog bundle or an attendee CSV, all or nothing.

    Rejected rows are listed with their lines and the reason, identical
    problems once (--all-problems: every row). Exit code 0: imported;
    1: rejected (nothing changed); 2: usage error.
    """
    from rich.progress import Progress

    from appliance.catalog.importer import ImportRejected
    from appliance.catalog.roster import CatalogConflict
    from appliance.storage import import_file
    from konferenco.catalog.bundle import BundleError

    options = CsvOptions(mapping=_mapping(mappings), default_ticket_type=ticket_type, delimiter=delimiter)
    with Progress(transient=True) as bar:
        task = bar.add_task(f"importing {file.name}", total=None)

        def progress(phase: str, done: int, total: int) -> None:
            bar.update(task, description=f"{phase} {file.name}", completed=done, total=total)

        try:
            report = asyncio.run(
                import_file(
                    DataDir(data_dir),
                    file,
                    fmt=fmt,
                    event_id=event,
                    options=options,
                    skip_invalid=skip_invalid,
                    progress=progress,
                )
            )
        except ImportRejected as exc:
            bar.stop()
            _say_problems("rejected", exc.report.problems, all_problems)
            raise click.ClickException(f"{file.name}: {exc}") from None
        except (BundleError, CatalogConflict, NotProvisioned) as exc:
            raise click.ClickException(str(exc)) from None
    _say_problems("skipped", report.problems, all_problems)
    result = report.result
    assert result is not None
    click.echo(
        f"{file.name}: {report.rows} rows read; {result.added} added, {result.updated} updated, "
        f"{result.removed} removed, {len(report.rejected_lines)} skipped (catalog revision {result.revision})"
    )


@click.command("badges")
@DATA_OPTION
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV file to write (default: badges.csv in the data directory).",
)
@click.option("--event", help="Event (default: the appliance's first event).")
def badges(data_dir: Path, out: Path | None, event: str | None) -> None:
    """Export every attendee's badge code (for a print shop) as CSV.

    The columns are the hub's badge CSV's; badge_code is the second.
    """
    data, config = provisioned(data_dir)
    try:
        done = export_badges(data, event or config.events[0], out)
    except NoCatalog as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {exc.filename or out}: {exc.strerror}") from None
    missing = f" ({done.without_code} without a code)" if done.without_code else ""
    click.echo(f"{done.rows} badges written to {done.path}{missing}")
