"""The pinned Talos releases, hardware classes and workload images (``talos/versions.yaml``).

Also finds the official schema files, shipped in ``talos/schemas`` (copies of Talos's own, see
``SOURCE.txt`` there); each release pins the schema's sha256 so a changed file is noticed.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from talos.config import yamlio

VERSIONS_FILE = Path(__file__).resolve().parents[1] / "versions.yaml"
SCHEMA_DIR_ENV = "KONFERENCO_TALOS_SCHEMA_DIR"


class VersionError(ValueError):
    """A Talos version that is not pinned, or a schema file that does not match its pin."""


@dataclass(frozen=True)
class Release:
    version: str
    minor: str
    status: str
    schema: str
    schema_sha256: str
    generator: bool


@dataclass(frozen=True)
class Versions:
    current: str
    releases: dict[str, Release]
    hardware: dict[str, dict[str, Any]]
    workloads: dict[str, str]

    def release(self, version: str | None = None) -> Release:
        wanted = version or self.current
        if wanted not in self.releases:
            pinned = ", ".join(sorted(self.releases))
            raise VersionError(f"Talos {wanted} is not pinned in talos/versions.yaml (pinned: {pinned})")
        return self.releases[wanted]


def load_versions(path: Path = VERSIONS_FILE) -> Versions:
    data = yamlio.load_one(path.read_text(encoding="utf-8"))
    talos = data["talos"]
    releases = {
        name: Release(
            version=name,
            minor=spec["minor"],
            status=spec["status"],
            schema=spec["schema"],
            schema_sha256=spec["schema_sha256"],
            generator=bool(spec["generator"]),
        )
        for name, spec in talos["releases"].items()
    }
    return Versions(
        current=talos["current"],
        releases=releases,
        hardware=dict(data["hardware"]),
        workloads=dict(data["workloads"]),
    )


#: Talos's own schemas, shipped with the tools (data files, MPL-2.0; where from: ``SOURCE.txt`` there),
#: so HQ and a technician's laptop validate with no network and no other checkout.
SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


def default_schema_dir() -> Path:
    """``$KONFERENCO_TALOS_SCHEMA_DIR``, else the schemas shipped in ``talos/schemas``."""
    env = os.environ.get(SCHEMA_DIR_ENV)
    return Path(env) if env else SCHEMAS


def schema_path(release: Release, schema_dir: Path | None = None) -> Path:
    """The schema file of ``release``, refused when missing or when its sha256 differs from the pin."""
    path = (schema_dir or default_schema_dir()) / release.schema
    if not path.is_file():
        raise VersionError(
            f"the Talos {release.version} schema is not at {path} "
            f"(set --schema-dir or ${SCHEMA_DIR_ENV} to the talos-schema directory)"
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != release.schema_sha256:
        raise VersionError(f"{path} has sha256 {digest}, talos/versions.yaml pins {release.schema_sha256}")
    return path
