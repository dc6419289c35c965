"""The pages' own CSS, scripts and vendored copies, served one way for every page.

Every page (kiosk, door, signs, front page) sends a strict Content-Security-Policy and
``nosniff``, so a browser refuses a script served with the wrong type: the types live here once.
A path that leaves the page's folder (``../``, a symbolic link elsewhere) is never served.  Each
page links its files with ``?v=`` of their contents (:func:`asset_version`), so ``no-cache`` costs
a revalidation, never a stale script after an update.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from litestar import Response
from litestar.response import File

TYPES = {
    ".css": "text/css",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".wasm": "application/wasm",
    ".txt": "text/plain",
}
#: Where the vendored copies are (``kiosk_ui/web_assets`` puts them there); served under ``/kiosk/static/``.
STATIC_ROOT = Path(__file__).resolve().parent / "static"


def static_file(root: Path, path: str) -> File | Response[str]:
    """The file at ``path`` under ``root`` with its type, or a plain 404 for anything else."""
    target = (root / path.lstrip("/")).resolve()
    if root not in target.parents or not target.is_file() or target.suffix not in TYPES:
        return Response("not found", status_code=404, media_type="text/plain")
    return File(
        target,
        content_disposition_type="inline",
        media_type=TYPES[target.suffix],
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


def asset_version(files: Iterable[Path]) -> str:
    """A short hash of the files' contents: it changes whenever one of them does."""
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.read_bytes())
    return digest.hexdigest()[:10]
