"""``python -m images.build``: build the appliance and hub images with no registry (``make images``).

No container registry is reachable from where we build, only Debian and PyPI, so the base image is
made from Debian packages: ``mmdebstrap`` writes a minimal bookworm root file system with python3
(3.11, our Python) as a tarball, which ``podman import`` turns into an image. The base is pinned by
its package list: ``images/base.lock`` records every package with its version, and a build whose
packages differ fails (``--update-lock`` records the new list after a review). The wheels are built
on the host (``pip wheel``) into the build context, so ``podman build`` itself fetches nothing
(pip runs with ``--no-index``). The resulting image ids are written to ``build/images/images.json``.

Steps, each skipped when its output is already there for the same inputs:

1. base: mmdebstrap -> ``base.tar`` -> check against base.lock -> ``podman import``;
2. wheelhouse: the project's wheel and every dependency's, for the host's Python (= the base's);
3. ``podman build --target appliance`` and ``--target hub`` from ``images/Containerfile``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "images"
CONTAINERFILE = HERE / "Containerfile"
LOCK = HERE / "base.lock"
DEFAULT_WORK = ROOT / "build" / "images"

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
VARIANT = "essential"  # dpkg, coreutils, dash, libc: no apt, no compiler
# libstdc++6: manylinux wheels may link it without bundling it (greenlet for SQLAlchemy's asyncio,
# Pillow's AVIF plugin); the Containerfile's ldd check fails the build if another such library is missing.
INCLUDE = ("python3", "python3-venv", "ca-certificates", "tzdata", "libstdc++6")
# A fixed timestamp makes mmdebstrap's tarball reproducible for the same packages.
SOURCE_DATE_EPOCH = "1735689600"  # 2025-01-01T00:00:00Z
EXCLUDE_PATHS = ("/usr/share/man/*", "/usr/share/doc/*", "/usr/share/locale/*", "/usr/share/info/*")

PACKAGES = ("konferenco",)
PROJECT_DIRS = ("konferenco", "appliance", "hub", "drivers", "sync", "kiosk_ui", "talos", "images")
BASE_NAME = "localhost/konferenco/base"
IMAGE_NAMES = {
    "appliance": "ghcr.io/konferenco/appliance",
    "hub": "ghcr.io/konferenco/hub",
}
UID = 10001

# Rootful podman on a host that is itself a container (our CI): no overlay mounts (vfs), no systemd
# (cgroupfs), and a hybrid cgroup v1/v2 layout that crun refuses ("cgroups in hybrid mode not
# supported") while runc accepts it. Override with KONFERENCO_PODMAN (a space-separated prefix).
PODMAN = os.environ.get(
    "KONFERENCO_PODMAN", "podman --storage-driver vfs --cgroup-manager cgroupfs --runtime runc"
).split()
# `podman run` flags such a host needs: without CAP_SYS_RESOURCE the runtime cannot raise the
# process limits to podman's defaults (nofile 1048576), only set them at or below ours.
RUN_FLAGS = ["--ulimit", "nofile=8192:8192", "--ulimit", "nproc=4096:4096"]
SOURCE_LABEL = "org.konferenco.source"


class BuildError(RuntimeError):
    """A step failed; the message says which and what to do."""


@dataclass(frozen=True)
class Built:
    base: str
    images: dict[str, str]  # target -> image id
    tags: dict[str, str]  # target -> name:tag
    seconds: dict[str, float]


def project_version() -> str:
    """The version the images are tagged with: the project's, as pyproject.toml says."""
    import tomllib

    with (ROOT / "pyproject.toml").open("rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def _run(cmd: list[str], *, capture: bool = False, env: dict[str, str] | None = None) -> str:
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    try:
        result = subprocess.run(
            cmd, check=True, text=True, stdout=subprocess.PIPE if capture else None, env=env
        )
    except FileNotFoundError:
        raise BuildError(f"{cmd[0]} is not installed (make system-packages installs it)") from None
    except subprocess.CalledProcessError as exc:
        raise BuildError(f"{' '.join(cmd[:4])}… failed with exit code {exc.returncode}") from None
    return result.stdout or ""


def lock_text(packages: dict[str, str], tarball_sha256: str = "") -> str:
    """The base.lock file: a header (what made it) and one ``name version`` line per package.

    The tarball's sha256 is recorded as a comment: mmdebstrap is reproducible for the same packages
    and SOURCE_DATE_EPOCH, so a different digest for the same packages is worth a look, not a failure.
    """
    header = [
        "# The Debian packages of the konferenco base image (images/build.py), one `name version` a line.",
        f"# mmdebstrap --variant={VARIANT} --include={','.join(INCLUDE)} {SUITE} {MIRROR}",
        "# A build whose packages differ fails; after reviewing the difference (security updates),",
        "# record it with `python -m images.build --update-lock`.",
        *([f"# tarball sha256 {tarball_sha256}"] if tarball_sha256 else []),
    ]
    return "\n".join([*header, *(f"{n} {v}" for n, v in sorted(packages.items()))]) + "\n"


def locked_tarball(path: Path = LOCK) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# tarball sha256 "):
            return line.split()[-1]
    return ""


def read_lock(path: Path = LOCK) -> dict[str, str]:
    packages: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split()
            packages[name] = version
    return packages


def tar_packages(tarball: Path) -> dict[str, str]:
    """Installed packages and versions, from the dpkg status file inside the root file system tarball."""
    with tarfile.open(tarball) as tar:
        member = next((m for m in tar.getmembers() if m.name.lstrip("./") == "var/lib/dpkg/status"), None)
        if member is None:
            raise BuildError(f"{tarball} holds no var/lib/dpkg/status: not a Debian root file system")
        data = tar.extractfile(member)
        assert data is not None
        status = data.read().decode()
    packages: dict[str, str] = {}
    for stanza in status.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in stanza.splitlines() if ": " in line and not line[0].isspace()
        )
        if fields.get("Status", "").endswith(" installed") and "Package" in fields:
            packages[fields["Package"]] = fields["Version"]
    return packages


