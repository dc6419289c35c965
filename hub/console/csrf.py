"""CSRF tokens of the console, and how its cookies are marked ``Secure``.

Every state-changing console request (every method but GET, HEAD and
OPTIONS, the sign-in form included) must carry a token the page was
rendered with: forms in a hidden ``_csrf`` field, htmx requests in the
``X-CSRF-Token`` header (``static/console.js`` copies it from the page's
``<meta name="csrf-token">`` into every non-GET htmx request, so no page
needs inline script).  The token is an HMAC, under a key derived from the
hub's master secret, of the browser's session cookie (or, before sign-in,
of a random ``kf_csrf`` cookie): another site can make a browser send the
cookies, but cannot read the page to learn the token, and a token is worth
nothing with another session.  This is OWASP's "signed double-submit
cookie"; it needs no server-side state, so every worker checks it alike.
It comes on top of SameSite=Strict cookies and the ``Origin`` check in
:func:`hub.console.auth.check_origin`.

``Secure``: a cookie is marked Secure when the request came over HTTPS
(directly, or through a reverse proxy that says so in ``X-Forwarded-Proto``:
``konferenco hub serve`` runs uvicorn with proxy headers on, trusted from
127.0.0.1 unless ``FORWARDED_ALLOW_IPS`` names the proxy), or when the
hub's public URL (``--public-url``/``KONFERENCO_HUB_URL``) is ``https://``:
that URL says browsers reach the hub over TLS even if the hop from the
proxy is plain HTTP.  Only a hub served on plain HTTP to its browsers (a
laptop demo) sends cookies without it, since a Secure cookie would never
come back over HTTP and nobody could sign in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection

from hub.console.auth import SESSION_COOKIE
from hub.state import state_of
from konferenco.errors import Forbidden

CSRF_COOKIE = "kf_csrf"
CSRF_FIELD = "_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_STATE_KEY = "csrf_binding"


def cookie_secure(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """Whether the console's cookies get ``Secure`` (see the module docstring)."""
    if connection.url.scheme == "https":
        return True
    return state_of(connection).settings.public_url.lower().startswith("https://")


def _binding(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """What a token is bound to: the session cookie, else the pre-sign-in cookie ('' if neither)."""
    minted = connection.scope.get("state", {}).get(_STATE_KEY)
    return connection.cookies.get(SESSION_COOKIE) or connection.cookies.get(CSRF_COOKIE) or minted or ""


def token_for(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The token to put in this page's forms and meta tag ('' when the browser has no cookie yet)."""
    binding = _binding(connection)
    if not binding:
        return ""
    key = state_of(connection).secrets.derive("console-csrf")
    mac = hmac.new(key, binding.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def mint_presession(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """For the sign-in page: a new ``kf_csrf`` value when the browser has no cookie to bind a token
    to (the caller sets it on the response), else None."""
    if connection.cookies.get(SESSION_COOKIE) or connection.cookies.get(CSRF_COOKIE):
        return None
    value = secrets.token_urlsafe(32)
    connection.scope.setdefault("state", {})[_STATE_KEY] = value
    return value


async def check_csrf(request: Request[Any, Any, Any]) -> None:
    """``before_request`` of the console: refuse a state-changing request without the page's token."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        field = form.get(CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    expected = token_for(request)
    if not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden(
            "this form was not sent from a console page of this session (it may be from before you "
            "signed in again); reload the page and try again"
        )
