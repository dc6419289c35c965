"""Signing in and out, and the list of the visitor's organizations."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect

from hub.console.auth import (
    HOME_PATH,
    LOGIN_PATH,
    SESSION_COOKIE,
    Visitor,
    safe_next,
)
from hub.console.render import render
from hub.state import state_of
from hub.tenants.accounts import SESSION_SECONDS, sign_in
from konferenco.errors import TooManyAttempts, Unauthorized


def _form_text(form: Any, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


@get(LOGIN_PATH, include_in_schema=False)
async def login_page(
    request: Request[Any, Any, Any], next_path: Annotated[str | None, QueryParameter(name="next")] = None
) -> Response[Any]:
    """The sign-in form; someone already signed in goes straight on."""
    target = safe_next(next_path)
    try:
        state_of(request).sessions.account(request.cookies.get(SESSION_COOKIE))
    except Unauthorized:
        return render("login.html", {"next": target, "email": ""})
    return Redirect(target, status_code=303)


@post(LOGIN_PATH, include_in_schema=False, status_code=303)
async def login(request: Request[Any, Any, Any]) -> Response[Any]:
    """Check the password (rate-limited per e-mail and per address) and set the session cookie."""
    state = state_of(request)
    form = await request.form()
    email = _form_text(form, "email").strip()
    password = _form_text(form, "password")
    target = safe_next(_form_text(form, "next"))
    address = request.client.host if request.client else "unknown"
    try:
        account_id = await sign_in(state.db, state.limiter, email, password, address)
    except TooManyAttempts as exc:
        return render(
            "login.html",
            {"next": target, "email": email, "error": exc.message},
            status=exc.status,
            headers={"Retry-After": str(exc.details.get("retry_after", 60))},
        )
    except Unauthorized as exc:
        return render("login.html", {"next": target, "email": email, "error": exc.message}, status=exc.status)
    cookie = Cookie(
        key=SESSION_COOKIE,
        value=state.sessions.issue(account_id),
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return Redirect(target, status_code=303, cookies=[cookie])


@post("/console/logout", include_in_schema=False, status_code=303)
async def logout(request: Request[Any, Any, Any]) -> Response[Any]:
    """Forget the session cookie (sessions are sealed tokens: the browser holds the only copy)."""
    response: Response[Any] = Redirect(LOGIN_PATH, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@get(HOME_PATH, include_in_schema=False)
async def home(visitor: NamedDependency[Visitor]) -> Response[Any]:
    """The visitor's organizations; straight into the only one when there is one."""
    if len(visitor.memberships) == 1:
        return Redirect(f"{HOME_PATH}/{visitor.memberships[0].slug}", status_code=303)
    return render("orgs.html", {"visitor": visitor})


SESSION_ROUTES = [login_page, login, logout, home]
