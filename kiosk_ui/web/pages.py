"""The kiosk's screens: one decision per screen, each a fragment htmx swaps into ``<main id="screen">``.

Every rule lives in the appliance: these handlers call its HTTP API (:mod:`kiosk_ui.web.api`)
and turn the answers, refusals included, into screens in the attendee's language.  A screen
is also a whole page at ``GET /kiosk?screen=NAME&lang=LANG&…`` (a reload, a test, a
screenshot); an htmx request (``HX-Request``) gets the fragment alone.

What the page never holds: the kiosk's token (an HttpOnly cookie, read here and forwarded
as a bearer token) and anything of an attendee beyond the screen showing it.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Annotated, Any

import jinja2
from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import File, Redirect
from litestar.status_codes import HTTP_303_SEE_OTHER

from kiosk_ui.static_files import asset_version, static_file
from kiosk_ui.web import i18n
from kiosk_ui.web.api import COOKIE, Api, ApiError, token_cookie, token_of

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE.parent / "static"
TEMPLATE_DIR = HERE.parent / "templates"
#: The shell the service worker keeps, and what the pages link (with ``?v=`` of their contents).
SHELL = (
    "kiosk.css",
    "js/kiosk.js",
    "js/wedge.js",
    "js/camera.js",
    "js/qr_reader.js",
    "js/idle.js",
    "js/printing.js",
    "js/offline.js",
    "vendor/htmx.min.js",
)
ASSET_VERSION = asset_version(STATIC_DIR / name for name in SHELL)
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; worker-src 'self'; "
    "script-src 'self' 'wasm-unsafe-eval'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    # Not "no-referrer": with it a browser sends "Origin: null" on the pairing form's POST.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # screens hold attendees' names: never kept by the browser
}
DURATIONS = (30, 45, 60, 90)
#: A screen reached by URL, and what it needs.
SCREENS = (
    "welcome",
    "search",
    "verify",
    "refusal",
    "confirm",
    "correct",
    "printing",
    "done",
    "propose",
    "propose_form",
    "proposed",
    "desk",
)
REFUSALS = ("invalid", "revoked", "not_yet_valid", "expired", "wrong_list", "unknown_badge", "room_full")
#: Nothing of this answer is shown when the API is not reachable with the kiosk's token.
_UNPAIRED = {401}


def _environment(lang: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(
        lang=lang,
        languages=i18n.LANGUAGES,
        asset_version=ASSET_VERSION,
        durations=DURATIONS,
        uuid=lambda: str(uuid.uuid4()),
        day=lambda ms, tz: i18n.day(int(ms), tz, lang),
        clock=lambda ms, tz: i18n.clock(int(ms), tz, lang),
        organizer_text=lambda text: i18n.organizer_text(text, lang),
    )
    return env


_ENVIRONMENTS: dict[str, jinja2.Environment] = {}


def environment(lang: str) -> jinja2.Environment:
    if lang not in _ENVIRONMENTS:
        _ENVIRONMENTS[lang] = _environment(lang)
    return _ENVIRONMENTS[lang]


def _is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


def render(
    request: Request[Any, Any, Any],
    lang: str,
    screen: str,
    status: dict[str, Any] | None = None,
    *,
    code: int = 200,
    **context: Any,
) -> Response[str]:
    """``screen`` as a fragment for htmx, else as a whole page; ``code`` the HTTP status it answers."""
    env = environment(lang)
    settings = (status or {}).get("settings", {})
    values = {
        "screen": screen,
        "status": status or {},
        "settings": settings,
        "tz": ((status or {}).get("event") or {}).get("timezone") or "UTC",
        **context,
    }
    template = f"kiosk/screens/{screen}.html"
    body = env.get_template(template if _is_htmx(request) else "kiosk/page.html").render(
        **values, template=template
    )
    return Response(body, status_code=code, media_type="text/html", headers=SECURITY_HEADERS)


def same_origin(request: Request[Any, Any, Any]) -> bool:
    """The page's own POSTs carry its origin; another site's form or script carries its own, or none."""
    origin = request.headers.get("origin")
    host = request.headers.get("host")
    return bool(origin and host) and origin in (f"http://{host}", f"https://{host}")


def _cross_origin() -> Response[str]:
    return Response(
        "cross-origin request refused", status_code=403, media_type="text/plain", headers=SECURITY_HEADERS
    )


async def _status(api: Api) -> dict[str, Any]:
    status: dict[str, Any] = await api.json("GET", "/api/v1/kiosk/status")
    return status


async def _status_or_screen(
    request: Request[Any, Any, Any], api: Api, lang: str
) -> dict[str, Any] | Response[str]:
    """The kiosk's status, or the screen to show instead: pairing when the appliance no longer
    knows this kiosk's token, else the trouble screen (every handler starts here)."""
    try:
        return await _status(api)
    except ApiError as err:
        if err.status in _UNPAIRED:
            return _pair_page(request, lang, error="expired")
        return _trouble(request, lang, None, err)


