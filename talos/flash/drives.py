"""Which drives the flasher may write: listing and the safety rules, from ``lsblk --json``.

The rules follow Raspberry Pi Imager (drivelist_linux.cpp) and balenaEtcher (drive-constraints.ts):
a system disk, a read-only card, the drive holding the image and a drive too small are refused; a
drive larger than 64 GB is only warned about, because that is more often a backup disk than a stick.
Parsing and judging are pure functions so tests feed them the recorded output of real machines.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LSBLK_COLUMNS = "NAME,PATH,TYPE,SIZE,RO,RM,HOTPLUG,MODEL,SERIAL,TRAN,MOUNTPOINTS,PKNAME"
LSBLK = ["lsblk", "--json", "--bytes", "--output", LSBLK_COLUMNS]
# A mount of one of these (or below /boot and /snap) makes a drive part of the running system.
SYSTEM_MOUNTS = ("/", "/usr", "/var", "/home", "/boot", "/snap", "[SWAP]")
LARGE_DRIVE = 64 * 10**9  # Etcher's LARGE_DRIVE_SIZE: bigger is more likely a backup disk than a stick
WRITABLE_TYPES = ("disk", "loop")


def _flag(value: Any) -> bool:
    """lsblk prints booleans as true/false (util-linux >= 2.33) or as "0"/"1" (older)."""
    if isinstance(value, str):
        return value.strip() not in ("", "0", "false")
    return bool(value)


@dataclass(frozen=True)
class Drive:
    """One block device as lsblk shows it, with the mounts and names of everything on it."""

    name: str
    path: str
    type: str
    size: int
    read_only: bool
    removable: bool
    hotplug: bool
    model: str | None = None
    serial: str | None = None
    transport: str | None = None
    parent: str | None = None
    mounts: tuple[str, ...] = ()  # of the device itself and of its partitions
    names: tuple[str, ...] = ()  # the device and everything on it (partitions, dm devices)

    @property
    def label(self) -> str:
        """How the technician recognises it: model, size, serial."""
        parts = [self.path, format_size(self.size), self.model or "(no model)"]
        if self.serial:
            parts.append(f"serial {self.serial}")
        if self.transport:
            parts.append(self.transport)
        return "  ".join(parts)


@dataclass(frozen=True)
class Verdict:
    """Whether a drive may be written, and why not (refusals) or why to look twice (warnings)."""

    drive: Drive
    refusals: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    hidden: bool = False  # not a drive a person would flash (zram, eMMC boot areas, snap loops)

    @property
    def offered(self) -> bool:
        return not self.refusals


@dataclass
class _Walk:
    mounts: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)


def _collect(node: dict[str, Any], into: _Walk) -> None:
    into.names.append(str(node.get("name") or ""))
    mounts = node.get("mountpoints")
    if mounts is None and node.get("mountpoint"):  # util-linux < 2.37 has one mountpoint
        mounts = [node["mountpoint"]]
    into.mounts.extend(str(m) for m in mounts or () if m)
    for child in node.get("children") or ():
        _collect(child, into)


def _drive(node: dict[str, Any], parent: str | None) -> Drive:
    walk = _Walk()
    _collect(node, walk)
    name = str(node.get("name") or "")
    model, serial = node.get("model"), node.get("serial")
    return Drive(
        name=name,
        path=str(node.get("path") or f"/dev/{name}"),
        type=str(node.get("type") or ""),
        size=int(node.get("size") or 0),
        read_only=_flag(node.get("ro")),
        removable=_flag(node.get("rm")),
        hotplug=_flag(node.get("hotplug")),
        model=model.strip() if isinstance(model, str) and model.strip() else None,
        serial=serial.strip() if isinstance(serial, str) and serial.strip() else None,
        transport=node.get("tran") or None,
        parent=node.get("pkname") or parent,
        mounts=tuple(walk.mounts),
        names=tuple(n for n in walk.names if n),
    )


def parse_lsblk(output: str | dict[str, Any]) -> list[Drive]:
    """The top-level block devices of an ``lsblk --json`` output (partitions folded into their drive)."""
    data = json.loads(output) if isinstance(output, str) else output
    return [_drive(node, None) for node in data.get("blockdevices") or ()]


def all_devices(output: str | dict[str, Any]) -> Iterator[Drive]:
    """Every device of the tree, partitions included: to find what ``--device`` names."""
    data = json.loads(output) if isinstance(output, str) else output

    def walk(nodes: Iterable[dict[str, Any]], parent: str | None) -> Iterator[Drive]:
        for node in nodes:
            yield _drive(node, parent)
            yield from walk(node.get("children") or (), str(node.get("name") or ""))

    yield from walk(data.get("blockdevices") or (), None)


def read_lsblk() -> str:
    """This machine's drives, as lsblk prints them."""
    done = subprocess.run(LSBLK, capture_output=True, text=True, check=False, timeout=30)
    if done.returncode != 0:
        raise OSError(f"lsblk failed: {done.stderr.strip() or done.returncode}")
    return done.stdout


