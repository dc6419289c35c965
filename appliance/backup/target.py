"""Where a backup goes: a replica URL and the credentials to reach it.

Accepted URLs:

* ``file:///abs/path`` or a plain path: a directory (made 0700 on first use);
* ``s3://bucket/prefix?endpoint=http://host:port&region=eu-central-1``: an S3
  bucket, or any S3-compatible store (MinIO, Garage, R2, moto) when
  ``endpoint`` is given, which also turns on path-style addressing.

Credentials are never part of the URL (it is printed and logged).  They come
from ``--credentials FILE`` (``key = value`` lines, ``#`` comments; the file
must be mode 0600) or else from the environment (``LITESTREAM_ACCESS_KEY_ID`` /
``LITESTREAM_SECRET_ACCESS_KEY``, then ``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY``).  They reach the ``litestream`` child only through
its environment.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from konferenco.secret_files import SecretFileError, read_s3_key


class BackupError(Exception):
    """A backup or restore cannot go on; the message says why and what to do."""


_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
#: Characters that survive Litestream's ``$VAR`` expansion inside a double-quoted YAML string.
_SAFE_SECRET = re.compile(r'^[^"\\\n\r\x00]{1,256}\Z')


@dataclass(frozen=True, slots=True)
class Credentials:
    """An S3 access key; ``repr`` never shows the secret."""

    access_key_id: str
    secret_access_key: str = field(repr=False)

    def environment(self) -> dict[str, str]:
        """The child's environment entries the generated config refers to."""
        return {
            "LITESTREAM_ACCESS_KEY_ID": self.access_key_id,
            "LITESTREAM_SECRET_ACCESS_KEY": self.secret_access_key,
        }


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed replica URL: a directory, or an S3 bucket and prefix."""

    kind: str  # "file" or "s3"
    path: str  # the directory (file) or the key prefix, without slashes at the ends (s3)
    bucket: str = ""
    endpoint: str = ""
    region: str = ""

    @property
    def url(self) -> str:
        """The URL as shown to people (never holds a credential)."""
        if self.kind == "file":
            return f"file://{self.path}"
        query = [(k, v) for k, v in (("endpoint", self.endpoint), ("region", self.region)) if v]
        tail = f"?{urllib.parse.urlencode(query, safe=':/')}" if query else ""
        return f"s3://{self.bucket}/{self.path}{tail}"

    def replica(self, database: str) -> dict[str, str | bool]:
        """Litestream's ``replica:`` object for one database (credentials as ``$VAR`` references)."""
        if self.kind == "file":
            return {"type": "file", "path": str(Path(self.path) / database)}
        replica: dict[str, str | bool] = {
            "type": "s3",
            "bucket": self.bucket,
            "path": f"{self.path}/{database}" if self.path else database,
            "access-key-id": "$LITESTREAM_ACCESS_KEY_ID",
            "secret-access-key": "$LITESTREAM_SECRET_ACCESS_KEY",
        }
        if self.region:
            replica["region"] = self.region
        if self.endpoint:
            replica["endpoint"] = self.endpoint
            replica["force-path-style"] = True
        return replica


