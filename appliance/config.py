"""An appliance's data directory: the one place its state lives.

``DIR/appliance.json`` (who this box is: device id, events, capabilities),
``DIR/appliance.db`` (SQLite: update log, projections), ``DIR/secrets/``
(keys, mode 0700; never logged, never in the repo).  Everything an
appliance knows survives a restart because it is in this directory; a
Litestream replica of ``appliance.db`` is the backup.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from sync.names import check_id
from sync.permissions import Capability, PeerIdentity, Role
from sync.projection import RecordProjection
from sync.records import new_id
from sync.replica import Replica
from sync.sqlite_store import SQLiteUpdateStore
from sync.sqlite_writer import Synchronous
from sync.tokens import TokenSigner


class ApplianceConfig(msgspec.Struct, kw_only=True):
    device_id: str
    events: list[str]
    capabilities: list[Capability] = msgspec.field(
        default_factory=lambda: [
            Capability.SCANNER,
            Capability.KIOSK,
            Capability.PRINTER,
            Capability.ORGANIZER,
        ]
    )
    name: str = "Konferenco appliance"


class NotProvisioned(RuntimeError):
    pass


class DataDir:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    @property
    def config_file(self) -> Path:
        return self.path / "appliance.json"

    @property
    def database(self) -> Path:
        return self.path / "appliance.db"

    @property
    def secrets(self) -> Path:
        return self.path / "secrets"

    def exists(self) -> bool:
        return self.config_file.exists()

    def load(self) -> ApplianceConfig:
        if not self.exists():
            raise NotProvisioned(
                f"{self.path} holds no appliance: run 'konferenco demo seed --data {self.path}' "
                "or 'konferenco appliance init --data DIR --event ID'"
            )
        return msgspec.json.decode(self.config_file.read_bytes(), type=ApplianceConfig)

    def init(self, events: list[str], device_id: str | None = None) -> ApplianceConfig:
        """Create the directory for a new appliance (refuses to overwrite one)."""
        if self.exists():
            raise FileExistsError(f"{self.config_file} exists already")
        config = ApplianceConfig(
            device_id=check_id(device_id or f"dev-{new_id()[:10]}"), events=[check_id(e) for e in events]
        )
        self.path.mkdir(parents=True, exist_ok=True)
        self.secrets.mkdir(mode=0o700, exist_ok=True)
        tmp = self.config_file.with_suffix(".tmp")
        tmp.write_bytes(msgspec.json.format(msgspec.json.encode(config)))
        os.replace(tmp, self.config_file)
        return config

    def replica(self, synchronous: Synchronous = "FULL") -> Replica:
        """The replica on this directory's database, with the record projection."""
        return Replica(
            SQLiteUpdateStore(self.database, projector=RecordProjection(), synchronous=synchronous)
        )

    def signer(self) -> TokenSigner:
        self.secrets.mkdir(mode=0o700, parents=True, exist_ok=True)
        return TokenSigner.from_file(self.secrets / "peer-token.key")

    def identity(self, config: ApplianceConfig) -> PeerIdentity:
        return PeerIdentity(
            peer_id=config.device_id,
            role=Role.DEVICE,
            events=tuple(config.events),
            device_id=config.device_id,
            capabilities=tuple(config.capabilities),
        )