def format_size(size: int) -> str:
    """Decimal units, as drives are sold and labelled ("32.0 GB" on a 32 GB stick)."""
    for unit, factor in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} B"


def _system_mount(mounts: Iterable[str]) -> str | None:
    for mount in mounts:
        if mount in SYSTEM_MOUNTS or mount.startswith(("/boot/", "/snap/")):
            return mount
    return None


def _hidden(drive: Drive) -> bool:
    name = drive.name
    if name.startswith(("zram", "ram", "sr")) or (name.startswith("mmcblk") and "boot" in name):
        return True
    if drive.type == "loop" and (drive.size == 0 or _system_mount(drive.mounts)):
        return True  # unbound loop devices and snaps: noise in the list, refused when named
    return drive.type not in WRITABLE_TYPES


def judge(drive: Drive, *, image_size: int | None, image_devices: Iterable[str] = ()) -> Verdict:
    """May the image be written to DRIVE?  Every refusal is a sentence the technician can act on.

    IMAGE_DEVICES: the names of the block devices the image file lives on (see :func:`devices_of`).
    IMAGE_SIZE: the decompressed size, None when the image does not say (checked while writing).
    """
    refusals: list[str] = []
    warnings: list[str] = []
    p = drive.path
    if drive.type == "part":
        refusals.append(f"{p} is a partition of /dev/{drive.parent}: name the whole drive")
    elif drive.type not in WRITABLE_TYPES:
        refusals.append(f"{p} is a {drive.type or 'device of unknown type'}, not a whole drive")
    if drive.read_only:
        refusals.append(f"{p} is read-only (a locked SD card or a write-protected stick)")
    if drive.size == 0:
        refusals.append(f"{p} has no medium in it (size 0)")
    system = _system_mount(drive.mounts)
    if system:
        refusals.append(f"{p} is a system disk: it holds the running system's {system}")
    elif drive.type == "disk" and not drive.removable and not drive.hotplug:
        refusals.append(f"{p} is a system disk: an internal drive, neither removable nor hot-plug")
    held = set(image_devices) & set(drive.names)
    if held:
        refusals.append(f"{p} holds the image file itself (on {', '.join(sorted(held))})")
    if image_size is not None and 0 < drive.size < image_size:
        refusals.append(
            f"{p} is too small: {format_size(drive.size)} ({drive.size} bytes), "
            f"the image needs {format_size(image_size)} ({image_size} bytes)"
        )
    others = [m for m in drive.mounts if m != system]
    if others and not system:
        refusals.append(f"{p} has mounted file systems ({', '.join(others)}): unmount them first")
    if drive.size > LARGE_DRIVE:
        warnings.append(
            f"{p} is larger than 64 GB ({format_size(drive.size)}): "
            "make sure it is the stick you mean and not a backup disk"
        )
    if image_size is None:
        warnings.append("the image does not state its size: a drive too small fails while writing")
    return Verdict(drive, tuple(refusals), tuple(warnings), _hidden(drive))


def judge_all(
    drives: Iterable[Drive], *, image_size: int | None, image_devices: Iterable[str] = ()
) -> list[Verdict]:
    """Judge every drive (hidden ones included: the listing leaves them out, ``--device`` does not)."""
    devices = tuple(image_devices)
    return [judge(d, image_size=image_size, image_devices=devices) for d in drives]


def devices_of(path: str | os.PathLike[str], sys_root: str = "/sys") -> set[str]:
    """The block devices (names) a file lives on: its partition, the disk and what they stack on.

    Read from sysfs (``/sys/dev/block/MAJ:MIN`` and ``slaves/``), so a file on LVM or dm-crypt still
    names the physical disk.  Empty for a file on tmpfs or overlay (no block device).
    """
    st = os.stat(path)
    found: set[str] = set()
    start = Path(sys_root, "dev", "block", f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}")
    todo = [start]
    while todo:
        node = todo.pop()
        try:
            real = node.resolve(strict=True)
        except OSError:
            continue
        if real.name in found:
            continue
        found.add(real.name)
        if (real / "partition").exists():
            todo.append(real.parent)
        slaves = real / "slaves"
        if slaves.is_dir():
            todo.extend(slaves.iterdir())
    return found
