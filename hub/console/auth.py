"""Who is looking at a console page: the session cookie, the organization, the role.

The console authenticates with a session cookie (``kf_session``, a random
value whose keyed hash is a row of ``console_session``, see
:class:`hub.tenants.accounts.Sessions`), HttpOnly and SameSite=Strict, so
no other site can make the browser send it; ending the row ends the
session on every worker.  Every state-changing request also carries a CSRF
token (:mod:`hub.console.csrf`).  A POST
whose ``Origin`` header names another host is refused as well: browsers
send that header on every cross-origin form or fetch, so it closes the gap
for the few cases SameSite does not cover (sibling subdomains, old
browsers).  Roles are read from the database on every request (through
``memberships``), so removing a member or demoting them takes effect at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.params import FromPath

from hub.state import state_of
from hub.tenants.accounts import Membership, OrgRole, Principal, memberships
from konferenco.errors import Forbidden, Unauthorized

SESSION_COOKIE = "kf_session"
LOGIN_PATH = "/console/login"
HOME_PATH = "/console"
ACCOUNT_PATH = "/console/account"


class SignInRequired(Exception):
    """No valid session: the console sends the visitor to the sign-in page."""

    def __init__(self, next_path: str, reason: str = "") -> None:
        super().__init__(reason or "sign in first")
        self.next_path = next_path
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Visitor:
    """A signed-in account and the organizations it belongs to."""

    account_id: str
    memberships: list[Membership]


@dataclass(frozen=True, slots=True)
class OrgAccess:
    """A visitor inside one organization: what the pages need to decide what to show."""

    visitor: Visitor
    membership: Membership
    principal: Principal

    @property
    def can_edit(self) -> bool:
        """Organizers and owners change things; viewers only look."""
        return self.principal.role.at_least(OrgRole.ORGANIZER)

    def require_editor(self) -> None:
        self.principal.require(OrgRole.ORGANIZER)


def is_htmx(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    return connection.headers.get("hx-request") == "true"


def safe_next(value: str | None) -> str:
    """Where to go after signing in: only a console path of this site (no open redirect)."""
    if not value or not value.startswith(HOME_PATH) or value.startswith("//") or "\\" in value:
        return HOME_PATH
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return HOME_PATH
    return value


def login_url(next_path: str) -> str:
    target = safe_next(next_path)
    return LOGIN_PATH if target == HOME_PATH else f"{LOGIN_PATH}?next={quote(target, safe='/')}"


def page_path(request: Request[Any, Any, Any]) -> str:
    """The page to come back to after signing in.

    For an htmx fragment, the page that asked for it; for a form sent with an
    expired session, the page the form was on (a POST URL cannot be revisited).
    """
    if is_htmx(request) and (current := request.headers.get("hx-current-url")):
        return _path_of(current)
    if request.method != "GET":
        referer = request.headers.get("referer", "")
        if urlsplit(referer).netloc.lower() == request.headers.get("host", "").lower():
            return _path_of(referer)
        return HOME_PATH
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def provide_visitor(request: Request[Any, Any, Any]) -> Visitor:
    """The signed-in account, or :class:`SignInRequired` (the console redirects to the sign-in page)."""
    state = state_of(request)
    try:
        account_id = await state.sessions.account(state.db, request.cookies.get(SESSION_COOKIE))
    except Unauthorized as exc:
        cookie_present = SESSION_COOKIE in request.cookies
        raise SignInRequired(page_path(request), exc.message if cookie_present else "") from None
    return Visitor(account_id, await memberships(state.db, account_id))


async def provide_access(visitor: NamedDependency[Visitor], org: FromPath[str]) -> OrgAccess:
    """The visitor's role in the organization named in the URL; 403 for a non-member."""
    for membership in visitor.memberships:
        if membership.slug == org:
            principal = Principal(visitor.account_id, membership.org_id, membership.slug, membership.role)
            return OrgAccess(visitor, membership, principal)
    raise Forbidden(f"you are not a member of {org!r}")


async def check_origin(request: Request[Any, Any, Any]) -> None:
    """``before_request`` of the console: refuse a state-changing request sent from another site."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    origin = request.headers.get("origin")
    if origin is None:
        return
    # The hub's own address as the browser sees it: the Host header, or the public URL when a reverse
    # proxy rewrites Host on the way in.
    ours = {
        request.headers.get("host", "").lower(),
        urlsplit(state_of(request).settings.public_url).netloc.lower(),
    }
    if urlsplit(origin).netloc.lower() not in ours:
        raise Forbidden("this form was sent from another site; open the console directly and try again")
