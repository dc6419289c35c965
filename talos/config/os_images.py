"""The OS image manifest ``images/os.yaml``: URL, sha256 and size of what a technician flashes.

One owner for these facts (per Talos release and hardware class): the bundle reads them, and
``konferenco talos os-image record`` is the only writer of sha256/size, after HQ has downloaded the
image. The file is package data of ``images``, read with :mod:`importlib.resources` (talos never
imports ``images``). The URL must be the Image Factory's for the class's schematic id and the
release (talos/schematics/lock.json); :func:`check` says where it is not.

The sha256 is that of the *decompressed* image (``talos.flash.source``), so the same figure checks
a ``.raw.xz`` download, the stream the flasher writes and the read-back of the card.
"""

from __future__ import annotations

import importlib.resources
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from talos.flash.source import ImageError, open_image

CHUNK = 4 << 20
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class OsImageError(ValueError):
    """The manifest or the image is not what it should be; the message says what to do."""


@dataclass(frozen=True)
class OsImage:
    talos: str
    hardware: str
    url: str
    sha256: str | None
    size: int | None

    @property
    def file(self) -> str:
        """The image's file name, as the factory names it (the last part of the URL)."""
        return self.url.rsplit("/", 1)[-1]

    @property
    def recorded(self) -> bool:
        return self.sha256 is not None and self.size is not None


def manifest_path() -> Path:
    """Where ``images/os.yaml`` is (a real file: the source tree or an unpacked install)."""
    return Path(str(importlib.resources.files("images").joinpath("os.yaml")))


def _yaml() -> YAML:
    yaml = YAML(typ="rt")  # round trip: `record` keeps the file's comments
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


def _load(path: Path) -> Any:
    try:
        data = _yaml().load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise OsImageError(f"cannot read {path}: {exc.strerror}") from None
    if not isinstance(data, dict):
        raise OsImageError(f"{path}: the OS image manifest is a mapping of Talos releases")
    return data


def load(path: Path | None = None) -> dict[tuple[str, str], OsImage]:
    """Every entry of the manifest, by (Talos release, hardware class)."""
    path = path or manifest_path()
    out: dict[tuple[str, str], OsImage] = {}
    for release, classes in _load(path).items():
        for hardware, entry in (classes or {}).items():
            sha, size = entry.get("sha256"), entry.get("size")
            if sha is not None and not (isinstance(sha, str) and _SHA256.match(sha)):
                raise OsImageError(f"{path}: {release} {hardware}: sha256 is not 64 hex digits")
            if size is not None and (not isinstance(size, int) or size <= 0):
                raise OsImageError(f"{path}: {release} {hardware}: size is not a positive number of bytes")
            out[(str(release), str(hardware))] = OsImage(
                str(release), str(hardware), str(entry["url"]), sha, size
            )
    return out


def entry(talos: str, hardware: str, path: Path | None = None) -> OsImage:
    images = load(path)
    found = images.get((talos, hardware))
    if found is None:
        raise OsImageError(
            f"images/os.yaml has no {hardware} image for Talos {talos}: add its URL "
            f"(python -m talos.config.schematic prints the factory URLs)"
        )
    return found


def expected_url(schematic_id: str, talos: str, boot_asset: str) -> str:
    return f"https://factory.talos.dev/image/{schematic_id}/{talos}/{boot_asset}"


def check(lock: dict[str, Any], hardware: dict[str, dict[str, Any]], path: Path | None = None) -> list[str]:
    """Problems with the manifest's entries for the lock file's release: every class present, each
    URL the factory's for the class's schematic id, release and boot asset."""
    images = load(path)
    problems = []
    for name, spec in sorted(hardware.items()):
        want = expected_url(lock["classes"][name]["id"], lock["talos"], spec["boot_asset"])
        got = images.get((lock["talos"], name))
        if got is None:
            problems.append(f"{lock['talos']} {name}: missing (want {want})")
        elif got.url != want:
            problems.append(f"{lock['talos']} {name}: url {got.url} is not {want}")
    return problems


def hash_image(image: Path) -> tuple[str, int]:
    """sha256 and size of the decompressed image, as the flasher computes them."""
    try:
        source = open_image(image)
        for _ in source.chunks(CHUNK):
            pass
    except ImageError as exc:
        raise OsImageError(str(exc)) from None
    if source.size is not None and source.format in ("xz", "zst") and source.size != source.read:
        raise OsImageError(
            f"{image.name} says it holds {source.size} bytes but decompressed to {source.read}: "
            "a damaged download"
        )
    return source.sha256, source.read


def record(
    image: Path,
    hardware: str,
    talos: str,
    *,
    url: str | None = None,
    replace: bool = False,
    path: Path | None = None,
) -> tuple[OsImage, bool]:
    """Hash IMAGE and write its sha256/size into the manifest entry (TALOS, HARDWARE).

    Refuses an image whose file name is not the entry's, a URL that is not the entry's (another
    release or schematic), and a different hash over an already recorded one unless REPLACE.
    Returns the entry and whether the file changed. Written atomically: a failure loses nothing.
    """
    path = path or manifest_path()
    current = entry(talos, hardware, path)
    if url is not None and url != current.url:
        raise OsImageError(
            f"{url} is not the {hardware} image of Talos {talos} in images/os.yaml ({current.url}): "
            "a different release or schematic"
        )
    if image.name != current.file:
        raise OsImageError(
            f"{image.name} is not {current.file}, the {hardware} image of Talos {talos} ({current.url})"
        )
    sha, size = hash_image(image)
    if current.recorded:
        if (current.sha256, current.size) == (sha, size):
            return current, False
        if not replace:
            raise OsImageError(
                f"images/os.yaml already records {current.sha256} ({current.size} bytes) for {hardware} "
                f"Talos {talos}, this file is {sha} ({size} bytes): the download differs. "
                "Check it; --replace records the new one"
            )
    data = _load(path)
    data[talos][hardware]["sha256"] = sha
    data[talos][hardware]["size"] = size
    buffer = io.StringIO()
    _yaml().dump(data, buffer)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(buffer.getvalue())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return OsImage(talos, hardware, current.url, sha, size), True
