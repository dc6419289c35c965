"""Who may use this appliance, set up from its command line: staff accounts and tokens.

* staff accounts sign in with a name and a PIN (``appliance staff add``);
* staff tokens let a script or a fixed kiosk act as a role without signing
  in (``appliance issue-token``);
* peer tokens let another peer sync with this one (``appliance peer-token``).
"""

from __future__ import annotations

import re

from appliance.catalog.schema import migrate
from appliance.config import ApplianceConfig, DataDir
from appliance.staff.service import StaffRole, add_staff
from sync.permissions import Capability, PeerIdentity, Role
from sync.sqlite_writer import connect


def add_account(data: DataDir, name: str, role: StaffRole, pin: str) -> str:
    """Create a staff account; its id.  ``ValueError`` for a short PIN or a name already taken."""
    conn = connect(data.database)
    try:
        migrate(conn)
        return add_staff(conn, name, role, pin)
    finally:
        conn.close()


def token_staff_id(name: str) -> str:
    """The staff id a script's token is recorded under: ``token-`` and its name, made safe."""
    return "token-" + (re.sub(r"[^A-Za-z0-9_.:-]+", "-", name).strip("-")[:50] or "automation")


def script_token(data: DataDir, name: str, role: StaffRole, ttl_seconds: int) -> str:
    """A staff token for a script or a kiosk (no sign-in); its scans are recorded as NAME's."""
    return data.staff_tokens().issue(token_staff_id(name), name, role, ttl_seconds)


def peer_token(
    data: DataDir,
    config: ApplianceConfig,
    peer_id: str,
    role: Role,
    *,
    device_id: str | None = None,
    capabilities: tuple[Capability, ...] = (),
    ttl_seconds: int = 30 * 24 * 3600,
) -> str:
    """A token another peer syncs with, for every event this appliance serves."""
    if role == Role.DEVICE and not device_id:
        raise ValueError("a device token needs the device id whose log the peer may write")
    identity = PeerIdentity(
        peer_id=peer_id,
        role=role,
        events=tuple(config.events),
        device_id=device_id,
        capabilities=capabilities,
    )
    return data.signer().issue(identity, ttl_seconds)
