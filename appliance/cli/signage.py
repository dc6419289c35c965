"""``appliance signage broker-config``: the Mosquitto set-up the room signs need.

Writes, into ``--out``, a ``mosquitto.conf`` (a password-protected MQTT
listener for the appliance's publisher and for third-party e-ink signs, a
WebSockets listener for the browser signs, no anonymous clients, retained
state persisted), its ``passwd`` file and its ``acl`` file; stores the two
generated passwords in the appliance's ``secrets/signage-broker.json`` (mode
0600, never printed, never logged) and points the appliance's signage
publisher at the broker.  Run it again at any time: the stored passwords are
kept, so running signs and the publisher keep working; ``--new-passwords``
replaces them.

The password file uses Mosquitto 2's own format (PBKDF2-SHA512, ``$7$``),
made here with :mod:`hashlib`, so the set-up does not need
``mosquitto_passwd`` on the box (the tests check that Mosquitto accepts it).
"""

from __future__ import annotations

import base64
import hashlib
import os
import pwd
import secrets as random
from dataclasses import dataclass
from pathlib import Path

import click

from appliance.cli.common import DATA_OPTION, provisioned
from appliance.config import ApplianceConfig, DataDir
from appliance.devices.admin import DeviceError, add_device
from appliance.signage_access import (
    APPLIANCE_USER,
    SIGNS_USER,
    BrokerSecrets,
    load_secrets,
    save_secrets,
    signage_device,
)
from sync.names import check_id

#: Mosquitto 2's default: 101 rounds of PBKDF2-SHA512 with a 12-byte salt (what mosquitto_passwd writes).
PBKDF2_ROUNDS = 101
DEVICE_ID = "signs"


def password_hash(password: str, *, salt: bytes | None = None, rounds: int = PBKDF2_ROUNDS) -> str:
    """A ``passwd`` line's hash in Mosquitto 2's ``$7$`` format."""
    salt = salt if salt is not None else os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, rounds, 64)
    return f"$7${rounds}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def acl(venue: str) -> str:
    """The appliance reads and writes its venue's topics; signs read what a sign shows (the protocol doc)."""
    base = f"konferenco/{venue}/v1"
    return (
        "# Written by 'konferenco appliance signage broker-config'; see docs/signage.md.\n"
        "# pattern lines apply to every user: a sign reads its commands and writes its heartbeat,\n"
        "# both under its own client id (%c).\n"
        f"pattern read {base}/displays/%c/cmd\n"
        f"pattern write {base}/displays/%c/heartbeat\n"
        "\n"
        f"user {APPLIANCE_USER}\n"
        f"topic readwrite {base}/#\n"
        "\n"
        f"user {SIGNS_USER}\n"
        f"topic read {base}/rooms/#\n"
        f"topic read {base}/alerts/+\n"
        f"topic read {base}/notices/+\n"
        f"topic read {base}/appliance/status\n"
    )


def mosquitto_conf(out: Path, port: int, ws_port: int, bind: str, user: str) -> str:
    where = f" {bind}" if bind else ""
    return (
        "# Written by 'konferenco appliance signage broker-config'; see docs/signage.md.\n"
        f"user {user}\n"
        "per_listener_settings false\n"
        "allow_anonymous false\n"
        f"password_file {out / 'passwd'}\n"
        f"acl_file {out / 'acl'}\n"
        "persistence true\n"
        f"persistence_location {out / 'persistence'}/\n"
        "log_dest stderr\n"
        "log_type error\nlog_type warning\nlog_type notice\n"
        "\n"
        "# The appliance's publisher and MQTT door signs (e-ink, signage players).\n"
        f"listener {port}{where}\n"
        "protocol mqtt\n"
        "\n"
        "# Browser signs (mqtt.js over WebSockets): /signage/{room} on a TV or a tablet.\n"
        f"listener {ws_port}{where}\n"
        "protocol websockets\n"
    )


@dataclass(frozen=True)
class Written:
    files: list[Path]
    device_id: str
    venue: str