def _pair_page(
    request: Request[Any, Any, Any], lang: str, *, error: str = "", code: int = 200
) -> Response[str]:
    response = render(request, lang, "pair", None, code=code, error=error)
    if token_of(request):  # a token the appliance no longer accepts: forget it
        response.delete_cookie(COOKIE, path="/")
    return response


def _trouble(
    request: Request[Any, Any, Any], lang: str, status: dict[str, Any] | None, err: ApiError
) -> Response[str]:
    """Any answer a screen has no words of its own for: the desk, in the attendee's language."""
    return render(request, lang, "desk", status, code=err.status, reason=err.code)


def _refusal(
    request: Request[Any, Any, Any], lang: str, status: dict[str, Any], err: ApiError
) -> Response[str]:
    details = err.details
    result = str(details.get("result") or "invalid")
    return render(
        request,
        lang,
        "refusal",
        status,
        code=422,
        result=result if result in REFUSALS else "invalid",
        valid_from=details.get("valid_from"),
        valid_until=details.get("valid_until"),
    )


def _confirm(
    request: Request[Any, Any, Any],
    lang: str,
    status: dict[str, Any],
    identified: dict[str, Any],
    **extra: Any,
) -> Response[str]:
    """The badge as it will print, and the Print button with its nonce, fixed now for every retry."""
    return render(request, lang, "confirm", status, identified=identified, nonce=str(uuid.uuid4()), **extra)


#: What an NFC reader in keyboard mode types: the tag's UID in hex (our QR codes start "KB1:").
_NFC_UID = re.compile(r"[0-9A-Fa-f]{8,20}")


def badge_proof(text: str) -> dict[str, str]:
    """The API's badge body for what the wedge or camera read: a tag's UID, else the QR text."""
    return {"nfc_uid": text.upper()} if _NFC_UID.fullmatch(text) else {"code": text}


def _form(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value).strip()


Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


# --- pages -----------------------------------------------------------------------------------


@get("/kiosk", include_in_schema=False)
async def kiosk_page(
    request: Request[Any, Any, Any],
    screen: FromQuery[str] = "welcome",
    lang: FromQuery[str] = "en",
    badge: FromQuery[str] = "",
    ref: FromQuery[str] = "",
    name: FromQuery[str] = "",
    company: FromQuery[str] = "",
    result: FromQuery[str] = "invalid",
    valid_from: FromQuery[int | None] = None,
    valid_until: FromQuery[int | None] = None,
    job: FromQuery[str] = "",
) -> Response[str]:
    """Pairing without the cookie; else the screen named (Welcome by default)."""
    lang = i18n.language(lang)
    token = token_of(request)
    if not token:
        return _pair_page(request, lang)
    async with Api(request, token) as api:
        status = await _status_or_screen(request, api, lang)
        if isinstance(status, Response):
            return status
        if screen not in SCREENS:
            screen = "welcome"
        try:
            if screen in ("confirm", "correct", "propose_form"):
                if not badge:
                    return render(request, lang, "propose" if screen == "propose_form" else "welcome", status)
                identified = await api.json(
                    "POST", "/api/v1/kiosk/identify", json={"badge": badge_proof(badge)}
                )
                if screen == "confirm":
                    return _confirm(request, lang, status, identified)
                if screen == "correct":
                    return render(request, lang, "correct", status, identified=identified, error=None)
                return render(
                    request, lang, "propose_form", status, badge=badge, identified=identified, error=None
                )
            if screen in ("printing", "done"):
                found = await api.json("GET", f"/api/v1/print-jobs/{job}") if job else None
                return render(request, lang, "printing", status, job=found, state=screen, next=[])
        except ApiError as err:
            if err.code == "badge_refused":
                return _refusal(request, lang, status, err)
            return _trouble(request, lang, status, err)
    context: dict[str, Any] = {}
    if screen == "verify":
        context = {"ref": ref, "name": name, "company": company, "error": None}
    elif screen == "refusal":
        context = {
            "result": result if result in REFUSALS else "invalid",
            "valid_from": valid_from,
            "valid_until": valid_until,
        }
    elif screen == "proposed":
        context = {"ref": ref}
    elif screen == "desk":
        context = {"reason": ""}
    return render(request, lang, screen, status, **context)


