"""What a browser room sign needs from the appliance: the broker, how to sign in, the rooms, the time.

``GET /api/v1/signage/access`` is called by the sign page (``/signage/{room}``) when it
loads and every few minutes after.  A TV has nobody to sign in, so the answer is public
on the venue LAN, and so are the broker credentials in it.  That is safe because of
what they allow: the broker's ACL (written by ``konferenco appliance signage
broker-config``, :mod:`appliance.cli.signage`) lets the ``signage`` user *read* only
what every sign in the venue shows anyway (rooms' schedules, capacity, alerts, the
appliance's status, grassroots notices) and *write* only heartbeats under its own
client id.  It cannot publish a schedule or an alert.  Requests from a public
(internet) address are refused, so a box whose port was forwarded by mistake does not
hand them out beyond the venue.

The passwords live in ``secrets/signage-broker.json`` (mode 0600, like every secret
of the box); nothing here logs them.

``now`` is the appliance's clock: a sign never trusts the clock of the TV it runs on
(it measures the offset from ``now`` and the round trip, and advances it with a
monotonic timer).
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Any

import msgspec
from litestar import Request, get
from litestar.di import NamedDependency

from appliance.config import ApplianceConfig, DataDir
from appliance.schedule.service import ScheduleService
from konferenco.errors import Forbidden
from konferenco.types import now_ms

#: How often the appliance's signage feed looks for changes (``appliance.signage_feed.EVERY_S``), ms.
INTERVAL_MS = 5_000
#: A sign shows the age of its data once it has had no live link for this long: 3 times the interval.
STALE_AFTER_MS = 3 * INTERVAL_MS
#: The WebSockets listener ``broker-config`` writes by default.
WS_PORT = 9001
SIGNS_USER = "signage"
APPLIANCE_USER = "appliance"
SECRETS_FILE = "signage-broker.json"


class BrokerSecrets(msgspec.Struct, kw_only=True):
    """What ``broker-config`` stored: the broker's listeners and the two users' passwords."""

    venue: str
    port: int = 1883
    ws_port: int = WS_PORT
    ws_url: str = ""
    appliance_password: str
    signage_password: str


def secrets_path(data: DataDir) -> Path:
    return data.secrets / SECRETS_FILE


def load_secrets(data: DataDir) -> BrokerSecrets | None:
    path = secrets_path(data)
    if not path.exists():
        return None
    return msgspec.json.decode(path.read_bytes(), type=BrokerSecrets)


def save_secrets(data: DataDir, secrets: BrokerSecrets) -> Path:
    """Written whole and atomically, mode 0600 from the start (never readable by others, not even briefly)."""
    data.secrets.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = secrets_path(data)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(msgspec.json.format(msgspec.json.encode(secrets)))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def signage_device(config: ApplianceConfig) -> Any:
    """The first configured signage publisher (its settings name the venue), or None."""
    return next((d for d in config.devices if d.domain == "signage"), None)


# --- the answer ---------------------------------------------------------------------------


class SignRoom(msgspec.Struct, kw_only=True):
    id: str
    name: str


class SignBroker(msgspec.Struct, kw_only=True):
    """How a sign reaches the broker: mqtt.js ``connect(url, {username, password})``, topics under base."""

    url: Annotated[str, msgspec.Meta(description="WebSocket URL of the broker, ws://host:9001 by default")]
    username: str
    password: Annotated[str, msgspec.Meta(description="read-only: see docs/signage.md 'Credentials'")]
    base: Annotated[str, msgspec.Meta(description="topic prefix, konferenco/{venue}/v1")]


class SignageAccess(msgspec.Struct, kw_only=True):
    event_id: str
    event_name: str
    timezone: Annotated[str, msgspec.Meta(description="IANA zone the signs show times in")]
    now: Annotated[int, msgspec.Meta(description="the appliance's clock, ms since the epoch")]
    interval_ms: int
    stale_after_ms: int
    rooms: list[SignRoom]
    broker: SignBroker | None
    problem: Annotated[str, msgspec.Meta(description="why there is no broker, for the technician")] = ""


def _public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False  # a test client or a Unix socket: not the internet
    mapped = getattr(ip, "ipv4_mapped", None)
    ip = mapped or ip
    return ip.is_global


def _ws_url(request: Request[Any, Any, Any], secrets: BrokerSecrets | None) -> str:
    if secrets is not None and secrets.ws_url:
        return secrets.ws_url
    host = request.url.hostname or "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"ws://{host}:{secrets.ws_port if secrets else WS_PORT}"


@get(
    "/api/v1/signage/access",
    summary="What a room sign needs: broker URL, read-only credentials, rooms, time zone, clock",
    tags=["signage"],
)
async def signage_access(
    request: Request[Any, Any, Any],
    config: NamedDependency[ApplianceConfig],
    datadir: NamedDependency[DataDir],
    schedule: NamedDependency[ScheduleService],
) -> SignageAccess:
    """Public on the venue LAN (the credentials only read what any sign shows); refused from the internet."""
    client = request.client
    if client is not None and _public(client.host):
        raise Forbidden("room signs are served on the venue's network only")
    event_id = config.events[0]
    index = await schedule.index(event_id)
    rooms = sorted(index.rooms.values(), key=lambda r: (r.position, r.name.casefold(), r.id))
    device = signage_device(config)
    secrets = load_secrets(datadir)
    broker = None
    problem = ""
    if device is None:
        problem = "no signage publisher is configured: run 'konferenco appliance signage broker-config'"
    else:
        venue = str(device.settings.get("venue") or (secrets.venue if secrets else "") or event_id)
        broker = SignBroker(
            url=_ws_url(request, secrets),
            username=SIGNS_USER if secrets else "",
            password=secrets.signage_password if secrets else "",
            base=f"konferenco/{venue}/v1",
        )
    return SignageAccess(
        event_id=event_id,
        event_name=index.frame.name or event_id,
        timezone=index.frame.timezone or "UTC",
        now=now_ms(),
        interval_ms=INTERVAL_MS,
        stale_after_ms=STALE_AFTER_MS,
        rooms=[SignRoom(id=r.id, name=r.name) for r in rooms],
        broker=broker,
        problem=problem,
    )


ROUTES: list[Any] = [signage_access]

__all__ = ["ROUTES", "BrokerSecrets", "load_secrets", "save_secrets"]