def lock_difference(locked: dict[str, str], built: dict[str, str]) -> list[str]:
    """Human lines for every package added, removed or at another version than the lock says."""
    lines = []
    for name in sorted(set(locked) | set(built)):
        if name not in built:
            lines.append(f"- {name} {locked[name]} (locked, not built)")
        elif name not in locked:
            lines.append(f"+ {name} {built[name]} (built, not locked)")
        elif locked[name] != built[name]:
            lines.append(f"~ {name} {locked[name]} -> {built[name]}")
    return lines


def source_digest() -> str:
    """A digest of everything that goes into the images: an image labelled with it is up to date."""
    h = hashlib.sha256()
    files = [CONTAINERFILE, LOCK, ROOT / "pyproject.toml", ROOT / "README.md"]
    for name in PROJECT_DIRS:
        files += [
            p
            for p in (ROOT / name).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        ]
    for path in sorted(files):
        h.update(str(path.relative_to(ROOT)).encode() + b"\0")
        h.update(_sha256(path).encode())
    return h.hexdigest()


def _inspect(ref: str, template: str) -> str | None:
    """``podman image inspect --format TEMPLATE REF``, or None when there is no such image."""
    try:
        out = subprocess.run(
            [*PODMAN, "image", "inspect", "--format", template, ref],
            check=True,
            text=True,
            capture_output=True,
        ).stdout.strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None
    return out or None


def _label(ref: str, label: str) -> str | None:
    out = _inspect(ref, f'{{{{index .Labels "{label}"}}}}')
    return out if out and out != "<no value>" else None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _image_id(ref: str) -> str | None:
    return _inspect(ref, "{{.Id}}")


def build_base(work: Path, *, update_lock: bool = False) -> str:
    """The pinned base image (built once per lock content); its image id."""
    locked = read_lock() if LOCK.exists() else {}
    tag = f"{BASE_NAME}:{SUITE}-{hashlib.sha256(lock_text(locked).encode()).hexdigest()[:12]}"
    if locked and not update_lock and (existing := _image_id(tag)):
        print(f"base {tag} exists ({existing[:12]})", file=sys.stderr)
        return existing
    tarball = work / "base.tar"
    tarball.unlink(missing_ok=True)
    cmd = ["mmdebstrap", f"--variant={VARIANT}", f"--include={','.join(INCLUDE)}"]
    cmd += [f"--dpkgopt=path-exclude={p}" for p in EXCLUDE_PATHS]
    cmd += [SUITE, str(tarball), MIRROR]
    _run(cmd, env={**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH})
    built = tar_packages(tarball)
    difference = lock_difference(locked, built)
    if difference and not update_lock:
        raise BuildError(
            "the base image's packages differ from images/base.lock:\n  "
            + "\n  ".join(difference)
            + "\nreview them, then record them with `python -m images.build --update-lock`"
        )
    digest = _sha256(tarball)
    if update_lock:
        LOCK.write_text(lock_text(built, digest), encoding="utf-8")
        tag = f"{BASE_NAME}:{SUITE}-{hashlib.sha256(lock_text(built).encode()).hexdigest()[:12]}"
    image = (
        _run([*PODMAN, "import", "--change", 'CMD ["/bin/sh"]', str(tarball), tag], capture=True)
        .strip()
        .splitlines()[-1]
    )
    (work / "base.json").write_text(
        json.dumps({"tag": tag, "id": image, "tarball_sha256": digest}, indent=2) + "\n"
    )
    if not update_lock and digest != locked_tarball():
        print(f"note: base tarball sha256 {digest} differs from base.lock's (same packages)", file=sys.stderr)
    tarball.unlink()
    return _image_id(tag) or image


