"""How big a schedule file may be before it is not a schedule any more.

The HTTP routes cap the upload (413); these caps refuse absurd shapes that
fit in a small upload or come through the CLI: the largest real exports we
know (38C3 with its self-organized sessions: 1,007 sessions in 72 rooms)
are far below them.
"""

from __future__ import annotations

#: Bytes a reader takes at all (the routes refuse far less with 413 first).
MAX_BYTES = 64 * 1024 * 1024
MAX_SESSIONS = 20_000
MAX_ROOMS = 2_000
MAX_DAYS = 400