def write_broker_config(
    data: DataDir,
    config: ApplianceConfig,
    out: Path,
    *,
    venue: str = "",
    port: int = 1883,
    ws_port: int = 9001,
    bind: str = "",
    ws_url: str = "",
    user: str = "mosquitto",
    new_passwords: bool = False,
) -> Written:
    """The three files in OUT, the passwords in secrets/, the signage publisher pointed at the broker."""
    device = signage_device(config)
    stored = load_secrets(data)
    venue = check_id(venue or (device.settings.get("venue") if device else "") or config.events[0])
    keep = stored is not None and not new_passwords
    kept = (stored.appliance_password, stored.signage_password) if keep and stored else None
    appliance_pw, signs_pw = kept or (random.token_urlsafe(24), random.token_urlsafe(24))
    save_secrets(
        data,
        BrokerSecrets(
            venue=venue,
            port=port,
            ws_port=ws_port,
            ws_url=ws_url,
            appliance_password=appliance_pw,
            signage_password=signs_pw,
        ),
    )
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "persistence").mkdir(exist_ok=True)
    files = [out / "mosquitto.conf", out / "passwd", out / "acl"]
    texts = [
        mosquitto_conf(out, port, ws_port, bind, user),
        f"{APPLIANCE_USER}:{password_hash(appliance_pw)}\n{SIGNS_USER}:{password_hash(signs_pw)}\n",
        acl(venue),
    ]
    for path, text in zip(files, texts, strict=True):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the hashes are not for others
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(path, 0o600)
    _hand_over([*files, out / "persistence"], user)
    settings = dict(device.settings) if device else {}
    settings.update(venue=venue, host="127.0.0.1", port=port, username=APPLIANCE_USER, password=appliance_pw)
    device_id = device.id if device else DEVICE_ID
    add_device(
        data,
        config,
        device_id=device_id,
        domain="signage",
        kind=device.kind if device else "",
        name=(device.name if device else "") or "Room signs (Mosquitto)",
        settings=settings,
    )
    return Written(files, device_id, venue)


def _hand_over(paths: list[Path], user: str) -> None:
    """Run as root, give the files to the broker's account (Mosquitto drops to it before reading them)."""
    if os.geteuid() != 0:
        return
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        raise click.ClickException(f"no account '{user}' for the broker: give one with --user") from None
    for path in paths:
        os.chown(path, account.pw_uid, account.pw_gid)


@click.group("signage")
def signage() -> None:
    """Set up the broker the room signs read (Mosquitto with a WebSockets listener)."""


@signage.command("broker-config")
@DATA_OPTION
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write mosquitto.conf, passwd and acl (e.g. /etc/mosquitto/konferenco).",
)
@click.option(
    "--venue", default="", help="Venue id in every topic (default: the signage device's, else the event)."
)
@click.option(
    "--port", default=1883, show_default=True, type=int, help="MQTT listener (publisher, e-ink signs)."
)
@click.option(
    "--ws-port", default=9001, show_default=True, type=int, help="WebSockets listener (browser signs)."
)
@click.option("--bind", default="", help="Listen on this address only (default: every interface).")
@click.option(
    "--ws-url",
    default="",
    help="The broker's WebSocket URL as signs reach it (default: ws://<host the page came from>:WS_PORT).",
)
@click.option(
    "--user",
    default="mosquitto",
    show_default=True,
    help="The account Mosquitto runs as (it owns the files).",
)
@click.option("--new-passwords", is_flag=True, help="Replace the stored broker passwords with new ones.")
def broker_config(
    data_dir: Path,
    out_dir: Path,
    venue: str,
    port: int,
    ws_port: int,
    bind: str,
    ws_url: str,
    user: str,
    new_passwords: bool,
) -> None:
    """Write Mosquitto's configuration for the signs and point the signage publisher at it."""
    data, config = provisioned(data_dir)
    for name, value in (("--port", port), ("--ws-port", ws_port)):
        if not 1 <= value <= 65535:
            raise click.BadParameter("a TCP port is 1-65535", param_hint=name)
    if port == ws_port:
        raise click.BadParameter("the MQTT and WebSockets listeners need two ports", param_hint="--ws-port")
    try:
        written = write_broker_config(
            data,
            config,
            out_dir,
            venue=venue,
            port=port,
            ws_port=ws_port,
            bind=bind,
            ws_url=ws_url,
            user=user,
            new_passwords=new_passwords,
        )
    except (DeviceError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    for path in written.files:
        click.echo(f"wrote {path}")
    click.echo(
        f"signage publisher '{written.device_id}' publishes konferenco/{written.venue}/v1/... "
        f"to 127.0.0.1:{port} as user '{APPLIANCE_USER}' (passwords in {data.secrets}, never shown)"
    )
    click.echo(f"start the broker: mosquitto -c {written.files[0]}")
    click.echo("then restart 'appliance serve'; signs open http://<this box>:<its port>/signage")
