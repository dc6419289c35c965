"""A small file system of its own for a drill, mounted as root and always unmounted."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest


def needs_root() -> None:
    """Mounting and namespaces need root; CI and this machine run the suite as root."""
    if os.geteuid() != 0:
        pytest.skip("this drill mounts a file system: run the suite as root")


@contextmanager
def small_filesystem(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (``8m``) at ``where``, unmounted when the block ends, even on failure.

    tmpfs, not the disk's own file system: it fills in milliseconds and, full, answers ``ENOSPC``
    exactly as a full SD card or disk does, which is what SQLite turns into ``SQLITE_FULL``.
    """
    needs_root()
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        done = subprocess.run(["umount", str(where)], capture_output=True)
        if done.returncode != 0:  # something still holds a file open: detach it all the same
            with suppress(OSError):
                subprocess.run(["umount", "-l", str(where)], check=False)


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize
