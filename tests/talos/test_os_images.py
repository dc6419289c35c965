"""images/os.yaml owns the boot images' URL, sha256 and size; `talos os-image record` fills them in."""

from __future__ import annotations

import hashlib
import lzma
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from konferenco.cli import main
from talos.config import os_images
from talos.config.schematic import read_lock
from talos.config.versions import load_versions

MIB = 1 << 20


def _copy_manifest(tmp_path: Path) -> Path:
    path = tmp_path / "os.yaml"
    shutil.copy2(os_images.manifest_path(), path)
    return path


def _image(tmp_path: Path, name: str) -> tuple[Path, bytes]:
    raw = bytes(range(256)) * (3 * MIB // 256) + b"tail"
    path = tmp_path / name
    path.write_bytes(lzma.compress(raw, format=lzma.FORMAT_XZ) if name.endswith(".xz") else raw)
    return path, raw


def _record(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["talos", "os-image", "record", *args])
    return result.exit_code, result.output


def test_the_manifest_matches_the_lock_and_pins_nothing_by_hand() -> None:
    versions = load_versions()
    assert os_images.check(read_lock(), versions.hardware) == []
    for image in os_images.load().values():
        assert image.sha256 is None and image.size is None  # nothing was downloaded here
    nuc = os_images.entry(versions.current, "nuc-amd64")
    assert nuc.file == versions.hardware["nuc-amd64"]["boot_asset"] == "metal-amd64.iso"


def test_record_hashes_the_decompressed_stream_and_keeps_the_comments(tmp_path: Path) -> None:
    manifest = _copy_manifest(tmp_path)
    image, raw = _image(tmp_path, "metal-arm64.raw.xz")
    code, output = _record(str(image), "--class", "rpi5-arm64", "--manifest", str(manifest))
    assert code == 0, output
    want = hashlib.sha256(raw).hexdigest()
    assert f"sha256 {want}" in output and f"{len(raw)} bytes" in output
    entry = os_images.entry("v1.13.9", "rpi5-arm64", manifest)
    assert (entry.sha256, entry.size) == (want, len(raw))
    assert os_images.entry("v1.13.9", "nuc-amd64", manifest).sha256 is None  # the other class untouched
    assert "# The OS images a technician flashes" in manifest.read_text()
    # the same file again: nothing changes
    code, output = _record(str(image), "--class", "rpi5-arm64", "--manifest", str(manifest))
    assert code == 0 and "already recorded" in output


def test_record_refuses_mismatches_and_loses_nothing(tmp_path: Path) -> None:
    manifest = _copy_manifest(tmp_path)
    before = manifest.read_bytes()
    iso, _ = _image(tmp_path, "metal-amd64.iso")
    code, output = _record(str(iso), "--class", "rpi5-arm64", "--manifest", str(manifest))
    assert code == 1 and "is not metal-arm64.raw.xz" in output
    other = "https://factory.talos.dev/image/" + "0" * 64 + "/v1.13.9/metal-amd64.iso"
    code, output = _record(str(iso), "--class", "nuc-amd64", "--url", other, "--manifest", str(manifest))
    assert code == 1 and "a different release or schematic" in output
    code, output = _record(
        str(iso), "--class", "nuc-amd64", "--talos", "v1.14.0-rc.1", "--manifest", str(manifest)
    )
    assert code == 1 and "no nuc-amd64 image for Talos v1.14.0-rc.1" in output
    code, output = _record(str(iso), "--class", "pc-amd64", "--manifest", str(manifest))
    assert code == 2 and "not a hardware class" in output
    truncated = tmp_path / "cut" / "metal-arm64.raw.xz"
    truncated.parent.mkdir()
    xz, _ = _image(tmp_path, "metal-arm64.raw.xz")
    truncated.write_bytes(xz.read_bytes()[:-200])
    code, output = _record(str(truncated), "--class", "rpi5-arm64", "--manifest", str(manifest))
    assert code == 1 and "corrupt" in output
    assert manifest.read_bytes() == before


def test_a_different_download_is_refused_over_a_recorded_hash(tmp_path: Path) -> None:
    manifest = _copy_manifest(tmp_path)
    iso, _ = _image(tmp_path, "metal-amd64.iso")
    assert _record(str(iso), "--class", "nuc-amd64", "--manifest", str(manifest))[0] == 0
    recorded = manifest.read_bytes()
    iso.write_bytes(iso.read_bytes()[:-1] + b"X")
    code, output = _record(str(iso), "--class", "nuc-amd64", "--manifest", str(manifest))
    assert code == 1 and "the download differs" in output
    assert manifest.read_bytes() == recorded
    code, output = _record(str(iso), "--class", "nuc-amd64", "--replace", "--manifest", str(manifest))
    assert code == 0 and manifest.read_bytes() != recorded


def test_a_hand_edited_bad_hash_is_refused(tmp_path: Path) -> None:
    manifest = _copy_manifest(tmp_path)
    manifest.write_text(manifest.read_text().replace("sha256: null", "sha256: abc", 1))
    with pytest.raises(os_images.OsImageError, match="64 hex digits"):
        os_images.load(manifest)
