"""Every request input checked once, at the edge, before it can reach SQL or a CRDT document.

PostgreSQL refuses a NUL character in ``text`` (``invalid byte sequence for encoding "UTF8":
0x00``), SQLite and C libraries cut strings at it, a lone surrogate cannot be encoded as
UTF-8 at all, and a ``bigint`` or SQLite integer stops at 2**63 - 1.  Each of those used to travel
from a request all the way to the database and come back as a ``500``.  They are the client's
mistake, so both apps refuse them up front with ``400 bad_request``, a message naming the field,
and ``details.field``, and nothing is stored:

* :func:`edge_input`, an ASGI middleware both apps mount, checks what routing hands a handler:
  the path (and its parameters), the query string (percent-decoded, it must be UTF-8) and the
  header values;
* :class:`konferenco.http_errors.JSONRequest` checks every string and integer of a JSON body
  (:func:`check_value`) and every field of a form;
* raw uploads (the hub's attendee CSV or JSON) are checked by their importer, which names the
  line (``hub.catalog.roster``).

One rule, in one place, rather than a check on each field: a field added tomorrow is covered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, cast
from urllib.parse import unquote_to_bytes

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from konferenco.errors import BadRequest

#: The range of a PostgreSQL ``bigint`` and of an SQLite integer.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
#: An integer field of a request struct that is stored as one: its bounds appear in the OpenAPI document.
Int64 = Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)]

#: A character no stored text may hold: NUL, or half of a UTF-16 surrogate pair (not UTF-8 encodable).
_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")


def _refuse(field: str, what: str) -> BadRequest:
    return BadRequest(f"{field}: {what}", field=field)


def check_text(value: str, field: str) -> str:
    """``value`` unchanged, or :class:`BadRequest` if it holds NUL or a lone surrogate."""
    found = _FORBIDDEN.search(value)
    if found is not None:
        if found.group() == "\x00":
            raise _refuse(field, "contains a NUL character (U+0000), which no text here may hold")
        raise _refuse(
            field, f"contains a lone surrogate (U+{ord(found.group()):04X}), which is not Unicode text"
        )
    return value


def check_int(value: int, field: str) -> int:
    """``value`` unchanged, or :class:`BadRequest` if it does not fit in 64 signed bits."""
    if not INT64_MIN <= value <= INT64_MAX:
        raise _refuse(field, f"{value} is out of range (a whole number from {INT64_MIN} to {INT64_MAX})")
    return value


def check_value(value: Any) -> None:
    """Every string (keys too) and integer inside decoded JSON, the path to it as the field name.

    Iterative, so a deeply nested body cannot exhaust the stack here.
    """
    pending: list[tuple[Any, str]] = [(value, "")]
    while pending:
        item, field = pending.pop()
        where = field or "body"
        if isinstance(item, str):
            check_text(item, where)
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int):
            check_int(item, where)
        elif isinstance(item, Mapping):
            for key, inner in item.items():
                name = check_text(str(key), f"{where} (a key)")
                pending.append((inner, f"{field}.{name}" if field else name))
        elif isinstance(item, list | tuple):
            pending.extend((inner, f"{where}[{index}]") for index, inner in enumerate(item))


def check_bytes(data: bytes, field: str) -> str:
    """``data`` as text, or :class:`BadRequest` if it is not UTF-8 or holds NUL."""
    if b"\x00" in data:
        raise _refuse(field, "contains a NUL byte, which no text here may hold")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse(field, f"is not UTF-8 ({exc.reason} at byte {exc.start})") from None


def check_query(raw: bytes) -> None:
    """Each name and value of a query string, percent-decoded, must be UTF-8 text without NUL."""
    for pair in raw.split(b"&"):
        if not pair:
            continue
        name, _, value = pair.partition(b"=")
        decoded_name = unquote_to_bytes(name.replace(b"+", b" "))
        field = check_bytes(decoded_name, "a query parameter's name")
        check_bytes(unquote_to_bytes(value.replace(b"+", b" ")), field or "query")


def check_scope(scope: Mapping[str, Any]) -> None:
    """What routing decoded from the request line and headers (see :func:`edge_input`)."""
    for name, value in (scope.get("path_params") or {}).items():
        if isinstance(value, str):
            check_text(value, name)
        elif isinstance(value, int) and not isinstance(value, bool):
            check_int(value, name)
    check_text(scope["path"], "path")
    raw_path = scope.get("raw_path")
    if raw_path:
        check_bytes(unquote_to_bytes(raw_path.split(b"?", 1)[0]), "path")
    if scope.get("query_string"):
        check_query(scope["query_string"])
    for header, value in scope["headers"]:
        if b"\x00" in value:
            raise _refuse(header.decode("latin-1"), "header contains a NUL byte")


def edge_input(app: ASGIApp) -> ASGIApp:
    """The middleware (``middleware=[edge_input]`` of both apps): HTTP requests only.

    It runs after routing, so a path that matches no route is still a plain ``404``; a
    refusal is raised, so the app's exception handlers answer it in the shared error shape.
    WebSocket upgrades (``/sync``) are the sync layer's: their document names are parsed
    strictly there.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            check_scope(cast("Mapping[str, Any]", scope))
        await app(scope, receive, send)

    return middleware
