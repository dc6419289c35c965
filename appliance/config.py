"""An appliance's data directory: the one place its state lives.

``DIR/appliance.json`` (who this box is: device id, events, capabilities),
``DIR/appliance.db`` (SQLite: update log, projections), ``DIR/secrets/``
(keys; never logged, never in the repo).  The directory and ``secrets/`` are
mode 0700, the files in ``secrets/`` 0600; ``secure`` checks and repairs that
at every start.  Everything an
appliance knows survives a restart because it is in this directory; a
Litestream replica of ``appliance.db`` is the backup.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from appliance.staff.service import StaffTokens
from konferenco.errors import NotFound
from konferenco.types import new_id
from sync.names import check_id
from sync.permissions import Capability, PeerIdentity, Role
from sync.records import DeviceKey
from sync.sqlite_writer import connect
from sync.tokens import TokenSigner, secret_file


class DeviceConfig(msgspec.Struct, kw_only=True):
    """A device attached to this appliance (``konferenco appliance devices add``).

    ``domain`` is the driver family (``drivers/<domain>/``), ``kind`` the
    variant within it (a printer's connection, a scanner's interface).
    Scanners and NFC readers stand at a ``gate``: their scans count there,
    recorded with the device's id as the staff member.  One at the help desk
    (``desk``) admits no one: what it reads goes to the live feed's ``tap``
    topic, where the desk links a new NFC tag or finds the badge's owner.
    """

    id: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.:-]{1,64}\Z")]
    domain: Literal["printer", "scanner", "rfid", "signage", "discovery"]
    kind: str = ""
    name: str = ""
    gate: str | None = None
    desk: bool = False
    settings: dict[str, Any] = msgspec.field(default_factory=dict)


class KioskSettings(msgspec.Struct, kw_only=True):
    """What the touch kiosk lets an attendee do and tells them (``appliance.json`` → ``kiosk``).

    Every field has a default, so an ``appliance.json`` written before the kiosk existed loads
    unchanged and a new box's kiosk works without configuration.
    """

    #: Seconds of no touch before the kiosk offers "need more time?" and then resets (WCAG 2.2.1).
    idle_timeout_s: Annotated[int, msgspec.Meta(ge=5, le=3600)] = 30
    #: Seconds a tap on "need more time?" adds (at least 20: WCAG 2.2.1).
    extend_s: Annotated[int, msgspec.Meta(ge=20, le=3600)] = 30
    #: The roster fields an attendee may correct at the kiosk (within limits: appliance/kiosk/limits.py).
    corrections: list[Literal["name", "company"]] = msgspec.field(default_factory=lambda: ["name", "company"])
    #: Where the badge comes out, as the kiosk says it: one text, or one per language
    #: (``{"en": "…", "de": "…"}``); empty: the kiosk's own sentence, in every language.
    pickup: str | dict[str, str] = ""
    #: What to do after check-in (the cloakroom, the first keynote), the same way; empty: nothing.
    next_steps: str | dict[str, str] = ""
    #: The gate a kiosk check-in is recorded at (it must be in the catalog; else the first gate there).
    gate: str = "kiosk"


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
    #: Public keys (base64, raw Ed25519) whose catalog bundles this appliance accepts.
    catalog_keys: list[str] = msgspec.field(default_factory=list)
    #: The hub this appliance was enrolled with (``appliance enroll``); None: standalone.
    hub_url: str | None = None
    devices: list[DeviceConfig] = msgspec.field(default_factory=list)
    #: Gates whose first admission of an attendee prints their badge, and on which printer.
    auto_print: dict[str, str] = msgspec.field(default_factory=dict)
    #: The touch kiosk's settings (defaults: a kiosk works without configuration).
    kiosk: KioskSettings = msgspec.field(default_factory=KioskSettings)


class NotProvisioned(RuntimeError):
    pass


class InsecureDataDir(RuntimeError):
    """A data directory path others can read, which this process cannot repair."""


#: Only the appliance's own account may enter its data directory or read its secrets.
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


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

    def init(
        self, events: list[str], device_id: str | None = None, catalog_keys: list[str] | None = None
    ) -> ApplianceConfig:
        """Create the directory for a new appliance (refuses to overwrite one)."""
        if self.exists():
            raise FileExistsError(f"{self.config_file} exists already")
        config = ApplianceConfig(
            device_id=check_id(device_id or f"dev-{new_id()[:10]}"),
            events=[check_id(e) for e in events],
            catalog_keys=list(catalog_keys or []),
        )
        self.path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        os.chmod(self.path, PRIVATE_DIR)  # an empty folder made beforehand gets the same modes
        self.secrets.mkdir(mode=PRIVATE_DIR, exist_ok=True)
        self.save(config)
        return config

    def secure(self) -> list[str]:
        """Take group and world access away from this directory and the secrets in it.

        Checked at every start (``appliance serve``): a data directory restored with ``cp -r``
        or unpacked from a tarball under a loose umask hands the device credential, the signing
        keys, staff PINs and the attendees' personal data to every local account.  The repair
        is mechanical and safe, so the box repairs and warns rather than refusing to open the
        doors; it returns one line per repaired path for that warning.  The database and the
        other files need no mode of their own: nobody else can enter the directory.  If a path
        cannot be repaired (a read-only file system, an immutable file), :class:`InsecureDataDir`
        says which, and the box refuses to start.
        """
        repaired = []
        wanted = [(self.path, PRIVATE_DIR), (self.secrets, PRIVATE_DIR)]
        if self.secrets.is_dir():
            wanted += [(p, PRIVATE_FILE) for p in sorted(self.secrets.iterdir()) if p.is_file()]
        for path, mode in wanted:
            try:
                st = path.lstat()
            except FileNotFoundError:
                continue
            if stat.S_ISLNK(st.st_mode) or not st.st_mode & 0o077:
                continue
            try:
                os.chmod(path, mode)
            except OSError as exc:
                raise InsecureDataDir(
                    f"{path} is readable by other accounts (mode {stat.S_IMODE(st.st_mode):04o}) and "
                    f"cannot be made {mode:04o}: {exc.strerror}. Fix it with 'chmod {mode:o} {path}'"
                ) from None
            repaired.append(f"{path}: {stat.S_IMODE(st.st_mode):04o} -> {mode:04o}")
        return repaired

    def save(self, config: ApplianceConfig) -> None:
        tmp = self.config_file.with_suffix(".tmp")
        tmp.write_bytes(msgspec.json.format(msgspec.json.encode(config)))
        os.replace(tmp, self.config_file)

    def relay_bundle(self, event_id: str) -> Path:
        """Where the newest signed catalog snapshot of an event is kept, for peers to fetch."""
        folder = self.path / "catalog"
        folder.mkdir(exist_ok=True)
        return folder / f"{check_id(event_id)}.json"

    def reader(self) -> sqlite3.Connection:
        """A read connection (WAL readers never block the writer); schema made by the writer."""
        return connect(self.database)

    def staff_tokens(self) -> StaffTokens:
        return StaffTokens.from_file(self.secrets / "staff-token.key")

    # --- signing keys (secrets/, mode 0600) -------------------------------------------

    def _private_key(self, name: str, create: bool) -> Ed25519PrivateKey | None:
        path = self.secrets / name
        if not path.exists() and not create:
            return None
        raw = secret_file(
            path,
            lambda: Ed25519PrivateKey.generate().private_bytes(
                Encoding.Raw, PrivateFormat.Raw, NoEncryption()
            ),
        )
        return Ed25519PrivateKey.from_private_bytes(raw)

    def event_key(self, event_id: str, *, create: bool = False) -> Ed25519PrivateKey | None:
        """The event's badge key, held only by a standalone appliance (no hub) or the demo."""
        return self._private_key(f"event-{check_id(event_id)}.key", create)

    def catalog_key(self, *, create: bool = False) -> Ed25519PrivateKey | None:
        """The key a standalone appliance signs its own catalog bundles with (the hub's role)."""
        return self._private_key("catalog.key", create)

    def device_key(self) -> Ed25519PrivateKey:
        """This device's walk-in badge key (created on first use)."""
        key = self._private_key("device-badge.key", True)
        assert key is not None
        return key

    def device_certificate(self, event_id: str) -> DeviceKey | None:
        path = self.secrets / f"device-badge-{check_id(event_id)}.cert.json"
        return msgspec.json.decode(path.read_bytes(), type=DeviceKey) if path.exists() else None

    def save_device_certificate(self, event_id: str, certificate: DeviceKey) -> None:
        path = self.secrets / f"device-badge-{check_id(event_id)}.cert.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
        with os.fdopen(fd, "wb") as f:
            f.write(msgspec.json.encode(certificate))

    @property
    def hub_credential_file(self) -> Path:
        return self.secrets / "hub-credential"

    def hub_credential(self) -> str | None:
        """The device credential the hub issued at enrolment (secrets/, mode 0600)."""
        path = self.hub_credential_file
        return path.read_text().strip() if path.exists() else None

    def save_hub_credential(self, credential: str) -> None:
        """Replace the credential atomically: a crash leaves the old one or the new one, never half."""
        self.secrets.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.hub_credential_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(credential)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.hub_credential_file)

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


@dataclass(frozen=True, slots=True)
class EventScope:
    """The events this box serves; a request names one or means the first."""

    events: tuple[str, ...]

    def resolve(self, requested: str | None) -> str:
        if requested is None:
            return self.events[0]
        if requested not in self.events:
            raise NotFound(f"this appliance does not serve event '{requested}'", code="unknown_event")
        return requested
