"""``GET /door``, its service worker and its static files.

The page is rendered once per release (no per-request data, no token, no names): the service
worker caches it and the browser reloads it offline.  The scripts are ES modules under
``/door/static/``; the kiosk's keyboard-wedge reader and the vendored zxing-wasm reader are
used from the kiosk's own URLs, never copied.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
from litestar import Response, get
from litestar.params import FromPath
from litestar.response import File

from kiosk_ui.static_files import STATIC_ROOT, asset_version, static_file

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE.parent / "static" / "door"
TEMPLATE_DIR = HERE.parent / "templates"
#: The door's own files, what the page links with ``?v=`` and what the service worker keeps.
SHELL = ("door.css", "door.js", "queue.js", "feedback.js", "scanner.js", "session.js")
#: The kiosk's files the door uses by URL (the service worker keeps them too, for an offline reload).
BORROWED = (
    "/kiosk/static/js/wedge.js",
    "/kiosk/static/js/qr_reader.js",
    "/kiosk/static/vendor/zxing-wasm/reader/index.js",
    "/kiosk/static/vendor/zxing-wasm/reader/zxing_reader.wasm",
)
#: Borrowed files count too: a new wedge.js must replace the copy in the door's service worker.
ASSET_VERSION = asset_version(
    [
        *(STATIC_DIR / name for name in (*SHELL, "sw.js")),
        TEMPLATE_DIR / "door" / "page.html",
        *(STATIC_ROOT / url.removeprefix("/kiosk/static/") for url in BORROWED),
    ]
)
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; worker-src 'self'; "
    "script-src 'self' 'wasm-unsafe-eval'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # The shell holds no one's data: the browser may keep it, but must ask whether it changed.
    "Cache-Control": "no-cache",
}
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True, undefined=jinja2.StrictUndefined
)


def page_html() -> str:
    return _ENV.get_template("door/page.html").render(asset_version=ASSET_VERSION)


@get("/door", include_in_schema=False)
async def door_page() -> Response[str]:
    """The door's shell; sign-in, set-up and scanning are states of this one page."""
    return Response(page_html(), media_type="text/html", headers=SECURITY_HEADERS)


@get("/door/sw.js", include_in_schema=False)
async def service_worker() -> Response[str]:
    """The service worker, versioned with the shell so a new release replaces the cached one."""
    body = (STATIC_DIR / "sw.js").read_text(encoding="utf-8")
    shell = [f"/door/static/{name}?v={ASSET_VERSION}" for name in SHELL]
    body = body.replace("__VERSION__", ASSET_VERSION).replace("__SHELL__", ",".join([*shell, *BORROWED]))
    return Response(
        body,
        media_type="text/javascript",
        headers={
            "Cache-Control": "no-cache",
            "Service-Worker-Allowed": "/door",
            "X-Content-Type-Options": "nosniff",
        },
    )


@get("/door/static/{path:path}", include_in_schema=False)
async def static(path: FromPath[str]) -> File | Response[str]:
    """The door's CSS and scripts, with the types a strict browser needs."""
    return static_file(STATIC_DIR, path)


ROUTES = [door_page, service_worker, static]
