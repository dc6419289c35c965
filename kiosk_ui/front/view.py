"""Numbers as a technician reads them on the front page: "3 min ago", "2 h 5 min", versioned assets."""

from __future__ import annotations

import hashlib
from pathlib import Path


def duration(seconds: float | None) -> str:
    """A span in the largest two units that matter ("45 s", "12 min", "3 h 20 min", "2 d 4 h")."""
    if seconds is None:
        return "—"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    minutes, hours, days = s // 60, s // 3600, s // 86400
    if s < 3600:
        return f"{minutes} min"
    if s < 86400:
        rest = minutes % 60
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    rest = hours % 24
    return f"{days} d {rest} h" if rest else f"{days} d"


def ago(at_ms: int | None, now_ms: int) -> str:
    """How long ago a moment was ("just now", "4 min ago"); "never" for none."""
    if not at_ms:
        return "never"
    seconds = (now_ms - at_ms) / 1000
    return "just now" if seconds < 5 else f"{duration(seconds)} ago"


def age(seconds: float | None) -> str:
    """The age of the oldest waiting change ("2 min"), "—" when nothing waits."""
    return "—" if not seconds else duration(seconds)


def asset_version(folder: Path) -> str:
    """A short hash of the page's own static files, so a new release is never served from a cache."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*")):
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]
