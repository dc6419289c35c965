"""The API docs both apps serve at ``/schema``: the error shape on every route, and pages that work offline.

* :class:`Error` is the body of every refusal (:mod:`konferenco.http_errors`); its ``code`` is
  an enum of :data:`konferenco.errors.CODES`.
* :class:`ErrorResponses`, a Litestar plugin, documents on every route the error statuses it
  can answer, each with the codes that travel with that status: the generic ones follow from
  the route (path parameters, a signed-in caller, a write; ``400`` everywhere, since any query
  string may be unreadable), the specific ones are named
  per route by the app (``"POST /api/v1/scans": ["nonce_reused", ...]``).
* :func:`openapi_config` serves Swagger UI (``/schema/swagger``) and Redoc (``/schema`` and
  ``/schema/redoc``) with the copies of their scripts in ``konferenco/static/api_docs``
  (:func:`docs_assets_router`; refreshed from npm by ``konferenco/web_assets``), never a CDN:
  an appliance at a venue has no internet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import msgspec
from litestar import Request, Router
from litestar.datastructures import CacheControlHeader
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import RedocRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Example
from litestar.plugins import ReceiveRoutePlugin
from litestar.routes import BaseRoute, HTTPRoute
from litestar.static_files import create_static_files_router

from konferenco.errors import CODES

if TYPE_CHECKING:
    CodeName = str
else:
    CodeName = Literal[tuple(CODES)]  # the schema's enum: exactly the codes in CODES

#: Where :func:`docs_assets_router` serves ``konferenco/static/api_docs``.
ASSETS_PATH = "/api-docs-assets"
ASSETS_DIR = Path(__file__).parent / "static" / "api_docs"
#: No favicon request at all (Litestar's default points at a CDN).
_NO_FAVICON = "<link rel='icon' href='data:,'>"
#: Nor any other image from elsewhere: Redoc shows its maker's logo from their CDN.
_LOCAL_IMAGES = b"<meta http-equiv='Content-Security-Policy' content=\"img-src 'self' data:\">"

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Error(msgspec.Struct, kw_only=True):
    """A refusal: ``code`` is stable and meant for programs, ``message`` for people, ``details``
    for what a program needs to act (``retry_after``, ``errors``, ``problems``, ``field``,
    ``allowed_roles``, ``reason``).  Until 0.3 the details are also copied to the top level.
    See docs/api-errors.md."""

    code: CodeName
    message: str
    details: dict[str, Any]


def example(code: str) -> dict[str, Any]:
    return {"code": code, "message": CODES[code].meaning, "details": {}}


def error_responses(codes: Iterable[str]) -> dict[int, ResponseSpec]:
    """A ``responses=`` entry per status of ``codes``, each naming its codes and their meanings."""
    by_status: dict[int, list[str]] = defaultdict(list)
    for code in dict.fromkeys(codes):
        by_status[CODES[code].status].append(code)
    return {
        status: ResponseSpec(
            data_container=Error,
            description="\n".join(f"* `{code}`: {CODES[code].meaning}" for code in group),
            generate_examples=False,
            examples=[Example(summary=code, value=example(code)) for code in group],
        )
        for status, group in sorted(by_status.items())
    }


class ErrorResponses(ReceiveRoutePlugin):
    """Puts the error responses of every route of an app in its OpenAPI document.

    ``signed_in(handler)`` tells whether a route needs credentials (``401``/``403``);
    ``routes`` adds the specific codes a route answers, keyed by ``"METHOD /path/{param}"``.
    """

    def __init__(
        self,
        *,
        signed_in: Callable[[HTTPRouteHandler], bool],
        routes: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self.signed_in = signed_in
        self.routes = {key: tuple(codes) for key, codes in (routes or {}).items()}
        for key, codes in self.routes.items():
            unknown = set(codes) - set(CODES)
            if unknown:
                raise ValueError(f"{key}: codes {sorted(unknown)} are not in konferenco.errors.CODES")

    def receive_route(self, route: BaseRoute) -> None:
        if not isinstance(route, HTTPRoute):
            return
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            codes = [
                code for method in sorted(handler.http_methods) for code in self.codes(route, handler, method)
            ]
            handler.responses = {**error_responses(codes), **(handler.responses or {})}

    def codes(self, route: HTTPRoute, handler: HTTPRouteHandler, method: str) -> list[str]:
        """The codes ``handler`` can answer to ``method``: generic ones first, then its own."""
        # Every route: a body or parameters may not fit, and any query string or path that is no
        # text a database could store (NUL, not UTF-8) is refused at the edge (konferenco.edge_input).
        codes = ["bad_request"]
        if self.signed_in(handler):
            codes += ["unauthorized", "forbidden"]
        if route.path_parameters:
            codes.append("not_found")
        if method in WRITES:
            codes.append("body_too_large")
        codes.append("internal_error")
        if method in WRITES:
            codes += ["unavailable", "disk_full"]
        key = f"{method} {route.path_format}"
        return [*codes, *self.routes.get(key, ())]


class _Redoc(RedocRenderPlugin):
    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, openapi_schema).replace(b"<head>", b"<head>" + _LOCAL_IMAGES, 1)


class _Swagger(SwaggerRenderPlugin):
    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, openapi_schema).replace(b"<head>", b"<head>" + _LOCAL_IMAGES, 1)


def openapi_config(title: str, version: str = "1", description: str | None = None) -> OpenAPIConfig:
    """``/schema`` and ``/schema/redoc`` (Redoc), ``/schema/swagger``, ``/schema/openapi.json``, offline."""
    assets = ASSETS_PATH
    return OpenAPIConfig(
        title=title,
        version=version,
        description=description
        or "Every refusal is an `Error` (`code`, `message`, `details`); the codes and what a client "
        "should do about each are in docs/api-errors.md.",
        path="/schema",
        render_plugins=[
            _Redoc(
                js_url=f"{assets}/redoc.standalone.js",
                google_fonts=False,
                path="/redoc",
                favicon=_NO_FAVICON,
            ),
            _Swagger(
                js_url=f"{assets}/swagger-ui-bundle.js",
                css_url=f"{assets}/swagger-ui.css",
                standalone_preset_js_url=f"{assets}/swagger-ui-standalone-preset.js",
                path="/swagger",
                favicon=_NO_FAVICON,
            ),
        ],
    )


def docs_assets_router() -> Router:
    """Serves the Swagger UI and Redoc files at :data:`ASSETS_PATH` (public, cached for a day)."""
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[ASSETS_DIR],
        name="api-docs-assets",
        cache_control=CacheControlHeader(max_age=86_400),
        include_in_schema=False,
    )
