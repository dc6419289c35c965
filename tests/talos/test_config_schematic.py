"""Schematic ids computed offline match the Image Factory's own test vectors and the lock file."""

from __future__ import annotations

from typing import Any

import pytest

from talos.config.schematic import SchematicError, compute_lock, read_lock, schematic_id
from talos.config.versions import load_versions

# image-factory pkg/schematic/schematic_test.go
VECTORS = [
    ({}, "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"),
    (
        {"customization": {"extraKernelArgs": []}},
        "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba",
    ),
    (
        {"customization": {"extraKernelArgs": ["noapic", "nolapic"], "systemExtensions": {}}},
        "9cba8e32753f91a16c1837ab8abf356af021706ef284aef07380780177d9a06c",
    ),
    (
        {"customization": {"meta": [{"key": 10, "value": "foo"}]}},
        "d308a2a5ee2277bed5fbaa104fcbc8d59122abfa737df987a95b4ca763459a7f",
    ),
    (
        {"customization": {"secureboot": {"includeWellKnownCertificates": True}}},
        "fa8e05f142a851d3ee568eb0a8e5841eaf6b0ebc8df9a63df16ac5ed2c04f3e6",
    ),
    (
        {"overlay": {"name": "rpi_generic", "image": "siderolabs/sbc-raspberrypi"}, "customization": {}},
        "ee21ef4a5ef808a9b7484cc0dda0f25075021691c8c09a276591eedb638ea1f9",
    ),
]


@pytest.mark.parametrize(("schematic", "expected"), VECTORS)
def test_factory_vectors(schematic: dict[str, Any], expected: str) -> None:
    assert schematic_id(schematic) == expected


def test_unsupported_fields_are_refused_not_hashed_wrong() -> None:
    with pytest.raises(SchematicError, match="bootloader"):
        schematic_id({"customization": {"bootloader": "sd-boot"}})
    with pytest.raises(SchematicError, match="multi-line"):
        schematic_id({"customization": {"meta": [{"key": 10, "value": "a\nb"}]}})


def test_lock_file_is_current_and_pins_no_invented_hashes() -> None:
    versions = load_versions()
    lock = read_lock()
    assert lock == compute_lock(versions.hardware, versions.current)
    assert lock["talos"] == "v1.13.9"
    nuc = lock["classes"]["nuc-amd64"]
    assert "siderolabs/intel-ucode" in nuc["canonical"] and "iscsi" not in nuc["canonical"]
    assert "rpi_5" in lock["classes"]["rpi5-arm64"]["canonical"]
    assert all("assets" not in entry for entry in lock["classes"].values())  # images/os.yaml owns them
