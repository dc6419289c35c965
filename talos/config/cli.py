"""``konferenco talos config | validate | bundle | verify | signing-key``: HQ's and the technician's commands.

Standalone Click commands; the ``konferenco talos`` group adds them (``talos.add_command(...)``).
Exit codes: 0 done, 1 refused (the message says why and nothing was written), 2 usage error.
No command prints or logs a secret: only paths, ids, hashes and fingerprints.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import re
import tempfile
from pathlib import Path
from typing import Any, NoReturn

import click

from konferenco.secret_files import SecretFileError, read_private_text, read_s3_key
from talos.config import bundle as bundles
from talos.config import os_images, yamlio
from talos.config import secrets as pki
from talos.config.generate import BACKUP_SECRET, ENROLMENT_SECRET, GenerateError, generate
from talos.config.kube_access import TECHNICIAN_GROUP, TECHNICIAN_LIFETIME, technician_kubeconfig
from talos.config.schematic import read_lock
from talos.config.validate import validate_text
from talos.config.venue import Venue, VenueError, load_venue
from talos.config.versions import Release, VersionError, Versions, load_versions, schema_path

_SCHEMA_DIR = click.option(
    "--schema-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Official Talos schemas (default: $KONFERENCO_TALOS_SCHEMA_DIR or ../shared/talos-schema).",
)


def _fail(message: str) -> NoReturn:
    raise click.ClickException(message)


def _tool_version() -> str:
    try:
        return importlib.metadata.version("konferenco")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _check(text: str, release: Release, schema_dir: Path | None, *, installed: bool) -> None:
    problems = validate_text(text, schema_path(release, schema_dir), installed=installed)
    if problems:
        _fail("the generated config is invalid:\n  " + "\n  ".join(str(p) for p in problems))


def _load(venue_file: Path) -> tuple[Versions, Venue]:
    versions = load_versions()
    try:
        return versions, load_venue(venue_file, versions.hardware)
    except VenueError as exc:
        raise click.ClickException(f"{venue_file}: {exc}") from None


@click.command("config")
@click.option(
    "--venue",
    "venue_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The venue file.",
)
@click.option(
    "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Directory to write to."
)
@click.option(
    "--secrets",
    "secrets_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="secrets.yaml to use; created if missing (default: OUT/secrets.yaml). Keep it at HQ, outside git.",
)
@click.option(
    "--enrolment-token-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A file holding the box's one-time enrolment token (ke1_…, from the hub console's Devices page).",
)
@click.option(
    "--backup-credentials-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="access_key_id = … / secret_access_key = … for the venue's S3 backup_url (docs/backup.md).",
)
@_SCHEMA_DIR
def config(
    venue_file: Path,
    out: Path,
    secrets_file: Path | None,
    enrolment_token_file: Path | None,
    backup_credentials_file: Path | None,
    schema_dir: Path | None,
) -> None:
    """Generate a venue box's Talos machine config, secrets, talosconfig and kubeconfig.

    Writes OUT/controlplane.yaml, OUT/talosconfig (os:operator), OUT/kubeconfig (the
    technician's, limited to the appliance's pods) and (when new) the secrets file, all mode
    0600, only after the whole config validated against its Talos release's schema. With an
    enrolment token the box enrols itself with the hub at its first start.
    """
    versions, venue = _load(venue_file)
    box_secrets = _box_secrets(venue, enrolment_token_file, backup_credentials_file)
    secrets_file = secrets_file or out / "secrets.yaml"
    new_secrets = not secrets_file.exists()
    try:
        secret_bundle = pki.generate_secrets() if new_secrets else pki.load_secrets(secrets_file)
        generated = generate(venue, secret_bundle, versions, box_secrets)
        installed = not versions.hardware[venue.hardware].get("install_disk_selector")
        _check(generated.text, generated.release, schema_dir, installed=installed)
        client = pki.talosconfig(venue.name, venue.network.node_ip, secret_bundle)
        admin = pki.talosconfig(venue.name, venue.network.node_ip, secret_bundle, role=pki.ADMIN_ROLE)
        endpoint = f"https://{venue.network.node_ip}:6443"
        kubeconfig = technician_kubeconfig(venue.name, endpoint, secret_bundle)
    except (VersionError, GenerateError, pki.SecretsError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        if new_secrets:  # first, so a config is never left without the secrets it was made from
            pki.write_private(secrets_file, yamlio.dump_one(secret_bundle))
        pki.write_private(out / bundles.CONFIG, generated.text)
        pki.write_private(out / bundles.TALOSCONFIG, yamlio.dump_one(client))
        pki.write_private(out / bundles.TALOSCONFIG_ADMIN, yamlio.dump_one(admin))
        pki.write_private(out / bundles.KUBECONFIG, yamlio.dump_one(kubeconfig))
    except OSError as exc:
        raise click.ClickException(f"cannot write to {out}: {exc.strerror}") from None
    click.echo(f"venue       {venue.name} ({venue.hardware}), Talos {generated.release.version}")
    click.echo(f"schematic   {generated.schematic_id}")
    click.echo(f"installer   {generated.installer}")
    click.echo(f"endpoint    https://{venue.network.node_ip}:6443")
    click.echo(
        f"validated   {len(generated.documents)} documents, Talos {generated.release.version} schema + rules"
    )
    click.echo(f"wrote       {out / bundles.CONFIG} (0600, holds CA keys)")
    click.echo(
        f"wrote       {out / bundles.TALOSCONFIG} (0600, role {pki.OPERATOR_ROLE}, for the technician)"
    )
    click.echo(f"wrote       {out / bundles.TALOSCONFIG_ADMIN} (0600, role {pki.ADMIN_ROLE}, HQ only)")
    click.echo(
        f"wrote       {out / bundles.KUBECONFIG} (0600, group {TECHNICIAN_GROUP}: the appliance's pods, "
        f"{TECHNICIAN_LIFETIME.days} days)"
    )
    if ENROLMENT_SECRET in box_secrets:
        click.echo("enrolment   the box enrols itself with the hub at its first start (one-time token)")
    else:
        click.echo("! no --enrolment-token-file: the box cannot enrol itself; it waits for a token")
    if venue.backup_url:
        click.echo(f"backup      {venue.backup_url}")
    click.echo(f"secrets     {secrets_file} ({'new, 0600' if new_secrets else 'reused'})")


def _box_secrets(
    venue: Venue, token_file: Path | None, credentials_file: Path | None
) -> dict[str, dict[str, str]]:
    """The Secrets the appliance's pod reads, from the files HQ was given; the values are never printed."""
    found: dict[str, dict[str, str]] = {}
    if token_file is not None:
        token = _read_secret_file(token_file).strip()
        if not re.fullmatch(r"ke1_[A-Za-z0-9_-]{8,200}", token):
            _fail(f"{token_file}: not an enrolment token (ke1_… from the hub console's Devices page)")
        found[ENROLMENT_SECRET] = {"KONFERENCO_ENROL_TOKEN": token}
    if credentials_file is not None:
        if not (venue.backup_url or "").startswith("s3://"):
            _fail("--backup-credentials-file is for an s3:// backup_url; the venue file has none")
        try:
            key = read_s3_key(credentials_file)
        except SecretFileError as exc:
            _fail(str(exc))
        found[BACKUP_SECRET] = {
            "AWS_ACCESS_KEY_ID": key.access_key_id,
            "AWS_SECRET_ACCESS_KEY": key.secret_access_key,
        }
    return found


