"""Files that hold a secret, read the one way every command reads them (HQ's tools and the box).

A secret file handed to a command (an S3 key for the backup, an enrolment token) must be readable
by its owner alone: a mode with group or world bits is refused with the fix in the message, since
a readable key lets anyone on the machine read or erase every backup.  Errors name the file and the
line, never quote them: the line may be the secret.

The S3 credentials file has one format for ``konferenco appliance backup --credentials`` and for
``konferenco talos config --backup-credentials-file``, so HQ and the box read the same file.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path

#: Key names accepted in a credentials file, by what they mean.
_KEYS = {
    "access_key_id": "access_key_id",
    "aws_access_key_id": "access_key_id",
    "litestream_access_key_id": "access_key_id",
    "secret_access_key": "secret_access_key",
    "aws_secret_access_key": "secret_access_key",
    "litestream_secret_access_key": "secret_access_key",
}


class SecretFileError(ValueError):
    """A secret file cannot be used; the message says why without quoting it."""


@dataclass(frozen=True, slots=True)
class S3Key:
    """An S3 access key; ``repr`` never shows the secret."""

    access_key_id: str
    secret_access_key: str = field(repr=False)


def read_private_text(path: Path) -> str:
    """The text of PATH, which must be readable by its owner only."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SecretFileError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SecretFileError(f"{path} is not a text file") from None
    if mode & 0o077:
        raise SecretFileError(
            f"{path} is readable by other accounts (mode {mode:04o}): run 'chmod 600 {path}' first"
        )
    return text


def read_s3_key(path: Path) -> S3Key:
    """``key = value`` lines (``access_key_id``, ``secret_access_key``; AWS_* and LITESTREAM_* names too)."""
    found: dict[str, str] = {}
    for number, raw in enumerate(read_private_text(path).splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        name = _KEYS.get(key.strip().lower())
        if not sep or name is None:
            raise SecretFileError(
                f"{path} line {number}: expected 'access_key_id = …' or 'secret_access_key = …'"
            )
        found[name] = value.strip().strip("'\"")
    missing = [k for k in ("access_key_id", "secret_access_key") if not found.get(k)]
    if missing:
        raise SecretFileError(f"{path}: no {' and no '.join(missing)}")
    return S3Key(found["access_key_id"], found["secret_access_key"])
