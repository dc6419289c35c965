"""Turning console state into HTML: template filters, page and fragment responses, error pages, QR codes.

Every time on a console page is shown in the *event's* time zone (an
organizer in Lisbon running a Berlin conference reads door times as the
door volunteers see them), so the filters take the zone as an argument.
Errors reuse the services' wording (:class:`konferenco.errors.KonferencoError`): a full
page for a normal request, and for an htmx request a message swapped into
the page's ``#flash`` area, so a failed click never replaces a table with
an error page.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import zoneinfo
from pathlib import Path
from typing import Any

import qrcode
import qrcode.image.svg
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.template.config import TemplateConfig
from markupsafe import Markup

from hub.console.auth import SignInRequired, is_htmx, login_url
from hub.console.csrf import token_for
from konferenco.errors import KonferencoError

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATE_DIR = HERE / "templates"
#: Appended to asset URLs so a new release is not served from a browser's stale cache.
ASSET_VERSION = hashlib.sha256(
    b"".join((STATIC_DIR / name).read_bytes() for name in ("console.css", "htmx.min.js", "console.js"))
).hexdigest()[:10]

_ZONES: dict[str, dt.tzinfo] = {}


def zone(name: str) -> dt.tzinfo:
    """The event's zone; UTC for a name this machine's tz database does not know (shown, not hidden)."""
    if name not in _ZONES:
        try:
            _ZONES[name] = zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            _ZONES[name] = dt.UTC
    return _ZONES[name]


def _moment(value: Any) -> dt.datetime | None:
    """Milliseconds since the epoch (sync records, event dates) or an ISO string (database rows)."""
    if value is None or value == "" or value == 0:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value / 1000, dt.UTC)
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def local_time(value: Any, tz: str = "UTC", fmt: str = "%Y-%m-%d %H:%M") -> str:
    """``value`` in the zone ``tz``, or an em dash for "never"."""
    moment = _moment(value)
    return moment.astimezone(zone(tz)).strftime(fmt) if moment else "—"


def local_day(value: Any, tz: str = "UTC") -> str:
    return local_time(value, tz, "%a %d %b %Y")


def local_clock(value: Any, tz: str = "UTC") -> str:
    return local_time(value, tz, "%H:%M:%S")


def day_bounds(start: str, end: str, tz: str) -> tuple[int, int]:
    """Dates typed in a form (``YYYY-MM-DD``, either may be empty) as the event's first and last millisecond.

    The start is midnight of its day in the event's zone and the end the last
    millisecond of its day, so a one-day event reads as that day everywhere.
    Raises ValueError with a message for the form.
    """
    zone_ = zone(tz)

    def midnight(text: str, what: str) -> dt.datetime | None:
        if not text.strip():
            return None
        try:
            day = dt.date.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(f"the {what} date {text!r} is not a date (YYYY-MM-DD)") from None
        return dt.datetime.combine(day, dt.time(), zone_)

    first = midnight(start, "start")
    last = midnight(end, "end")
    if first and last and last < first:
        raise ValueError("the event ends before it starts")
    starts_at = int(first.timestamp() * 1000) if first else 0
    ends_at = int((last + dt.timedelta(days=1)).timestamp() * 1000) - 1 if last else 0
    return starts_at, ends_at


def qr_svg(data: str) -> Markup:
    """``data`` as an inline SVG QR code (crisp at any size, no image route, nothing to cache)."""
    image = qrcode.make(
        data,
        image_factory=qrcode.image.svg.SvgPathImage,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=2,
    )
    svg = image.to_string(encoding="unicode")
    if svg.startswith("<?xml"):
        svg = svg.split("?>", 1)[1]
    # The library sizes the SVG in millimetres; the stylesheet sizes it instead.
    svg = svg.replace('width="', 'data-mm-width="', 1).replace('height="', 'data-mm-height="', 1)
    return Markup(svg.replace("<svg ", '<svg role="img" aria-label="enrolment QR code" ', 1))


def _register(engine: JinjaTemplateEngine) -> None:
    env = engine.engine
    env.filters["local_time"] = local_time
    env.filters["local_day"] = local_day
    env.filters["local_clock"] = local_clock
    env.globals["asset_version"] = ASSET_VERSION
    env.globals["console_csrf"] = token_for  # {{ console_csrf(request) }}: the page's CSRF token
    env.trim_blocks = True
    env.lstrip_blocks = True


TEMPLATE_CONFIG: TemplateConfig[JinjaTemplateEngine] = TemplateConfig(
    directory=TEMPLATE_DIR, engine=JinjaTemplateEngine, engine_callback=_register
)

#: On every console answer (the router's ``response_headers``, and pages rendered by an error handler).
#: No ``'unsafe-inline'`` or ``'unsafe-eval'``: the only scripts are the two static files, and htmx runs
#: with ``allowEval`` off (base.html); ``frame-ancestors 'none'`` and X-Frame-Options stop clickjacking.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",  # pages show tokens and live figures: never from a cache
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    ),
}


def render(
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Template:
    return Template(
        template_name=template,
        context=context or {},
        status_code=status,
        headers={**SECURITY_HEADERS, **(headers or {})},
        media_type=MediaType.HTML,
    )


def flash(
    message: str, *, status: int = 200, kind: str = "error", headers: dict[str, str] | None = None
) -> Template:
    """A message for the page's ``#flash`` area, whatever element the htmx request targeted."""
    return render(
        "partials/flash.html",
        {"message": message, "kind": kind},
        status=status,
        headers={"HX-Retarget": "#flash", "HX-Reswap": "innerHTML", **(headers or {})},
    )


def see_other(path: str, request: Request[Any, Any, Any] | None = None) -> Response[Any]:
    """After a POST: a 303 to the page to show (for htmx, a full navigation by ``HX-Redirect``)."""
    if request is not None and is_htmx(request):
        return Response(b"", status_code=200, headers={"HX-Redirect": path})
    return Redirect(path, status_code=303)


def console_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Exception handler of the console router (see the module docstring)."""
    if isinstance(exc, SignInRequired):
        target = login_url(exc.next_path)
        if is_htmx(request):
            return Response(b"", status_code=401, headers={"HX-Redirect": target})
        return Redirect(target, status_code=303)
    headers: dict[str, str] = {}
    if isinstance(exc, KonferencoError):
        status, message = exc.status, exc.message
        if "retry_after" in exc.details:
            headers["Retry-After"] = str(exc.details["retry_after"])
    elif isinstance(exc, HTTPException):
        status, message = exc.status_code, exc.detail
    else:
        log.exception("console page failed", exc_info=exc)
        status, message = 500, "something went wrong on the hub; the error was logged. Try again in a moment."
    if status >= 500 and isinstance(exc, HTTPException | KonferencoError):
        log.error("console: %s", message)
    if is_htmx(request):
        return flash(message, status=status, headers=headers)
    return render("error.html", {"status": status, "message": message}, status=status, headers=headers)