def _read_secret_file(path: Path) -> str:
    try:
        return read_private_text(path)
    except SecretFileError as exc:
        _fail(str(exc))


@click.command("validate")
@click.argument("config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--talos",
    "talos_version",
    default=None,
    help="Talos release to validate against (default: the pinned one).",
)
@click.option(
    "--installed/--iso",
    default=False,
    help="--iso (default): the box boots the ISO and needs an install disk.",
)
@_SCHEMA_DIR
def validate(config_file: Path, talos_version: str | None, installed: bool, schema_dir: Path | None) -> None:
    """Check a machine config against the official schema and Talos's own rules."""
    try:
        release = load_versions().release(talos_version)
        problems = validate_text(
            config_file.read_text(encoding="utf-8"), schema_path(release, schema_dir), installed=installed
        )
    except (VersionError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    if problems:
        for problem in problems:
            click.echo(f"✖ {problem}", err=True)
        raise click.ClickException(f"{config_file}: {len(problems)} problem(s) for Talos {release.version}")
    click.echo(f"✔ {config_file}: valid for Talos {release.version}")


@click.command("signing-key")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Path prefix: writes PREFIX.key and PREFIX.pub.",
)
def signing_key(out: Path) -> None:
    """Create HQ's Ed25519 bundle signing key (PREFIX.key, mode 0600) and its public half (PREFIX.pub)."""
    private_path, public_path = out.with_suffix(".key"), out.with_suffix(".pub")
    if private_path.exists():
        _fail(f"{private_path} exists: refusing to replace a signing key")
    private, public = bundles.new_signing_key()
    pki.write_private(private_path, private.decode())
    public_path.write_bytes(public)
    key = bundles.load_public(public_path)
    click.echo(f"wrote {private_path} (0600, keep at HQ) and {public_path} (give to technicians)")
    click.echo(f"fingerprint {bundles.fingerprint(key)}")


