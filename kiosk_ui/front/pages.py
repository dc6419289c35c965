"""The appliance's front page ``/``: what a technician or organizer sees on opening the box's address.

Before sign-in: the box's name, its event, whether it is well, and links to its other pages.
After sign-in (name + PIN, any staff role but a kiosk's): the hub link and what the hub has not
acknowledged yet, devices and printers with their state, and how to pair a kiosk, add a printer
or restore the box.  Everything comes from the appliance's HTTP API (:mod:`kiosk_ui.web.api`);
the staff token lives in an HttpOnly, SameSite=Strict cookie of this page's own
(``konferenco_front``, never the kiosk's) and is forwarded as a bearer token.  The panel
refreshes itself by htmx polling a fragment; without JavaScript the page still works, it only
stops refreshing.  English only.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jinja2
from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import File, Redirect
from litestar.status_codes import HTTP_303_SEE_OTHER

from kiosk_ui.front import view
from kiosk_ui.static_files import static_file
from kiosk_ui.web.api import Api, ApiError, token_cookie
from kiosk_ui.web.pages import SECURITY_HEADERS, Form, same_origin

HERE = Path(__file__).resolve().parent
TEMPLATE_DIR = HERE.parent / "templates"
STATIC_DIR = HERE.parent / "static" / "front"
#: The front page's own cookie: a staff token, as the kiosk keeps its own in ``konferenco_kiosk``.
COOKIE = "konferenco_front"
#: Seconds between refreshes of the signed-in panel.
REFRESH_S = 5
#: Roles the panel is for; a kiosk's account belongs on a kiosk.
PANEL_ROLES = ("door", "desk", "organizer")
#: Roles that may make a kiosk pairing code (``POST /api/v1/kiosk/pairing-codes``).
PAIRING_ROLES = ("desk", "organizer")

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
_ENV.globals.update(
    asset_version=view.asset_version(STATIC_DIR),
    refresh_s=REFRESH_S,
    ago=view.ago,
    age=view.age,
    duration=view.duration,
    pairing_roles=PAIRING_ROLES,
)


def token_of(request: Request[Any, Any, Any]) -> str | None:
    """The staff token from this page's HttpOnly cookie (never rendered into a page)."""
    return request.cookies.get(COOKIE) or None


def _html(body: str, code: int = 200, **headers: str) -> Response[str]:
    return Response(body, status_code=code, media_type="text/html", headers={**SECURITY_HEADERS, **headers})


def _is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


def _cross_origin() -> Response[str]:
    return Response(
        "cross-origin request refused", status_code=403, media_type="text/plain", headers=SECURITY_HEADERS
    )


async def _public(api: Api) -> dict[str, Any] | None:
    """The public facts, or None when the API cannot answer (the page then says so)."""
    try:
        found: dict[str, Any] = await api.json("GET", "/api/v1/overview/public")
    except ApiError:
        return None
    return found


async def _signed_in(api: Api) -> tuple[dict[str, Any] | None, dict[str, Any] | None, ApiError | None]:
    """Who holds the cookie's token and the overview, or the API's refusal."""
    try:
        me = await api.json("GET", "/api/v1/auth/me")
        overview = await api.json("GET", "/api/v1/overview")
    except ApiError as err:
        return None, None, err
    return me, overview, None


def _forget(response: Response[Any]) -> Response[Any]:
    response.delete_cookie(COOKIE, path="/")
    return response


async def _page(
    request: Request[Any, Any, Any],
    *,
    code: int = 200,
    signin_error: dict[str, Any] | None = None,
    typed_name: str = "",
    pairing: dict[str, Any] | None = None,
    pairing_error: str = "",
) -> Response[str]:
    """The whole page: the public part, then the sign-in form or the staff panel."""
    token = token_of(request)
    me = overview = None
    expired = False
    async with Api(request, token) as api:
        public = await _public(api)
        if token:
            me, overview, err = await _signed_in(api)
            expired = err is not None and err.status == 401
    body = _ENV.get_template("front/page.html").render(
        public=public,
        me=me,
        overview=overview,
        expired=expired,
        signin_error=signin_error,
        typed_name=typed_name,
        pairing=pairing,
        pairing_error=pairing_error,
        host=request.headers.get("host", ""),
        now=int(time.time() * 1000),
    )
    response = _html(body, code)
    return _forget(response) if expired else response