def parse_url(url: str) -> Target:
    """Parse a replica URL, or raise :class:`BackupError` saying what is wrong with it."""
    url = url.strip()
    if not url:
        raise BackupError(
            "no replica URL: give --to/--from, e.g. file:///srv/backup/box1 or s3://bucket/box1"
        )
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in ("", "file"):
        if parts.scheme == "file" and parts.netloc not in ("", "localhost"):
            raise BackupError(
                f"{url}: a file URL has three slashes and an absolute path (file:///srv/backup)"
            )
        path = urllib.parse.unquote(parts.path) if parts.scheme == "file" else url
        if parts.query or parts.fragment:
            raise BackupError(f"{url}: a file replica takes no ?options")
        if not path or not os.path.isabs(path):
            raise BackupError(f"{url}: a file replica needs an absolute path (e.g. file:///srv/backup/box1)")
        return Target("file", os.path.normpath(path))
    if parts.scheme != "s3":
        raise BackupError(f"{url}: unsupported replica URL; use file:///PATH or s3://BUCKET/PREFIX")
    if parts.username or parts.password or "@" in parts.netloc:
        raise BackupError(
            "do not put credentials in the replica URL: use --credentials FILE or the environment"
        )
    bucket = parts.netloc
    if not _BUCKET.match(bucket):
        raise BackupError(f"{url}: '{bucket}' is not an S3 bucket name (3-63 of a-z, 0-9, '.', '-')")
    if parts.fragment:
        raise BackupError(f"{url}: an S3 URL takes no #fragment")
    try:
        query = urllib.parse.parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise BackupError(f"{url}: malformed ?options") from None
    unknown = sorted(set(query) - {"endpoint", "region"})
    if unknown:
        raise BackupError(f"{url}: unknown option {', '.join(unknown)} (known: endpoint, region)")
    if any(len(values) > 1 for values in query.values()):
        raise BackupError(f"{url}: an option is given twice")
    endpoint = query.get("endpoint", [""])[0]
    if endpoint:
        ep = urllib.parse.urlsplit(endpoint)
        if ep.scheme not in ("http", "https") or not ep.hostname or ep.path not in ("", "/"):
            raise BackupError(f"{url}: endpoint must be http(s)://host[:port], got '{endpoint}'")
        if ep.username or ep.password:
            raise BackupError(
                "do not put credentials in the endpoint: use --credentials FILE or the environment"
            )
        endpoint = endpoint.rstrip("/")
    region = query.get("region", [""])[0]
    if region and not re.match(r"^[a-z0-9-]{1,32}\Z", region):
        raise BackupError(f"{url}: '{region}' is not a region name")
    prefix = parts.path.strip("/")
    if ".." in prefix.split("/"):
        raise BackupError(f"{url}: the prefix may not contain '..'")
    return Target("s3", prefix, bucket=bucket, endpoint=endpoint, region=region)


def read_credentials_file(path: Path) -> Credentials:
    """The S3 key in PATH (the format of :mod:`konferenco.secret_files`, shared with HQ's tools).

    A file others can read is refused: a readable key lets anyone read or erase every backup.
    """
    try:
        key = read_s3_key(path)
    except SecretFileError as exc:
        raise BackupError(str(exc)) from None
    return _checked(
        {"access_key_id": key.access_key_id, "secret_access_key": key.secret_access_key}, str(path)
    )


def credentials_from(environ: Mapping[str, str], file: Path | None) -> Credentials | None:
    """The credentials FILE holds, else the environment's, else None (an S3 target then fails)."""
    if file is not None:
        return read_credentials_file(file)
    for prefix in ("LITESTREAM_", "AWS_"):
        key, secret = environ.get(f"{prefix}ACCESS_KEY_ID"), environ.get(f"{prefix}SECRET_ACCESS_KEY")
        if key or secret:
            return _checked(
                {"access_key_id": key or "", "secret_access_key": secret or ""}, f"{prefix}* environment"
            )
    return None


def _checked(found: Mapping[str, str], where: str) -> Credentials:
    missing = [k for k in ("access_key_id", "secret_access_key") if not found.get(k)]
    if missing:
        raise BackupError(f"{where}: no {' and no '.join(missing)}")
    if not all(_SAFE_SECRET.match(found[k]) for k in ("access_key_id", "secret_access_key")):
        raise BackupError(f"{where}: a key holds a quote, backslash or line break, which cannot be passed on")
    return Credentials(found["access_key_id"], found["secret_access_key"])


def require_credentials(target: Target, credentials: Credentials | None) -> None:
    """An S3 target without credentials fails here, before Litestream says something vaguer."""
    if target.kind == "s3" and credentials is None:
        raise BackupError(
            f"{target.url} needs credentials: --credentials FILE (mode 0600, 'access_key_id = …' and "
            "'secret_access_key = …') or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment"
        )
