"""``konferenco talos flash``: write an OS image to a stick or card, never the wrong drive, and verify it.

The rules are in :mod:`talos.flash.drives`, the writing in :mod:`talos.flash.writer`; this module
asks the technician and tells them (docs/flashing.md).
"""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from talos.flash import drives as drv
from talos.flash.source import ImageError, ImageSource, open_image
from talos.flash.writer import FlashReport, Progress, Target, run_flash

SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def _refuse(message: str) -> click.ClickException:
    return click.ClickException(f"refused: {message}. Nothing was written.")


def _listing(image: ImageSource, verdicts: list[drv.Verdict]) -> None:
    size = f"{drv.format_size(image.size)}, {image.size} bytes" if image.size else "size not stated"
    click.echo(f"Image {image.path.name} ({image.format}, {size} decompressed).")
    offered = [v for v in verdicts if v.offered and not v.hidden]
    refused = [v for v in verdicts if not v.offered and not v.hidden]
    if offered:
        click.echo("Drives it can be written to:")
        for v in offered:
            click.echo(f"  {v.drive.label}")
            for warning in v.warnings:
                click.echo(f"    ! {warning}")
    else:
        click.echo("No drive can be written: plug in a USB stick or an SD card and run this again.")
    if refused:
        click.echo("Not offered:")
        for v in refused:
            click.echo(f"  {v.drive.label}")
            for reason in v.refusals:
                click.echo(f"    ✖ {reason}")
    click.echo("Nothing was written: name the drive with --device (e.g. --device /dev/sdX).")


def _lsblk(lsblk_json: Path | None) -> str:
    if lsblk_json is not None:
        return lsblk_json.read_text(encoding="utf-8")
    try:
        return drv.read_lsblk()
    except (OSError, ValueError) as exc:
        raise _refuse(f"cannot list the drives ({exc})") from exc


def _block_target(
    device: str, output: str, image: ImageSource, image_devices: set[str]
) -> tuple[Target, drv.Verdict]:
    found = next((d for d in drv.all_devices(output) if d.path == device), None)
    if found is None:
        raise _refuse(f"{device} is a block device lsblk does not list")
    verdict = drv.judge(found, image_size=image.size, image_devices=image_devices)
    if verdict.refusals:
        raise _refuse("; ".join(verdict.refusals))
    d = verdict.drive
    return Target(d.path, "block", model=d.model, serial=d.serial, size=d.size), verdict


def _resolve(device: str, image: ImageSource, lsblk_json: Path | None) -> tuple[Target, list[str]]:
    """What --device names, judged; refusals raise.  Returns the target and the warnings.

    A /dev/disk/by-id/... link is followed to its drive; a path under /dev that is not a drive is
    refused (never created as a file on devtmpfs when the stick is unplugged).
    """
    path = os.path.realpath(device) if device.startswith("/dev/") else device
    is_block = os.path.exists(path) and stat.S_ISBLK(os.stat(path).st_mode)
    if is_block or lsblk_json is not None:
        output = _lsblk(lsblk_json)
        if is_block or path in {d.path for d in drv.all_devices(output)}:
            target, verdict = _block_target(path, output, image, _image_devices(image))
            return target, list(verdict.warnings)
    if path.startswith("/dev/") and not path.startswith("/dev/shm/"):
        raise _refuse(f"there is no drive {device} (unplugged? run without --device to list the drives)")
    if os.path.exists(path):
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise _refuse(f"{device} is neither a drive nor a regular file")
        if os.path.samefile(path, image.path):
            raise _refuse(f"{device} is the image file itself")
        return Target(path, "file", size=st.st_size), []
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise _refuse(f"the folder of {device} does not exist")
    return Target(path, "file", size=0), []


def _image_devices(image: ImageSource) -> set[str]:
    try:
        return drv.devices_of(image.path)
    except OSError:
        return set()


def _normal(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def _confirm(target: Target) -> None:
    """The technician types back the size (as shown) or the serial: they look at the right drive."""
    shown = drv.format_size(target.size or 0)
    if target.kind == "block":
        model, serial = target.model or "(no model)", target.serial or "(none)"
        click.echo(f"This erases the drive {target.path}: {shown}  {model}  serial {serial}", err=True)
    else:
        click.echo(f"This replaces the file {target.path}: {shown}", err=True)
    answers = {_normal(shown), str(target.size)}
    if target.serial:
        answers.add(_normal(target.serial))
        ask = f"Type its size as shown ({shown}) or its serial to write to it"
    else:
        ask = f"Type its size as shown ({shown}) to write to it"
    typed = click.prompt(ask, default="", show_default=False, err=True)
    if _normal(typed) not in answers:
        raise _refuse(f"'{typed}' is neither the size nor the serial of {target.path}")


@contextmanager
def _progress(enabled: bool) -> Iterator[Progress | None]:
    """A progress bar on stderr (bytes, speed, ETA) when a person watches; quiet otherwise."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )
    from rich.progress import Progress as Bar

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Bar(*columns, console=Console(stderr=True)) as bar:
        tasks: dict[str, object] = {}

        def update(phase: str, done: int, total: int | None) -> None:
            if phase not in tasks:
                label = "Writing  " if phase == "write" else "Verifying"
                tasks[phase] = bar.add_task(label, total=total)
            bar.update(tasks[phase], completed=done, total=total)  # type: ignore[arg-type]

        yield update


def _summary(report: FlashReport, report_path: Path) -> str:
    if report.result == "verified":
        speed = report.bytes_written / max(report.write_seconds or 0, 1e-6) / 1e6
        return (
            f"✔ verified: {report.bytes_written} bytes written to {report.device['path']} "
            f"in {report.write_seconds:.1f} s ({speed:.1f} MB/s), read back in {report.verify_seconds:.1f} s "
            f"({report.verify_method}); sha256 {report.readback_sha256}\nReport: {report_path}"
        )
    return f"✖ failed: {report.reason}\nReport: {report_path}"


@click.command("flash", short_help="Write an OS image to a USB stick or SD card, and verify it.")
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--device", "-d", metavar="DEV", help="The whole drive to write (e.g. /dev/sdb), or a file to write into."
)
@click.option("--sha256", "expected", metavar="HEX", help="The sha256 of the decompressed image (manifest).")
@click.option("--yes", is_flag=True, help="Do not ask to type the size back: --device names the drive.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to store the JSON flash report  [default: IMAGE.flash-report.json]",
)
@click.option(
    "--lsblk-json",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    hidden=True,
    help="Judge the drives of a recorded `lsblk --json` output instead of this machine's (tests, support).",
)
def flash(
    image: Path,
    device: str | None,
    expected: str | None,
    yes: bool,
    report_path: Path | None,
    lsblk_json: Path | None,
) -> None:
    """Write IMAGE (.raw, .raw.xz, .raw.zst, .iso) to a USB stick or SD card and verify it.

    Without --device, lists the drives it may write and stops.  System disks, read-only cards, the
    drive holding IMAGE and drives too small are refused.  The image is read back with the page
    cache bypassed and its sha256 compared; the JSON report says "verified" only then.
    """
    if expected is not None and not SHA256.match(expected):
        raise _refuse(f"--sha256 must be 64 hexadecimal digits, not '{expected}'")
    try:
        source = open_image(image)
    except ImageError as exc:
        raise _refuse(str(exc)) from exc
    if device is None:
        verdicts = drv.judge_all(
            drv.parse_lsblk(_lsblk(lsblk_json)), image_size=source.size, image_devices=_image_devices(source)
        )
        _listing(source, verdicts)
        return
    target, warnings = _resolve(device, source, lsblk_json)
    for warning in warnings:
        click.echo(f"! warning: {warning}", err=True)
    if not yes and (target.kind == "block" or (target.size or 0) > 0):
        _confirm(target)
    report_path = report_path or image.with_name(image.name + ".flash-report.json")
    with _progress(sys.stderr.isatty()) as progress:
        report = run_flash(
            source, target, report_path, expected_sha256=expected, warnings=warnings, progress=progress
        )
    click.echo(_summary(report, report_path))
    if report.result != "verified":
        sys.exit(1)