@post("/kiosk/pair", status_code=200, include_in_schema=False)
async def pair(request: Request[Any, Any, Any], data: Form, lang: FromQuery[str] = "en") -> Response[Any]:
    """Exchange the short code for the kiosk's token, kept in an HttpOnly cookie and never shown."""
    lang = i18n.language(lang)
    if not same_origin(request):
        return _cross_origin()
    code = _form(data, "code")
    async with Api(request, None) as api:
        try:
            paired = await api.json("POST", "/api/v1/kiosk/pair", json={"code": code})
        except ApiError as err:
            if err.code == "locked":
                return _pair_page(request, lang, error="locked", code=err.status)
            if err.code in ("wrong_code", "invalid"):
                return _pair_page(request, lang, error="wrong_code", code=err.status)
            return _pair_page(request, lang, error="trouble", code=err.status)
    response: Response[Any] = Redirect(f"/kiosk?lang={lang}", status_code=HTTP_303_SEE_OTHER)
    # The pairing answers in milliseconds, like the rest of the API (sign-in in seconds).
    response.set_cookie(token_cookie(request, COOKIE, paired["token"], paired["expires_at"] / 1000))
    return response


@post("/kiosk/identify", status_code=200, include_in_schema=False)
async def identify(request: Request[Any, Any, Any], data: Form) -> Response[str]:
    """A scanned badge (wedge or camera): the confirm screen, or for a proposal the proposal form."""
    lang = i18n.language(_form(data, "lang"))
    if not same_origin(request):
        return _cross_origin()
    code, purpose = _form(data, "code"), _form(data, "purpose")
    async with Api(request, token_of(request)) as api:
        status = await _status_or_screen(request, api, lang)
        if isinstance(status, Response):
            return status
        if not code:
            return _refusal(request, lang, status, ApiError(422, "badge_refused", "", {"result": "invalid"}))
        try:
            identified = await api.json("POST", "/api/v1/kiosk/identify", json={"badge": badge_proof(code)})
        except ApiError as err:
            if err.code == "badge_refused":
                return _refusal(request, lang, status, err)
            return _trouble(request, lang, status, err)
    if purpose == "propose":
        return render(request, lang, "propose_form", status, badge=code, identified=identified, error=None)
    return _confirm(request, lang, status, identified)


@get("/kiosk/lookup", include_in_schema=False)
async def lookup(
    request: Request[Any, Any, Any], q: FromQuery[str] = "", lang: FromQuery[str] = "en"
) -> Response[str]:
    """Masked matches as the attendee types: first initial, surname initial, company; nothing more."""
    lang = i18n.language(lang)
    query = q.strip()
    if len(query) < 2:
        return render(request, lang, "results", None, results=None, short=True, more=False, query=query)
    async with Api(request, token_of(request)) as api:
        try:
            found = await api.json("GET", "/api/v1/kiosk/lookup", params={"q": query})
        except ApiError as err:
            if err.code == "query_too_short":
                return render(
                    request, lang, "results", None, results=None, short=True, more=False, query=query
                )
            return render(
                request,
                lang,
                "results",
                None,
                code=err.status,
                results=None,
                short=False,
                more=False,
                query=query,
                error=err.code,
            )
    return render(
        request, lang, "results", None, results=found["results"], short=False, more=found["more"], query=query
    )


@post("/kiosk/verify", status_code=200, include_in_schema=False)
async def verify(request: Request[Any, Any, Any], data: Form) -> Response[str]:
    """The second factor for a name found by search; three wrong answers send the attendee to the desk."""
    lang = i18n.language(_form(data, "lang"))
    if not same_origin(request):
        return _cross_origin()
    ref, factor = _form(data, "ref"), _form(data, "factor")
    shown = {"ref": ref, "name": _form(data, "name"), "company": _form(data, "company")}
    async with Api(request, token_of(request)) as api:
        status = await _status_or_screen(request, api, lang)
        if isinstance(status, Response):
            return status
        if not factor:
            return render(request, lang, "verify", status, code=422, error={"code": "empty"}, **shown)
        try:
            identified = await api.json(
                "POST", "/api/v1/kiosk/lookup/verify", json={"ref": ref, "factor": factor}
            )
        except ApiError as err:
            if err.code == "badge_refused":
                return _refusal(request, lang, status, err)
            if err.code == "wrong_factor":
                error = {"code": "wrong_factor", "attempts_left": err.details.get("attempts_left")}
                return render(request, lang, "verify", status, code=err.status, error=error, **shown)
            if err.code == "ask_at_desk":
                return render(request, lang, "desk", status, code=err.status, reason="ask_at_desk")
            return _trouble(request, lang, status, err)
    return _confirm(request, lang, status, identified)


