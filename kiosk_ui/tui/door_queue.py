"""The door's unconfirmed scans, kept on disk until the appliance has answered each one.

The web door keeps them in IndexedDB; the terminal door keeps them in a file of
the person's state directory (``$XDG_STATE_HOME/konferenco``, mode 0600: badge
codes are credentials), one file per appliance.  A scan is written there before
it is sent, and removed only after the appliance answered, so a TUI that is
closed, killed or loses power while the box is away sends them when it is
started again; their nonces make each count once, however often they are sent.
Writes are whole-file replacements (write, fsync, rename, fsync the directory),
so a crash leaves the old list or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any


def state_dir() -> Path:
    """Where the TUI keeps what must outlive it (the XDG base directory spec's state home)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "konferenco"


class DoorQueueFile:
    """The unconfirmed scans made at this terminal for one appliance."""

    def __init__(self, directory: Path, appliance_url: str) -> None:
        key = hashlib.sha256(appliance_url.rstrip("/").encode()).hexdigest()[:16]
        self.path = directory / f"door-queue-{key}.json"

    def load(self) -> list[dict[str, Any]]:
        """The scans left from before; an unreadable file is kept aside, never silently dropped."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                self.path.replace(self.path.with_suffix(".unreadable"))
            return []
        scans = data.get("scans") if isinstance(data, dict) else None
        return [s for s in scans or [] if isinstance(s, dict) and isinstance(s.get("nonce"), str)]

    def save(self, scans: list[dict[str, Any]]) -> None:
        """Replace the file with SCANS, durably; an empty list removes it."""
        if not scans:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"scans": scans}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
