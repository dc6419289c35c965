"""``konferenco talos flash`` as a technician uses it: listing, refusals, the typed-back confirmation."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
import zstandard

from talos.flash.writer import MIB, FlashReport
from tests.helpers import KONFERENCO, CliResult, konferenco
from tests.talos.test_flash_drives import FIXTURES
from tests.talos.test_flash_write import loop_device as loop_device  # the fixture, used below
from tests.talos.test_flash_write import make_image

LAPTOP = str(FIXTURES / "laptop-nvme-usb-stick.json")


def flash(*args: str, input: str | None = None) -> CliResult:
    return konferenco("talos", "flash", *args, check=False, input=input)


def test_without_device_it_lists_the_drives_and_writes_nothing(tmp_path: Path) -> None:
    image, _ = make_image(tmp_path)
    result = flash(str(image), "--lsblk-json", LAPTOP)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    offered, refused = out.split("Not offered:")
    assert "/dev/sda  30.8 GB  Ultra  serial 4C530001230321117253  usb" in offered
    assert "/dev/nvme0n1" not in offered
    assert "✖ /dev/nvme0n1 is a system disk: it holds the running system's /boot/efi" in refused
    assert "/dev/loop0" not in out  # snaps are noise
    assert "Nothing was written: name the drive with --device" in out
    assert not (tmp_path / f"{image.name}.flash-report.json").exists()


def test_system_read_only_partition_and_absent_devices_are_refused(tmp_path: Path) -> None:
    image, _ = make_image(tmp_path)
    cases = {
        (
            LAPTOP,
            "/dev/nvme0n1",
        ): "refused: /dev/nvme0n1 is a system disk: it holds the running system's /boot/efi",
        (LAPTOP, "/dev/sda1"): "refused: /dev/sda1 is a partition of /dev/sda: name the whole drive",
        (LAPTOP, "/dev/sdq"): "refused: there is no drive /dev/sdq (unplugged? run without --device",
        (
            str(FIXTURES / "read-only-card.json"),
            "/dev/sdb",
        ): "refused: /dev/sdb is read-only (a locked SD card or a write-protected stick)",
        (str(FIXTURES / "small-stick-and-128g-disk.json"), "/dev/sdb"): None,  # fits a 5 MB image
    }
    for (fixture, device), message in cases.items():
        result = flash(str(image), "--device", device, "--lsblk-json", fixture, input="wrong\n")
        assert result.returncode == 1, (device, result.stdout, result.stderr)
        if message:
            assert message in result.stderr, result.stderr
            assert "Nothing was written." in result.stderr
        else:  # offered, but the technician typed the wrong thing back
            assert "Type its size as shown (1.0 GB) or its serial" in result.stderr
            assert "refused: 'wrong' is neither the size nor the serial of /dev/sdb" in result.stderr
    assert not list(tmp_path.glob("*.flash-report.json"))


def test_the_big_disk_is_warned_about_before_the_question(tmp_path: Path) -> None:
    image, _ = make_image(tmp_path)
    fixture = str(FIXTURES / "small-stick-and-128g-disk.json")
    result = flash(str(image), "--device", "/dev/sdc", "--lsblk-json", fixture, input="no\n")
    assert result.returncode == 1
    assert "! warning: /dev/sdc is larger than 64 GB (128.0 GB)" in result.stderr
    assert "This erases the drive /dev/sdc: 128.0 GB  Portable SSD T7  serial S5SCNS0T123456" in result.stderr


def test_bad_arguments_are_refused_in_a_sentence(tmp_path: Path) -> None:
    image, _ = make_image(tmp_path)
    result = flash(str(image), "--device", str(tmp_path / "o.img"), "--sha256", "1234")
    assert result.returncode == 1 and "--sha256 must be 64 hexadecimal digits, not '1234'" in result.stderr
    result = flash(str(tmp_path / "talos.qcow2"), "--device", str(tmp_path / "o.img"))
    assert result.returncode == 1 and "talos.qcow2: not an image this tool writes" in result.stderr
    result = flash(str(image), "--device", str(image), "--yes")
    assert result.returncode == 1 and f"{image} is the image file itself" in result.stderr
    result = flash(str(image), "--device", str(tmp_path / "no" / "o.img"), "--yes")
    assert result.returncode == 1 and "the folder of" in result.stderr


def test_typed_back_size_flashes_an_existing_file(tmp_path: Path) -> None:
    image, data = make_image(tmp_path, "zst")
    target = tmp_path / "stick.img"
    target.write_bytes(bytes(8_000_000))
    result = flash(str(image), "--device", str(target), input="wrong\n")
    assert result.returncode == 1 and "'wrong' is neither the size nor the serial" in result.stderr
    assert f"This replaces the file {target}: 8.0 MB" in result.stderr
    assert target.read_bytes() == bytes(8_000_000)  # untouched
    result = flash(str(image), "--device", str(target), input="8.0 GB\n")  # not the size shown
    assert result.returncode == 1
    result = flash(str(image), "--device", str(target), input="8.0mb\n")  # as shown, any case/spacing
    assert result.returncode == 0, result.stderr
    assert "✔ verified: 5342883 bytes written to" in result.stdout
    assert target.read_bytes() == data


def test_yes_with_a_file_writes_the_default_report_next_to_the_image(tmp_path: Path) -> None:
    image, data = make_image(tmp_path, "xz")
    target = tmp_path / "out.img"
    want = hashlib.sha256(data).hexdigest()
    result = flash(str(image), "--device", str(target), "--sha256", want.upper(), "--yes")
    assert result.returncode == 0, result.stderr
    report_path = tmp_path / f"{image.name}.flash-report.json"
    assert f"Report: {report_path}" in result.stdout
    assert "Writing" not in result.stderr  # no progress bar when no one watches a terminal
    report = json.loads(report_path.read_text())
    assert report["result"] == "verified" and report["readback_sha256"] == want
    assert target.read_bytes() == data


def test_wrong_sha256_exits_non_zero_and_reports_failed(tmp_path: Path) -> None:
    image, _ = make_image(tmp_path, "raw")
    report_path = tmp_path / "custom.json"
    result = flash(
        str(image),
        "--device",
        str(tmp_path / "o.img"),
        "--sha256",
        "0" * 64,
        "--yes",
        "--report",
        str(report_path),
    )
    assert result.returncode == 1
    assert "✖ failed: the image's sha256 is" in result.stdout
    assert "verified" not in result.stdout
    assert json.loads(report_path.read_text())["result"] == "failed"


def test_yes_flashes_a_loop_device_from_the_real_drive_list(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    device, _ = request.getfixturevalue("loop_device")
    image, data = make_image(tmp_path, "raw")
    listing = flash(str(image))
    assert listing.returncode == 0
    result = flash(str(image), "--device", device, "--yes")
    assert result.returncode == 0, result.stderr
    assert f"written to {device}" in result.stdout and "(O_DIRECT)" in result.stdout
    with open(device, "rb") as f:
        assert f.read(len(data)) == data


def test_a_killed_flash_leaves_a_failed_report_not_an_old_verified_one(tmp_path: Path) -> None:
    """kill -9 half way through (the laptop dies): the report on disk says "failed: interrupted"."""
    image = tmp_path / "zeros.raw.zst"
    image.write_bytes(zstandard.ZstdCompressor(level=1).compress(bytes(512 * MIB)))
    report_path = tmp_path / "report.json"
    FlashReport(device={}, image={}, result="verified", reason=None).save(report_path)  # last week's
    target = tmp_path / "out.img"
    args = [
        *KONFERENCO,
        "talos",
        "flash",
        str(image),
        "--device",
        str(target),
        "--yes",
        "--report",
        str(report_path),
    ]
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        deadline = time.monotonic() + 60
        while not (target.exists() and target.stat().st_size > 16 * MIB):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the flash did not start writing"
            time.sleep(0.005)
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    report = json.loads(report_path.read_text())
    assert report["result"] == "failed"
    assert report["reason"] == "interrupted: the flash did not finish"