@get("/", include_in_schema=False)
async def front_page(request: Request[Any, Any, Any]) -> Response[str]:
    """The box's front page; the staff panel when this browser is signed in."""
    return await _page(request)


@get("/front/panel", include_in_schema=False)
async def panel(request: Request[Any, Any, Any]) -> Response[str]:
    """The staff panel alone, for htmx to swap in every few seconds; a whole reload once signed out."""
    token = token_of(request)
    if not token:
        return _html("", 200, **{"HX-Refresh": "true"})
    async with Api(request, token) as api:
        me, overview, err = await _signed_in(api)
    if err is not None:
        if err.status == 401:  # the shift ended, or the box's staff key changed: sign in again
            return _forget(_html("", 200, **{"HX-Refresh": "true"}))
        body = _ENV.get_template("front/trouble.html").render(error=err)
        return _html(body, 200)
    body = _ENV.get_template("front/panel.html").render(
        me=me, overview=overview, host=request.headers.get("host", ""), now=int(time.time() * 1000)
    )
    return _html(body)


def _field(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value).strip()


@post("/front/sign-in", status_code=200, include_in_schema=False)
async def sign_in(request: Request[Any, Any, Any], data: Form) -> Response[Any]:
    """Name and PIN for a staff token, kept in this page's HttpOnly cookie; refusals shown in the form."""
    if not same_origin(request):
        return _cross_origin()
    name = _field(data, "name")
    pin = data.get("pin", "")
    pin = str(pin[0] if isinstance(pin, list) and pin else pin or "")  # a PIN is taken as typed
    if not name or not pin.strip():
        missing = {"code": "missing", "field": "name" if not name else "pin"}
        return await _page(request, code=422, signin_error=missing, typed_name=name)
    async with Api(request, None) as api:
        try:
            signed = await api.json("POST", "/api/v1/auth/login", json={"name": name, "secret": pin})
        except ApiError as err:
            retry = err.details.get("retry_after") or err.details.get("retry_after_s")
            error: dict[str, Any] = {"code": err.code, "retry_after": retry, "message": err.message}
            return await _page(request, code=err.status, signin_error=error, typed_name=name)
    if signed.get("role") not in PANEL_ROLES:
        refused = {"code": "kiosk_account", "retry_after": None, "message": ""}
        return await _page(request, code=403, signin_error=refused, typed_name=name)
    response: Response[Any] = Redirect("/", status_code=HTTP_303_SEE_OTHER)
    response.set_cookie(token_cookie(request, COOKIE, signed["token"], signed["expires_at"]))  # seconds
    return response


@post("/front/sign-out", status_code=200, include_in_schema=False)
async def sign_out(request: Request[Any, Any, Any]) -> Response[Any]:
    """Forget the token in this browser (a staff token cannot be revoked early; it ends with the shift)."""
    if not same_origin(request):
        return _cross_origin()
    return _forget(Redirect("/", status_code=HTTP_303_SEE_OTHER))


@post("/front/pairing-code", status_code=200, include_in_schema=False)
async def pairing_code(request: Request[Any, Any, Any], data: Form) -> Response[str]:
    """A kiosk pairing code, shown large (a fragment for htmx, else the whole page with it)."""
    if not same_origin(request):
        return _cross_origin()
    name = _field(data, "kiosk_name")[:100] or "Kiosk"
    made: dict[str, Any] | None = None
    error = ""
    code = 200
    async with Api(request, token_of(request)) as api:
        try:
            made = await api.json("POST", "/api/v1/kiosk/pairing-codes", json={"name": name})
        except ApiError as err:
            error, code = err.message or err.code, err.status
    if not _is_htmx(request):
        return await _page(request, code=code, pairing=made, pairing_error=error)
    body = _ENV.get_template("front/pairing.html").render(
        pairing=made, pairing_error=error, now=int(time.time() * 1000)
    )
    return _html(body, code)


@get("/front/static/{path:path}", include_in_schema=False)
async def static(path: FromPath[str]) -> File | Response[str]:
    """The front page's own stylesheet and script."""
    return static_file(STATIC_DIR, path)


ROUTES = [front_page, panel, sign_in, sign_out, pairing_code, static]
