"""Writing and verifying for real: regular files and loop devices, no mock of the write path."""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard

from talos.flash.source import ImageError, open_image
from talos.flash.writer import MIB, FlashReport, Target, run_flash

FORMATS = {"raw": ".raw", "xz": ".raw.xz", "zst": ".raw.zst", "iso": ".iso"}


def image_bytes(seed: int = 1) -> bytes:
    """A few MiB like a real image: random blocks, a long run of zeros, an unaligned random tail."""
    rnd = random.Random(seed)
    return rnd.randbytes(3 * MIB) + bytes(2 * MIB) + rnd.randbytes(100_003)


def make_image(folder: Path, kind: str = "raw", data: bytes | None = None) -> tuple[Path, bytes]:
    data = image_bytes() if data is None else data
    path = folder / f"talos-metal-arm64{FORMATS[kind]}"
    if kind == "xz":
        path.write_bytes(lzma.compress(data, preset=0))
    elif kind == "zst":
        path.write_bytes(zstandard.ZstdCompressor(level=3).compress(data))
    else:
        path.write_bytes(data)
    return path, data


def saved(path: Path) -> dict[str, Any]:
    stored: dict[str, Any] = json.loads(path.read_text())
    return stored


@pytest.fixture
def loop_device(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A 16 MiB loop device full of stale 0xff bytes (skips where losetup is not allowed)."""
    yield from _loop(tmp_path, 16 * MIB)


@pytest.fixture
def small_loop_device(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    yield from _loop(tmp_path, 4 * MIB)


def _loop(tmp_path: Path, size: int) -> Iterator[tuple[str, Path]]:
    backing = tmp_path / f"disk-{size}.img"
    backing.write_bytes(b"\xff" * size)
    try:
        done = subprocess.run(
            ["losetup", "--find", "--show", str(backing)], capture_output=True, text=True, timeout=30
        )
    except FileNotFoundError:
        pytest.skip("losetup is not installed here: loop-device flashing is tested where it is")
    if done.returncode != 0:
        pytest.skip(f"losetup is not allowed here ({done.stderr.strip()}): the file tests cover the rest")
    device = done.stdout.strip()
    try:
        yield device, backing
    finally:
        subprocess.run(["losetup", "--detach", device], check=False, timeout=30)


@pytest.mark.parametrize("kind", ["raw", "xz", "zst", "iso"])
def test_flash_to_a_regular_file_is_verified_and_byte_identical(tmp_path: Path, kind: str) -> None:
    image, data = make_image(tmp_path, kind)
    target = tmp_path / "out.img"
    target.write_bytes(b"old contents " * 1000)  # overwritten, not kept
    source = open_image(image)
    assert source.size == len(data)  # from the xz index / zstd frame header / the file
    want = hashlib.sha256(data).hexdigest()
    report_path = tmp_path / "report.json"
    report = run_flash(source, Target(str(target), "file"), report_path, expected_sha256=want)
    assert report.result == "verified", report.reason
    assert target.read_bytes() == data
    stored = saved(report_path)
    assert stored["result"] == "verified" and stored["reason"] is None
    assert stored["image_sha256"] == stored["written_sha256"] == stored["readback_sha256"] == want
    assert stored["bytes_written"] == len(data)
    assert stored["verify_method"] in ("O_DIRECT", "posix_fadvise(DONTNEED)")
    assert stored["image"]["format"] == kind and stored["device"]["path"] == str(target)
    assert stored["write_seconds"] >= 0 and stored["verify_seconds"] >= 0


def test_wrong_sha256_fails_before_verify_and_leaves_the_first_mib_unwritten(tmp_path: Path) -> None:
    image, data = make_image(tmp_path, "zst")
    target, report_path = tmp_path / "out.img", tmp_path / "r.json"
    report = run_flash(open_image(image), Target(str(target), "file"), report_path, expected_sha256="ab" * 32)
    assert report.result == "failed"
    assert f"sha256 is {hashlib.sha256(data).hexdigest()}, not {'ab' * 32}" in (report.reason or "")
    stored = saved(report_path)
    assert stored["result"] == "failed" and stored["readback_sha256"] is None
    written = target.read_bytes()
    assert written[:MIB] == bytes(MIB)  # held back: the medium does not boot a wrong image
    assert written[MIB:] == data[MIB:]


def test_one_corrupted_byte_after_writing_fails_the_verify(tmp_path: Path) -> None:
    image, data = make_image(tmp_path, "raw")
    target, report_path = tmp_path / "out.img", tmp_path / "r.json"

    def corrupt(path: str) -> None:
        with open(path, "r+b") as f:
            f.seek(4 * MIB + 17)
            byte = f.read(1)
            f.seek(4 * MIB + 17)
            f.write(bytes([byte[0] ^ 0x01]))

    report = run_flash(open_image(image), Target(str(target), "file"), report_path, after_write=corrupt)
    assert report.result == "failed"
    assert "read-back does not match" in (report.reason or "")
    stored = saved(report_path)
    assert stored["written_sha256"] == hashlib.sha256(data).hexdigest() == stored["image_sha256"]
    assert stored["readback_sha256"] == hashlib.sha256(target.read_bytes()).hexdigest()
    assert stored["readback_sha256"] != stored["written_sha256"]


def test_without_o_direct_the_cache_is_dropped_and_said_so(tmp_path: Path) -> None:
    image, data = make_image(tmp_path, "xz")
    target, report_path = tmp_path / "out.img", tmp_path / "r.json"
    report = run_flash(open_image(image), Target(str(target), "file"), report_path, direct=False)
    assert report.result == "verified"
    assert saved(report_path)["verify_method"] == "posix_fadvise(DONTNEED)"
    assert saved(report_path)["write_method"] == "buffered"
    assert target.read_bytes() == data


def test_flash_a_loop_device_with_o_direct(tmp_path: Path, loop_device: tuple[str, Path]) -> None:
    device, _ = loop_device
    image, data = make_image(tmp_path, "xz")
    report_path = tmp_path / "r.json"
    target = Target(device, "block", size=16 * MIB)
    report = run_flash(
        open_image(image), target, report_path, expected_sha256=hashlib.sha256(data).hexdigest()
    )
    assert report.result == "verified", report.reason
    stored = saved(report_path)
    assert stored["verify_method"] == "O_DIRECT" and stored["write_method"] == "O_DIRECT"
    with open(device, "rb") as f:
        medium = f.read()
    assert len(medium) == 16 * MIB
    assert medium[: len(data)] == data
    assert medium[-MIB:] == bytes(MIB)  # the stale end (a backup GPT) was zeroed
    assert medium[len(data) : 15 * MIB] == b"\xff" * (15 * MIB - len(data))  # the rest untouched


def test_a_drive_too_small_fails_while_writing(tmp_path: Path, small_loop_device: tuple[str, Path]) -> None:
    device, _ = small_loop_device
    image, _ = make_image(tmp_path, "raw")
    report_path = tmp_path / "r.json"
    report = run_flash(open_image(image), Target(device, "block"), report_path)
    assert report.result == "failed"
    assert f"the image is larger than {device} ({4 * MIB} bytes)" in (report.reason or "")
    assert saved(report_path)["result"] == "failed"


def test_a_write_failing_half_way_reports_failure(tmp_path: Path) -> None:
    image, _ = make_image(tmp_path, "raw")
    report_path = tmp_path / "r.json"
    FlashReport(device={}, image={}, result="verified", reason=None).save(report_path)  # an old run's

    def unplugged(done: int) -> None:
        assert saved(report_path)["result"] == "failed"  # already, while writing
        if done >= 4 * MIB:
            raise OSError(5, "Input/output error")

    report = run_flash(
        open_image(image), Target(str(tmp_path / "o.img"), "file"), report_path, after_chunk=unplugged
    )
    assert report.result == "failed" and "Input/output error" in (report.reason or "")
    assert saved(report_path)["result"] == "failed"
    assert saved(report_path)["bytes_written"] == 4 * MIB


def test_an_interrupted_flash_leaves_no_verified_report(tmp_path: Path) -> None:
    image, _ = make_image(tmp_path, "zst")
    report_path = tmp_path / "r.json"
    FlashReport(device={}, image={}, result="verified", reason=None).save(report_path)

    def ctrl_c(done: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_flash(open_image(image), Target(str(tmp_path / "o.img"), "file"), report_path, after_chunk=ctrl_c)
    stored = saved(report_path)
    assert stored["result"] == "failed"
    assert stored["reason"] == "interrupted: the flash did not finish"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_corrupt_compressed_image_fails_the_flash(tmp_path: Path) -> None:
    image, _ = make_image(tmp_path, "xz")
    blob = bytearray(image.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    image.write_bytes(bytes(blob))
    report = run_flash(open_image(image), Target(str(tmp_path / "o.img"), "file"), tmp_path / "r.json")
    assert report.result == "failed" and "is corrupt after" in (report.reason or "")


def test_images_are_checked_before_anything_is_written(tmp_path: Path) -> None:
    raw, _ = make_image(tmp_path, "raw")
    renamed = tmp_path / "image.raw.xz"
    renamed.write_bytes(raw.read_bytes())
    with pytest.raises(ImageError, match=r"is named \.xz but is not xz-compressed"):
        open_image(renamed)
    with pytest.raises(ImageError, match="not an image this tool writes"):
        open_image(tmp_path / "image.tar")
    empty = tmp_path / "empty.raw"
    empty.touch()
    with pytest.raises(ImageError, match="is empty"):
        open_image(empty)
    os.remove(raw)
    with pytest.raises(ImageError, match="no such image file"):
        open_image(raw)
