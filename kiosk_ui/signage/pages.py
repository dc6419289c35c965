"""The room signs' pages: ``/signage`` (the rooms), ``/signage/{room}`` (one door's sign), ``/signage/wall``.

A sign is a static shell; its script (``static/signage/js/``) fetches what it needs from the
appliance (``GET /api/v1/signage/access``: broker, read-only credentials, rooms, clock) and
then lives on MQTT over WebSockets.  Only the room list is rendered here, through the
appliance's API in-process (:class:`kiosk_ui.web.api.Api`), so it works without script.
Nothing on these pages is personal: a sign shows what the door of a room shows.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2
from litestar import Request, Response, get
from litestar.params import FromPath
from litestar.response import File

from kiosk_ui.static_files import asset_version, static_file
from kiosk_ui.web.api import Api, ApiError

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE.parent / "static" / "signage"
TEMPLATE_DIR = HERE.parent / "templates"
SCRIPTS = ("sign.css", "js/sign.js", "js/board.js", "js/clock.js", "js/link.js", "js/view.js")
ASSET_VERSION = asset_version(STATIC_DIR / name for name in SCRIPTS)
#: Like the kiosk's: no inline script or style; the broker is another port of the same host (ws:).
CSP = "default-src 'self'; img-src 'self' data:; script-src 'self'; connect-src 'self' ws: wss:"
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}
ROOM_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}\Z")

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True, undefined=jinja2.StrictUndefined
)
_ENV.globals.update(asset_version=ASSET_VERSION)


def _page(template: str, code: int = 200, **context: Any) -> Response[str]:
    body = _ENV.get_template(f"signage/{template}").render(**context)
    return Response(body, status_code=code, media_type="text/html", headers=SECURITY_HEADERS)


@get("/signage", include_in_schema=False)
async def rooms_page(request: Request[Any, Any, Any]) -> Response[str]:
    """Every room with a link to its sign, and the wall: what a technician opens on each TV."""
    try:
        async with Api(request, None) as api:
            access = await api.json("GET", "/api/v1/signage/access")
    except ApiError as error:
        return _page("rooms.html", code=error.status, access=None, problem=error.message)
    return _page("rooms.html", access=access, problem=access.get("problem", ""))


@get("/signage/wall", include_in_schema=False)
async def wall_page() -> Response[str]:
    """Every room at once, for the entrance hall."""
    return _page("sign.html", view="wall", room="")


@get("/signage/{room:str}", include_in_schema=False)
async def sign_page(room: FromPath[str]) -> Response[str]:
    """One room's sign; an id that cannot be a room is refused here (it would be an MQTT wildcard)."""
    if not ROOM_ID.match(room):
        return _page("rooms.html", code=404, access=None, problem=f"'{room[:64]}' is not a room id")
    return _page("sign.html", view="room", room=room)


@get("/signage/static/{path:path}", include_in_schema=False)
async def static(path: FromPath[str]) -> File | Response[str]:
    """The signs' own CSS and JS (the vendored mqtt.js comes from the kiosk's /kiosk/static/vendor/)."""
    return static_file(STATIC_DIR, path)


ROUTES = [rooms_page, wall_page, sign_page, static]