def prune(keep_base: str) -> None:
    """Drop what earlier builds left: untagged images and other base images (vfs stores every layer
    in full, so each build would otherwise leave about 1.5 GB behind)."""
    _run([*PODMAN, "image", "prune", "--force"], capture=True)
    listing = _run(
        [*PODMAN, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", BASE_NAME], capture=True
    )
    for line in listing.splitlines():
        ref, image = line.split()
        if not keep_base.startswith(image):
            subprocess.run([*PODMAN, "rmi", ref], check=False, capture_output=True)


def build_wheelhouse(context: Path) -> Path:
    """Every wheel the venv needs, built on the host, in CONTEXT/wheelhouse."""
    stage = context / "src"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules", "build")
    for name in PROJECT_DIRS:
        shutil.copytree(ROOT / name, stage / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, stage / name)
    wheels = context / "wheelhouse"
    shutil.rmtree(wheels, ignore_errors=True)
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(wheels), str(stage)])
    shutil.rmtree(stage)
    return wheels


def build_images(
    work: Path,
    *,
    update_lock: bool = False,
    targets: tuple[str, ...] = ("appliance", "hub"),
    force: bool = False,
) -> Built:
    """Base, wheelhouse and the images; image ids recorded in WORK/images.json.

    Images already labelled with the current :func:`source_digest` are kept (unless FORCE).
    """
    work.mkdir(parents=True, exist_ok=True)
    version = project_version()
    source = source_digest()
    tags = {t: f"{IMAGE_NAMES[t]}:{version}" for t in targets}
    if not force and not update_lock and all(_label(tag, SOURCE_LABEL) == source for tag in tags.values()):
        current = {t: (_image_id(tag) or "").removeprefix("sha256:") for t, tag in tags.items()}
        base = _label(tags[targets[0]], "org.konferenco.base") or ""
        print(f"images up to date for source {source[:12]}", file=sys.stderr)
        return Built(base=base, images=current, tags=tags, seconds={})
    seconds: dict[str, float] = {}
    t0 = time.monotonic()
    base = build_base(work, update_lock=update_lock)
    seconds["base"] = time.monotonic() - t0
    if update_lock:
        source = source_digest()  # base.lock may have changed
    context = work / "context"
    t0 = time.monotonic()
    build_wheelhouse(context)
    seconds["wheelhouse"] = time.monotonic() - t0
    images: dict[str, str] = {}
    for target in targets:
        t0 = time.monotonic()
        tag = tags[target]
        iidfile = work / f"{target}.iid"
        _run(
            [
                *PODMAN,
                "build",
                "--isolation",
                "chroot",
                # chroot isolation allows no other network mode; nothing is fetched anyway:
                # pip installs with --no-index from the context's wheelhouse
                "--network",
                "host",
                "--format",
                "docker",  # OCI image configs have no HEALTHCHECK
                "--pull=never",
                "--build-arg",
                f"BASE={base}",
                "--label",
                f"{SOURCE_LABEL}={source}",
                "--label",
                f"org.konferenco.base={base}",
                "--target",
                target,
                "--iidfile",
                str(iidfile),
                "--tag",
                tag,
                "--file",
                str(CONTAINERFILE),
                str(context),
            ]
        )
        images[target] = iidfile.read_text().strip().removeprefix("sha256:")
        seconds[target] = time.monotonic() - t0
    shutil.rmtree(context / "wheelhouse", ignore_errors=True)
    prune(base)
    built = Built(base=base, images=images, tags=tags, seconds=seconds)
    (work / "images.json").write_text(
        json.dumps(
            {"base": base, "images": images, "tags": tags, "seconds": seconds}, indent=2, sort_keys=True
        )
        + "\n"
    )
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m images.build", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--work", type=Path, default=DEFAULT_WORK, help="Build directory (default: build/images)."
    )
    parser.add_argument(
        "--update-lock", action="store_true", help="Record the built base's packages in base.lock."
    )
    parser.add_argument("--target", action="append", choices=sorted(IMAGE_NAMES), help="Only this image.")
    args = parser.parse_args(argv)
    try:
        built = build_images(
            args.work, update_lock=args.update_lock, targets=tuple(args.target or IMAGE_NAMES)
        )
    except BuildError as exc:
        print(f"images: {exc}", file=sys.stderr)
        return 1
    print(f"base       {built.base[:12]}")
    for target, image in built.images.items():
        took = f"  ({built.seconds[target]:.0f} s)" if target in built.seconds else "  (up to date)"
        print(f"{target:<10} {built.tags[target]}  {image[:12]}{took}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
