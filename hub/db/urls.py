"""Database URLs: one spelling for the user, the right driver for each library.

Users write ``postgresql://user@host:5432/db`` (as psql and asyncpg take
it); SQLAlchemy needs the driver named (``postgresql+asyncpg://``).
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/konferenco"


class BadDatabaseUrl(ValueError):
    pass


def plain_url(url: str) -> str:
    """The URL as asyncpg takes it (driver suffix removed)."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in ("postgresql", "postgres"):
        raise BadDatabaseUrl(f"not a PostgreSQL URL: {redacted(url)} (expected postgresql://user@host/db)")
    if not parts.path.strip("/"):
        raise BadDatabaseUrl(f"the URL names no database: {redacted(url)}")
    return urlunsplit(("postgresql", *parts[1:]))


def sqlalchemy_url(url: str) -> str:
    return "postgresql+asyncpg" + plain_url(url)[len("postgresql") :]


def redacted(url: str) -> str:
    """The URL without its password, for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, *parts[2:]))


def with_database(url: str, database: str) -> str:
    parts = urlsplit(plain_url(url))
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))
