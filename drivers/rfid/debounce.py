"""Drop a badge read again too soon: a badge held at the edge of the field flickers in and out."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class Debouncer(Generic[K]):
    """Accepts a key unless it was seen less than ``window_ms`` ago.

    The window restarts at every sighting, accepted or not, so a badge left
    flickering on the reader yields one event, not one per window.  Keys are
    ``(reader, uid)``: the same badge at two doors is two scans.
    """

    def __init__(self, window_ms: int) -> None:
        if window_ms < 0:
            raise ValueError("debounce window must be >= 0 ms")
        self.window_ms = window_ms
        self._seen: dict[K, int] = {}

    def accept(self, key: K, now_ms: int) -> bool:
        last = self._seen.get(key)
        self._seen[key] = now_ms
        if len(self._seen) > 256:
            self._seen = {k: t for k, t in self._seen.items() if now_ms - t < self.window_ms}
        return last is None or now_ms - last >= self.window_ms