@get("/kiosk/badge.png", include_in_schema=False)
async def badge_png(request: Request[Any, Any, Any], grant: FromQuery[str] = "") -> Response[bytes]:
    """The badge preview the printer's own layout draws, passed through and never cached."""
    async with Api(request, token_of(request)) as api:
        try:
            answer = await api.call("GET", "/api/v1/kiosk/badge.png", params={"grant": grant})
        except ApiError as err:
            return Response(b"", status_code=err.status, media_type="image/png", headers=SECURITY_HEADERS)
    return Response(answer.content, media_type="image/png", headers=SECURITY_HEADERS)


@post("/kiosk/correct/form", status_code=200, include_in_schema=False)
async def correct_form(request: Request[Any, Any, Any], data: Form) -> Response[str]:
    """The correction form with the attendee's current values (as the confirm screen showed them)."""
    lang = i18n.language(_form(data, "lang"))
    if not same_origin(request):
        return _cross_origin()
    identified = {
        "grant": _form(data, "grant"),
        "attendee": {"name": _form(data, "name"), "company": _form(data, "company")},
    }
    async with Api(request, token_of(request)) as api:
        status = await _status_or_screen(request, api, lang)
        if isinstance(status, Response):
            return status
    return render(request, lang, "correct", status, identified=identified, error=None)


@post("/kiosk/correct", status_code=200, include_in_schema=False)
async def correct(request: Request[Any, Any, Any], data: Form) -> Response[str]:
    """Send the corrected fields; the appliance's limits decide, and a refusal is shown in place."""
    lang = i18n.language(_form(data, "lang"))
    if not same_origin(request):
        return _cross_origin()
    grant = _form(data, "grant")
    async with Api(request, token_of(request)) as api:
        status = await _status_or_screen(request, api, lang)
        if isinstance(status, Response):
            return status
        allowed = status.get("settings", {}).get("corrections", [])
        body: dict[str, Any] = {"grant": grant}
        for field in ("name", "company"):
            if field in allowed and field in data:
                body[field] = _form(data, field)
        try:
            identified = await api.json("POST", "/api/v1/kiosk/corrections", json=body)
        except ApiError as err:
            typed = {"grant": grant, "attendee": {f: _form(data, f) for f in ("name", "company")}}
            if err.code in ("correction_refused", "invalid"):
                error = {"code": "correction_refused", "field": err.details.get("field", "")}
                return render(
                    request, lang, "correct", status, code=err.status, identified=typed, error=error
                )
            if err.code == "forbidden":
                return render(request, lang, "desk", status, code=err.status, reason="correction_forbidden")
            return _trouble(request, lang, status, err)
    return _confirm(request, lang, status, identified, corrected=True)


@post("/kiosk/print", status_code=200, include_in_schema=False)
async def print_badge(request: Request[Any, Any, Any], data: Form) -> Response[str]:
    """Check in and print, once: the nonce fixed as the confirm screen rendered makes a retry the same job."""
    lang = i18n.language(_form(data, "lang"))
    if not same_origin(request):
        return _cross_origin()
    body = {"grant": _form(data, "grant"), "nonce": _form(data, "nonce")}
    async with Api(request, token_of(request)) as api:
        try:
            status = await _status(api)
            answer = await api.json("POST", "/api/v1/kiosk/checkins", json=body)
        except ApiError as err:
            if err.code == "no_printer":
                return render(request, lang, "desk", None, code=err.status, reason="no_printer")
            if err.code == "badge_refused":
                return _refusal(request, lang, status, err)
            return _trouble(request, lang, None, err)
    scan = answer.get("scan") or {}
    if scan.get("result") not in ("admitted", "already_admitted"):
        # Refused at the moment of check-in (revoked meanwhile, a gate's rule): never "printed".
        refused = ApiError(422, "badge_refused", str(scan.get("reason", "")), {"result": scan.get("result")})
        return _refusal(request, lang, status, refused)
    job = answer.get("job")
    return render(
        request,
        lang,
        "printing",
        status,
        job=job,
        state="done" if job and job.get("status") == "done" else "printing",
        pickup=answer.get("pickup", ""),
        next=answer.get("next") or [],
    )


@get("/kiosk/job/{job_id:str}", include_in_schema=False)
async def job_state(request: Request[Any, Any, Any], job_id: FromPath[str]) -> Response[dict[str, Any]]:
    """A print job's state for the printing screen when it (re)connects to the live feed."""
    async with Api(request, token_of(request)) as api:
        try:
            job = await api.json("GET", f"/api/v1/print-jobs/{job_id}")
        except ApiError as err:
            return Response({"code": err.code}, status_code=err.status, headers=SECURITY_HEADERS)
    return Response(
        {"id": job["id"], "status": job["status"], "detail": job.get("detail") or ""},
        headers=SECURITY_HEADERS,
    )


