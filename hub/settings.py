"""How a hub process is configured: one database, one secrets directory.

Every worker of a hub reads the same two things, so any worker can serve
any request: the PostgreSQL URL, and a directory of secrets (the master
key that seals event keys and signs console sessions, and the catalog
signing key whose public half appliances trust).  Both come from the
command line or the environment, never from the repository.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from hub.db.urls import DEFAULT_URL, plain_url
from sync.tokens import secret_file


@dataclass(frozen=True)
class HubSettings:
    database_url: str = DEFAULT_URL
    secrets_dir: Path = Path("var/hub/secrets")
    #: The URL appliances and browsers reach this hub at (shown in enrolment codes).
    public_url: str = "http://127.0.0.1:8000"
    #: Failed sign-ins per account and address before the hub makes them wait.
    login_attempts: int = 5
    login_window_s: float = 60.0

    @classmethod
    def from_env(cls) -> HubSettings:
        """Settings for worker processes, which the CLI hands over through the environment."""
        return cls(
            database_url=os.environ.get("KONFERENCO_DATABASE_URL", DEFAULT_URL),
            secrets_dir=Path(os.environ.get("KONFERENCO_HUB_SECRETS", "var/hub/secrets")),
            public_url=os.environ.get("KONFERENCO_HUB_URL", "http://127.0.0.1:8000"),
        )

    def to_env(self) -> dict[str, str]:
        return {
            "KONFERENCO_DATABASE_URL": self.database_url,
            "KONFERENCO_HUB_SECRETS": str(self.secrets_dir),
            "KONFERENCO_HUB_URL": self.public_url,
        }

    @property
    def dsn(self) -> str:
        return plain_url(self.database_url)


class HubSecrets:
    """The hub's secrets directory (mode 0700); files are created once, atomically, on first use."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._master = secret_file(folder / "master.key", lambda: os.urandom(32))
        raw = secret_file(
            folder / "catalog.key",
            lambda: Ed25519PrivateKey.generate().private_bytes(
                Encoding.Raw, PrivateFormat.Raw, NoEncryption()
            ),
        )
        self.catalog_key = Ed25519PrivateKey.from_private_bytes(raw)

    def derive(self, purpose: str) -> bytes:
        """A separate key per purpose, so a leak of one use (say, session cookies) exposes no other."""
        return hmac.new(self._master, purpose.encode(), hashlib.sha256).digest()