def _facts(venue: Venue, versions: Versions) -> dict[str, Any]:
    release = versions.release(venue.talos)
    lock = read_lock()
    if lock["talos"] != release.version:
        _fail(f"talos/schematics/lock.json is for {lock['talos']}, the venue uses {release.version}")
    entry = lock["classes"][venue.hardware]
    boot_file = versions.hardware[venue.hardware]["boot_asset"]
    try:
        image = os_images.entry(release.version, venue.hardware)
    except os_images.OsImageError as exc:
        raise click.ClickException(str(exc)) from None
    if image.url != os_images.expected_url(entry["id"], release.version, boot_file):
        _fail(
            f"images/os.yaml's {venue.hardware} image for Talos {release.version} ({image.url}) is not "
            f"the factory's for schematic {entry['id']}: fix os.yaml"
        )
    return {
        "venue": venue.name,
        "hardware": venue.hardware,
        "talos": release.version,
        "schematic_id": entry["id"],
        "installer": entry["installer"],
        "node_ip": venue.network.node_ip,
        "boot_image": {
            "file": image.file,
            "url": image.url,
            "sha256": image.sha256,
            "size": image.size,
        },
    }


def _same_venue(text: str, venue: Venue) -> None:
    """Refuse to sign another venue's config under this venue's name (a mixed-up --config-dir)."""
    main = yamlio.load_documents(text)[0]
    cluster = main.get("cluster") or {}
    endpoint = (cluster.get("controlPlane") or {}).get("endpoint", "")
    if cluster.get("clusterName") != venue.name or endpoint != f"https://{venue.network.node_ip}:6443":
        _fail(
            f"the config in --config-dir is for {cluster.get('clusterName')!r} at {endpoint}, "
            f"not {venue.name!r} at {venue.network.node_ip}: run `talos config` for this venue"
        )


