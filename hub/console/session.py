"""Signing in and out (here or everywhere), changing one's password, and the list of organizations.

Cookies are HttpOnly, SameSite=Strict, and Secure whenever browsers reach
the hub over HTTPS (:func:`hub.console.csrf.cookie_secure` says how that is
decided).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect

from hub.console.auth import (
    ACCOUNT_PATH,
    HOME_PATH,
    LOGIN_PATH,
    SESSION_COOKIE,
    Visitor,
    safe_next,
)
from hub.console.csrf import CSRF_COOKIE, cookie_secure, mint_presession
from hub.console.render import render
from hub.state import state_of
from hub.tenants.accounts import SESSION_SECONDS, change_password, sign_in, sign_out_everywhere
from konferenco.errors import Invalid, TooManyAttempts, Unauthorized


def _form_text(form: Any, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


@get(LOGIN_PATH, include_in_schema=False)
async def login_page(
    request: Request[Any, Any, Any], next_path: Annotated[str | None, QueryParameter(name="next")] = None
) -> Response[Any]:
    """The sign-in form; someone already signed in goes straight on."""
    target = safe_next(next_path)
    state = state_of(request)
    try:
        await state.sessions.account(state.db, request.cookies.get(SESSION_COOKIE))
    except Unauthorized:
        response = render("login.html", {"next": target, "email": ""})
        if (presession := mint_presession(request)) is not None:
            # Something for the form's CSRF token to be bound to before there is a session.
            response.set_cookie(
                CSRF_COOKIE, presession, path="/console", httponly=True, samesite="strict",
                secure=cookie_secure(request),
            )  # fmt: skip
        return response
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
    return Redirect(target, status_code=303, cookies=[await _session_cookie(request, account_id)])


async def _session_cookie(request: Request[Any, Any, Any], account_id: str) -> Cookie:
    state = state_of(request)
    return Cookie(
        key=SESSION_COOKIE,
        value=await state.sessions.issue(state.db, account_id),
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request),
    )


@post("/console/logout", include_in_schema=False, status_code=303)
async def logout(request: Request[Any, Any, Any]) -> Response[Any]:
    """End this browser's session: its row is deleted, so a copied cookie stops working too."""
    state = state_of(request)
    await state.sessions.end(state.db, request.cookies.get(SESSION_COOKIE))
    response: Response[Any] = Redirect(LOGIN_PATH, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@get(ACCOUNT_PATH, include_in_schema=False)
async def account_page(
    visitor: NamedDependency[Visitor], ended: Annotated[int | None, QueryParameter(ge=0)] = None
) -> Response[Any]:
    """The visitor's own account: change the password, sign out everywhere."""
    context: dict[str, Any] = {"visitor": visitor}
    if (
        ended is not None
    ):  # back from a password change (a redirect, so the page's tokens are the new session's)
        context["done"] = f"Password changed. {_sessions(ended)} ended; this browser is signed in again."
    return render("account.html", context)


@post(f"{ACCOUNT_PATH}/password", include_in_schema=False, status_code=303)
async def password(request: Request[Any, Any, Any], visitor: NamedDependency[Visitor]) -> Response[Any]:
    """Change the password: every session ends (this one too), then this browser is signed in anew."""
    state = state_of(request)
    form = await request.form()
    new = _form_text(form, "new_password")
    if new != _form_text(form, "repeat_password"):
        return render(
            "account.html", {"visitor": visitor, "error": "the two new passwords differ"}, status=422
        )
    try:
        ended = await change_password(state.db, visitor.account_id, _form_text(form, "current_password"), new)
    except (Invalid, Unauthorized) as exc:
        return render("account.html", {"visitor": visitor, "error": exc.message}, status=exc.status)
    cookie = await _session_cookie(request, visitor.account_id)
    return Redirect(f"{ACCOUNT_PATH}?ended={ended}", status_code=303, cookies=[cookie])


@post(f"{ACCOUNT_PATH}/sign-out-everywhere", include_in_schema=False, status_code=303)
async def everywhere(request: Request[Any, Any, Any], visitor: NamedDependency[Visitor]) -> Response[Any]:
    """End every session of the account, this one included (and, if ticked, revoke its API tokens)."""
    state = state_of(request)
    form = await request.form()
    await sign_out_everywhere(
        state.db, visitor.account_id, api_tokens=_form_text(form, "api_tokens") == "yes"
    )
    response: Response[Any] = Redirect(LOGIN_PATH, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _sessions(n: int) -> str:
    return "1 session" if n == 1 else f"{n} sessions"


@get(HOME_PATH, include_in_schema=False)
async def home(visitor: NamedDependency[Visitor]) -> Response[Any]:
    """The visitor's organizations; straight into the only one when there is one."""
    if len(visitor.memberships) == 1:
        return Redirect(f"{HOME_PATH}/{visitor.memberships[0].slug}", status_code=303)
    return render("orgs.html", {"visitor": visitor})


SESSION_ROUTES = [login_page, login, logout, home, account_page, password, everywhere]