@get("/kiosk/propose/slots", include_in_schema=False)
async def propose_slots(
    request: Request[Any, Any, Any], duration_min: FromQuery[int] = 30, lang: FromQuery[str] = "en"
) -> Response[str]:
    """Free slots for the chosen length, each a button that sets the wished time."""
    lang = i18n.language(lang)
    async with Api(request, token_of(request)) as api:
        try:
            status = await _status(api)
            found = await api.json(
                "GET", "/api/v1/slots", params={"duration": duration_min, "grassroots": "true", "limit": 5}
            )
        except ApiError:
            return render(request, lang, "slots", None, slots=[], failed=True)
    return render(request, lang, "slots", status, slots=found["slots"], failed=False)


@post("/kiosk/propose", status_code=200, include_in_schema=False)
async def propose(request: Request[Any, Any, Any], data: Form) -> Response[str]:
    """Submit the proposal; the reference goes on screen, the form stays filled when something is wrong."""
    lang = i18n.language(_form(data, "lang"))
    if not same_origin(request):
        return _cross_origin()
    badge = _form(data, "badge")
    slot = _form(data, "slot")
    body: dict[str, Any] = {
        "badge": badge_proof(badge),
        "title": _form(data, "title"),
        "description": _form(data, "description"),
        "language": lang,
        "nonce": _form(data, "nonce") or str(uuid.uuid4()),
    }
    try:
        body["duration_min"] = int(_form(data, "duration_min") or 0)
        if slot:
            start, end = slot.split("-", 1)
            body["wished_from"], body["wished_to"] = int(start), int(end)
    except ValueError:
        body["duration_min"] = 0
    async with Api(request, token_of(request)) as api:
        status = await _status_or_screen(request, api, lang)
        if isinstance(status, Response):
            return status
        typed = {k: _form(data, k) for k in ("title", "description", "duration_min", "slot", "nonce")}

        def form_again(field: str, code: str) -> Response[str]:
            """The form with what was typed and why it was not taken (422)."""
            error = {"field": field, "code": code}
            return render(
                request,
                lang,
                "propose_form",
                status,
                code=422,
                badge=badge,
                identified=None,
                typed=typed,
                error=error,
            )

        if not body["title"] or body["duration_min"] not in DURATIONS:
            return form_again("title" if not body["title"] else "duration_min", "missing")
        try:
            proposal = await api.json("POST", "/api/v1/proposals", json=body)
        except ApiError as err:
            if err.code == "badge_refused":
                return _refusal(request, lang, status, err)
            if err.status == 422:
                return form_again(str(err.details.get("field", "")), err.code)
            return _trouble(request, lang, status, err)
    return render(request, lang, "proposed", status, ref=proposal["ref"])


# --- the shell: service worker, the "one moment" page, static files --------------------------


@get("/kiosk/sw.js", include_in_schema=False)
async def service_worker() -> Response[str]:
    """The service worker, versioned with the shell so a new release replaces the cached one."""
    body = (STATIC_DIR / "sw.js").read_text(encoding="utf-8")
    body = body.replace("__VERSION__", ASSET_VERSION).replace("__SHELL__", ",".join(SHELL))
    return Response(
        body,
        media_type="text/javascript",
        headers={
            "Cache-Control": "no-cache",
            "Service-Worker-Allowed": "/kiosk",  # scope /kiosk covers /kiosk itself, not only /kiosk/…
            "X-Content-Type-Options": "nosniff",
        },
    )


@get("/kiosk/offline", include_in_schema=False)
async def offline(request: Request[Any, Any, Any], lang: FromQuery[str] = "en") -> Response[str]:
    """'One moment': what the service worker shows while the appliance restarts; no API call."""
    lang = i18n.language(lang)
    body = environment(lang).get_template("kiosk/offline.html").render()
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
    return Response(body, media_type="text/html", headers=headers)


@get("/kiosk/static/{path:path}", include_in_schema=False)
async def static(path: FromPath[str]) -> File | Response[str]:
    """The kiosk's own CSS and JS and the vendored copies, with the types a strict browser needs."""
    return static_file(STATIC_DIR, path)


ROUTES = [
    kiosk_page,
    pair,
    identify,
    lookup,
    verify,
    badge_png,
    correct_form,
    correct,
    print_badge,
    job_state,
    propose_slots,
    propose,
    service_worker,
    offline,
    static,
]