@click.command("bundle")
@click.option("--venue", "venue_file", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--config-dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The OUT of `talos config`.",
)
@click.option(
    "--signing-key", "key_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The bundle tar to write."
)
@click.option(
    "--bootstrap-hours",
    type=click.IntRange(0, 72),
    default=0,
    help="Also bundle an os:admin talosconfig valid this many hours, so the technician can bootstrap "
    "offline (needs --secrets). Default 0: HQ bootstraps.",
)
@click.option(
    "--secrets",
    "secrets_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The venue's secrets.yaml (only read for --bootstrap-hours; never bundled).",
)
@_SCHEMA_DIR
def bundle(
    venue_file: Path,
    config_dir: Path,
    key_file: Path,
    out: Path,
    bootstrap_hours: int,
    secrets_file: Path | None,
    schema_dir: Path | None,
) -> None:
    """Write the signed per-venue bundle: manifest, config, operator talosconfig, checklist.

    The config is validated again first; secrets.yaml is never included.
    """
    versions, venue = _load(venue_file)
    try:
        config_bytes = (config_dir / bundles.CONFIG).read_bytes()
        talosconfig_bytes = (config_dir / bundles.TALOSCONFIG).read_bytes()
        kubeconfig_file = config_dir / bundles.KUBECONFIG
        kubeconfig_bytes = kubeconfig_file.read_bytes() if kubeconfig_file.exists() else None
        installed = not versions.hardware[venue.hardware].get("install_disk_selector")
        _check(config_bytes.decode(), versions.release(venue.talos), schema_dir, installed=installed)
        _same_venue(config_bytes.decode(), venue)
        key = bundles.load_private(key_file)
        facts = _facts(venue, versions)
        bootstrap = None
        facts["bootstrap_admin_until"] = None
        if bootstrap_hours:
            if secrets_file is None:
                _fail("--bootstrap-hours needs --secrets (the venue's secrets.yaml, to sign the admin cert)")
            assert secrets_file is not None
            now = dt.datetime.now(dt.UTC)
            lifetime = dt.timedelta(hours=bootstrap_hours)
            admin = pki.talosconfig(
                venue.name,
                venue.network.node_ip,
                pki.load_secrets(secrets_file),
                role=pki.ADMIN_ROLE,
                now=now,
                lifetime=lifetime,
            )
            bootstrap = yamlio.dump_one(admin).encode()
            facts["bootstrap_admin_until"] = (now + lifetime).replace(microsecond=0).isoformat()
        with tempfile.TemporaryDirectory(dir=out.parent if out.parent.exists() else None) as tmp:
            staged = Path(tmp) / out.name
            manifest = bundles.build(
                config=config_bytes,
                talosconfig=talosconfig_bytes,
                kubeconfig=kubeconfig_bytes,
                facts=facts,
                bootstrap=bootstrap,
                key=key,
                out=staged,
                tool_version=_tool_version(),
            )
            out.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, out)
    except (VersionError, bundles.BundleError, pki.SecretsError, OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {out} (0600)")
    click.echo(f"signed by {manifest['signer']}")
    for name, entry in manifest["files"].items():
        click.echo(f"  {entry['sha256']}  {name}")
    if manifest["boot_image"]["sha256"] is None:
        click.echo(
            f"! boot image {manifest['boot_image']['file']}: no pinned sha256 yet: download it and run "
            f"`konferenco talos os-image record {manifest['boot_image']['file']} "
            f"--class {manifest['hardware']}` (docs/talos-config.md)"
        )


@click.command("verify")
@click.argument("bundle_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--public-key",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="HQ's .pub file.",
)
@click.option(
    "--extract",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Unpack the verified files here.",
)
def verify(bundle_file: Path, public_key: Path, extract: Path | None) -> None:
    """Check a bundle's HQ signature and every file's hash before using it on site."""
    try:
        result = bundles.verify(bundle_file, bundles.load_public(public_key))
    except bundles.BundleError as exc:
        raise click.ClickException(f"✖ {bundle_file}: {exc}") from None
    manifest = result.manifest
    click.echo(
        f"✔ verified {bundle_file}: {manifest['venue']} ({manifest['hardware']}, Talos {manifest['talos']})"
    )
    click.echo(f"signed by {result.signer} on {manifest['created_at']}")
    if extract is not None:
        for name, data in result.files.items():
            pki.write_private(extract / name, data.decode())
        click.echo(f"extracted {len(result.files)} files to {extract}")


@click.group("os-image")
def os_image() -> None:
    """The OS images technicians flash: their URL, sha256 and size in images/os.yaml."""


@os_image.command("record")
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--class",
    "hardware",
    required=True,
    help="Hardware class the image is for (talos/versions.yaml: nuc-amd64, rpi5-arm64).",
)
@click.option("--talos", "talos_version", default=None, help="Talos release (default: the pinned one).")
@click.option("--url", default=None, help="The URL it was downloaded from: refused unless it is os.yaml's.")
@click.option("--replace", is_flag=True, help="Record a different hash over an already recorded one.")
@click.option(
    "--manifest",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The manifest to update (default: images/os.yaml).",
)
def os_image_record(
    image: Path,
    hardware: str,
    talos_version: str | None,
    url: str | None,
    replace: bool,
    manifest: Path | None,
) -> None:
    """Hash a downloaded OS image (decompressed, as the flasher does) and record it in images/os.yaml.

    Run at HQ after downloading the image from its os.yaml URL; commit the changed os.yaml.
    """
    versions = load_versions()
    if hardware not in versions.hardware:
        raise click.BadParameter(
            f"{hardware!r} is not a hardware class ({', '.join(sorted(versions.hardware))})",
            param_hint="--class",
        )
    try:
        release = versions.release(talos_version)
        recorded, changed = os_images.record(
            image, hardware, release.version, url=url, replace=replace, path=manifest
        )
    except (VersionError, os_images.OsImageError) as exc:
        raise click.ClickException(str(exc)) from None
    where = manifest or os_images.manifest_path()
    click.echo(f"{recorded.file}  {hardware}  Talos {recorded.talos}")
    click.echo(f"sha256 {recorded.sha256}  (decompressed, {recorded.size} bytes)")
    click.echo(f"{'recorded in' if changed else 'already recorded in'} {where}")
