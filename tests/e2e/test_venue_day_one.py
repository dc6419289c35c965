"""``docs/venue-day-one.md``, run: every step a technician can take on this machine, as the book gives it.

HQ's steps run as written (signing key, enrolment, config, bundle), in a working folder laid out as
the book's.  The technician's steps run as written too (verify, flash into a file from a stand-in
image: the real Talos image cannot be downloaded here).  Booting, ``talosctl apply-config`` and the
bootstrap need a real NUC or Pi and are the book's "hardware" steps, not run.

Then the box itself: its pod is read **from the generated machine config** (the inline manifests
HQ made), and each of its containers runs here as a real process with the environment Kubernetes
would give it (the ConfigMap and Secrets of the config), the command the manifest names, and
only these changes: ``/data`` is a temporary folder, the appliance listens on 127.0.0.1 and a free
port, and ``KONFERENCO_HUB_URL`` is this test's hub instead of the venue file's
``https://hub.konferenco.example``.  The backup replica is an S3-compatible server (moto) on
127.0.0.1, as a venue's LAN MinIO would be.  Every ``konferenco appliance …`` command the book runs
inside the pod (after ``kubectl … exec … --``) runs here on the same data.

Each command run must appear in the book verbatim, so the book and this test cannot drift apart.
"""

from __future__ import annotations

import json
import lzma
import os
import re
import shlex
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from appliance.config import DataDir
from talos.config import yamlio
from tests.appliance.test_backup_s3 import KEY_ID, SECRET, s3  # noqa: F401  (the S3 server fixture)
from tests.drivers.test_printer import FakePrinter
from tests.e2e.hub_setup import create_event, create_organization, fresh_database, sign_in
from tests.helpers import (
    KONFERENCO,
    ROOT,
    SESSION_DATA_DIRS,
    SESSION_LOGS,
    HubProcess,
    free_port,
    konferenco,
    wait_for,
)

BOOK = ROOT / "docs" / "venue-day-one.md"
EXAMPLE = ROOT / "talos" / "examples" / "venue.yaml"
#: The pod exec prefix the book uses for commands inside the appliance's container.
EXEC = "kubectl --kubeconfig venue-0042/kubeconfig exec -n konferenco appliance-0 -c {container} --"
EXEC_IT = "kubectl --kubeconfig venue-0042/kubeconfig exec -it -n konferenco appliance-0 -c {container} --"
PIN = "482915"

pytestmark = pytest.mark.slow


def book() -> str:
    return BOOK.read_text(encoding="utf-8")


def in_book(command: str) -> None:
    """The command, as run, is in the book word for word (line breaks with ``\\`` aside)."""
    text = re.sub(r"\\\n\s*", "", book())
    assert command in text, f"docs/venue-day-one.md does not give the command the test runs:\n  {command}"


@dataclass
class Pod:
    """The appliance's pod as the machine config declares it, run as processes on this machine."""

    manifests: dict[str, dict[str, Any]]
    data: Path
    hub_url: str
    port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def spec(self) -> dict[str, Any]:
        return dict(self.manifests["konferenco-appliance"]["spec"]["template"]["spec"])

    def container(self, name: str) -> dict[str, Any]:
        found = [
            c for c in [*self.spec.get("initContainers", []), *self.spec["containers"]] if c["name"] == name
        ]
        assert found, f"the appliance pod has no container {name}"
        return dict(found[0])

    def environment(self, name: str) -> dict[str, str]:
        """What Kubernetes gives the container: envFrom (ConfigMap, Secrets present), then env."""
        container = self.container(name)
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                env.update(self.manifests[source["configMapRef"]["name"]]["data"])
            elif "secretRef" in source:
                secret = self.manifests.get(source["secretRef"]["name"])
                if secret is None:
                    assert source["secretRef"].get("optional"), f"{name} needs a Secret the config lacks"
                    continue
                env.update(secret["stringData"])
        env.update({e["name"]: e["value"] for e in container.get("env", [])})
        env["KONFERENCO_HUB_URL"] = self.hub_url  # the test's hub, not hub.konferenco.example
        return env

    def argv(self, name: str) -> list[str]:
        """The container's arguments with ``$(VAR)`` expanded, /data, host and port made local."""
        env = self.environment(name)
        args = [re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], a) for a in self.container(name)["args"]]
        args = [str(self.data) if a == "/data" else a for a in args]
        for option, value in (("--host", "127.0.0.1"), ("--port", str(self.port))):
            if option in args:
                args[args.index(option) + 1] = value
        return args

    def _env(self, name: str) -> dict[str, str]:
        base = {
            k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LITESTREAM_", "KONFERENCO_"))
        }
        return {**base, **self.environment(name), "HOME": str(self.data.parent), "PYTHONUNBUFFERED": "1"}

    def run_init(self, name: str) -> str:
        """An init container: runs to completion; its output (the pod's log) is returned."""
        done = subprocess.run(
            [*KONFERENCO, *self.argv(name)], cwd=ROOT, capture_output=True, text=True, env=self._env(name),
            timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, f"{name} failed:\n{done.stdout}{done.stderr}"
        return done.stdout + done.stderr

    def start(self, name: str) -> None:
        log = self.data.parent / f"pod-{self.data.name}-{name}.log"
        SESSION_LOGS.add(log)
        SESSION_DATA_DIRS.add(self.data)
        with log.open("ab") as out:
            self.processes[name] = subprocess.Popen(
                [*KONFERENCO, *self.argv(name)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                env=self._env(name), start_new_session=True,
            )  # fmt: skip

    def start_all(self) -> str:
        """As the kubelet does: the init step (data-owner, a chown, is not ours to run), then the rest."""
        logs = self.run_init("provision")
        for container in self.spec["containers"]:
            self.start(container["name"])
        wait_for(self.healthy, timeout=60, what="the appliance's /healthz")
        return logs

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, signal_number: int = 15) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal_number)
                process.wait(timeout=20)
        self.processes.clear()

    def exec(
        self,
        command: str,
        *,
        container: str = "appliance",
        interactive: bool = False,
        input: str | None = None,
        check: bool = True,
    ) -> str:
        """``kubectl exec … -c CONTAINER -- COMMAND`` as the book gives it, run on this pod's data."""
        in_book(f"{(EXEC_IT if interactive else EXEC).format(container=container)} {command}")
        args = shlex.split(command)
        assert args[0] == "konferenco"
        args = [str(self.data) if a == "/data" else a for a in args[1:]]
        done = konferenco(*args, input=input, env=self.environment(container), check=check)
        return done.stdout + done.stderr


@dataclass
class Venue:
    hub: HubProcess
    organizer: Any
    badges: list[Any]
    printer: FakePrinter
    pod: Pod
    outputs: dict[str, str]
    timings: dict[str, float]
    replacement: Pod | None = None


def nonces(data: Path) -> set[str]:
    with sqlite3.connect(f"file:{data / 'appliance.db'}?mode=ro", uri=True) as conn:
        return {n for (n,) in conn.execute("SELECT nonce FROM checkin")}


def _stand_in_image(path: Path) -> tuple[Path, str]:
    """A small raw disk image, xz-compressed like metal-arm64.raw.xz; its sha256 (decompressed)."""
    import hashlib

    raw = bytes(range(256)) * (4 * 1024 * 1024 // 256)
    path.write_bytes(lzma.compress(raw, preset=0))
    return path, hashlib.sha256(raw).hexdigest()


def _run(command: str) -> str:
    """A technician's or HQ's command from the book, in the current folder."""
    in_book(command)
    args = shlex.split(command)
    assert args[0] == "konferenco"
    return konferenco(*args[1:]).stdout


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory, s3: str) -> Iterator[Venue]:  # noqa: F811
    work = tmp_path_factory.mktemp("day-one")
    outputs: dict[str, str] = {}
    timings: dict[str, float] = {}
    cwd = Path.cwd()
    with fresh_database() as database:
        create_organization(database)
        hub = HubProcess(database, work / "hub-secrets")
        printer = FakePrinter()
        pod: Pod | None = None
        try:
            hub.start()
            organizer = create_event(sign_in(hub.url), attendees=40)
            os.chdir(work)

            # --- HQ, the week before -------------------------------------------------------------
            outputs["signing-key"] = _run("konferenco talos signing-key --out hq-signing")
            enrolment = organizer.post(
                f"/api/v1/events/{organizer.event_id}/enrolments",
                {
                    "capabilities": ["scanner", "printer", "kiosk", "organizer"],
                    "name": "venue-0042",
                    "ttl_hours": 168,
                },
            )
            token_file = work / "enrolment-token.txt"
            token_file.write_text(enrolment["token"] + "\n")
            token_file.chmod(0o600)
            creds = work / "backup-credentials.txt"
            creds.write_text(f"access_key_id = {KEY_ID}\nsecret_access_key = {SECRET}\n")
            creds.chmod(0o600)
            data = yamlio.load_one(EXAMPLE.read_text())
            data["backup_url"] = f"s3://venue-backups/venue-0042?endpoint={s3}"
            (work / "venue-0042.yaml").write_text(yamlio.dump_one(data))
            outputs["config"] = _run(
                "konferenco talos config --venue venue-0042.yaml --out venue-0042 "
                "--enrolment-token-file enrolment-token.txt --backup-credentials-file backup-credentials.txt"
            )
            outputs["bundle"] = _run(
                "konferenco talos bundle --venue venue-0042.yaml --config-dir venue-0042 "
                "--signing-key hq-signing.key --out venue-0042.bundle.tar"
            )

            # --- the technician, at the venue ----------------------------------------------------
            laptop = work / "laptop"
            laptop.mkdir()
            for name in ("venue-0042.bundle.tar", "hq-signing.pub"):
                (laptop / name).write_bytes((work / name).read_bytes())
            os.chdir(laptop)
            started = time.monotonic()
            outputs["verify"] = _run(
                "konferenco talos verify venue-0042.bundle.tar --public-key hq-signing.pub "
                "--extract venue-0042"
            )
            image, sha = _stand_in_image(laptop / "metal-arm64.raw.xz")
            stick = laptop / "stick.img"
            flashed = konferenco(
                "talos", "flash", str(image), "--device", str(stick), "--sha256", sha, "--yes",
            )  # fmt: skip
            outputs["flash"] = flashed.stdout
            timings["verify and flash (stand-in image)"] = time.monotonic() - started

            # --- the box: its pod, from the machine config the technician applied ------------------
            config_docs = yamlio.load_documents((laptop / "venue-0042" / "controlplane.yaml").read_text())
            manifests = {
                m["name"]: yamlio.load_one(str(m["contents"]))
                for m in config_docs[0]["cluster"]["inlineManifests"]
            }
            pod = Pod(manifests, work / "box-a" / "data", hub.url)
            pod.data.parent.mkdir()
            started = time.monotonic()
            outputs["provision"] = pod.start_all()
            timings["first start: enrol and serve"] = time.monotonic() - started
            yield Venue(hub, organizer, organizer.badges(), printer, pod, outputs, timings)
        finally:
            os.chdir(cwd)
            if pod is not None:
                pod.stop()
            printer.stop()
            hub.stop()


def test_hq_prepares_a_signed_bundle_with_the_box_secrets_and_the_technicians_kubeconfig(
    venue: Venue,
) -> None:
    assert "wrote hq-signing.key (0600, keep at HQ)" in venue.outputs["signing-key"]
    config = venue.outputs["config"]
    assert "the box enrols itself with the hub at its first start" in config
    assert "kubeconfig (0600, group konferenco:technicians" in config
    assert SECRET not in config and "ke1_" not in config
    assert "kubeconfig" in venue.outputs["bundle"] and "signed by ed25519:" in venue.outputs["bundle"]


def test_the_technician_verifies_the_bundle_and_flashes(venue: Venue) -> None:
    assert (
        "✔ verified venue-0042.bundle.tar: venue-0042 (nuc-amd64, Talos v1.13.9)" in venue.outputs["verify"]
    )
    assert "extracted 4 files to venue-0042" in venue.outputs["verify"]
    assert "✔ verified" in venue.outputs["flash"]


def test_the_box_enrols_itself_at_its_first_start(venue: Venue) -> None:
    log = venue.outputs["provision"]
    assert "no backup at s3://venue-backups/venue-0042" in log and "a new box, enrolling" in log
    assert re.search(r"enrolled as dev-\w+ for event", log), log
    devices = venue.organizer.devices()
    device_id = DataDir(venue.pod.data).load().device_id
    wait_for(lambda: venue.organizer.devices()[device_id]["connected"], what="the box connected to the hub")
    assert devices[device_id]["name"] == "venue-0042"
    # a restart finds the box ready and spends nothing
    assert f"holds appliance {device_id}: ready" in venue.pod.run_init("provision")


def test_day_one_on_the_box_sign_in_kiosk_printer_first_scan_backup(venue: Venue) -> None:
    pod = venue.pod
    started = time.monotonic()
    # 7. the first staff account, and signing in with it (the door page does this POST)
    added = pod.exec(
        'konferenco appliance staff add --data /data --name Ana --role organizer',
        interactive=True, input=f"{PIN}\n{PIN}\n",
    )  # fmt: skip
    assert "staff account Ana (organizer) created" in added
    venue.outputs["staff"] = added
    login = httpx.post(f"{pod.url}/api/v1/auth/login", json={"name": "Ana", "secret": PIN}, timeout=10)
    assert login.status_code == 200, login.text
    staff = {"Authorization": f"Bearer {login.json()['token']}"}

    # 8. a kiosk: the code the technician types on its screen
    said = pod.exec('konferenco appliance kiosk pair-code --data /data --name "Entrance 1"')
    code = said.splitlines()[0]
    assert re.fullmatch(r"\d{6}", code), said
    assert "pairing code for kiosk 'Entrance 1', single use" in said
    paired = httpx.post(f"{pod.url}/api/v1/kiosk/pair", json={"code": code}, timeout=10)
    assert paired.status_code == 200, paired.text

    # 9. the badge printer at the main gate, then the pod restarted to use it
    added = pod.exec(
        "konferenco appliance devices add --data /data --id badge-printer --domain printer --kind network "
        "--set host=192.168.50.30 --set port=9100"
    )
    assert "device badge-printer saved (printer/network)" in added
    # the stand-in printer here listens on 127.0.0.1 and a free port: the same device, its address replaced
    konferenco(
        "appliance", "devices", "add", "--data", str(pod.data), "--id", "badge-printer",
        "--domain", "printer", "--kind", "network",
        "--set", "host=127.0.0.1", "--set", f"port={venue.printer.port}",
    )  # fmt: skip
    auto = pod.exec(
        "konferenco appliance devices auto-print --data /data --gate main --printer badge-printer"
    )
    assert "gate main prints badges on badge-printer" in auto
    venue.outputs["devices"] = added + auto
    in_book("kubectl --kubeconfig venue-0042/kubeconfig delete pod -n konferenco appliance-0")
    pod.stop()
    pod.start_all()

    # 10. the first scan at the door: admitted, and the badge comes out of the printer
    badge = venue.badges[0]
    scan = httpx.post(
        f"{pod.url}/api/v1/scans", json={"code": badge.code, "nonce": "day-one-first", "gate": "main"},
        headers=staff, timeout=10,
    )  # fmt: skip
    assert scan.status_code == 200 and scan.json()["result"] == "admitted", scan.text
    wait_for(lambda: venue.printer.jobs(), timeout=30, what="the first admission's badge on the printer")
    venue.timings["sign-in, kiosk, printer, first scan"] = time.monotonic() - started

    # 11. the backup: the sidecar has shipped the box to the replica
    status = "konferenco appliance backup status --data /data"
    wait_for(
        lambda: "verdict: OK" in pod.exec(status, container="backup", check=False),
        timeout=60, interval=1, what="backup status OK",
    )  # fmt: skip
    venue.outputs["backup status"] = pod.exec(status, container="backup")


def test_a_dead_box_is_replaced_from_its_backup(venue: Venue, tmp_path: Path) -> None:
    """12. The box dies (appliance and backup at once); a new box with the same bundle restores itself."""
    old = venue.pod
    device_id = DataDir(old.data).load().device_id
    admitted = venue.badges[0]
    wait_for(lambda: venue.organizer.dashboard()["scans"] >= 1, timeout=30, what="the hub to hold the scan")
    old.stop(signal_number=9)

    new = Pod(old.manifests, tmp_path / "box-b" / "data", venue.hub.url)
    new.data.parent.mkdir()
    started = time.monotonic()
    log = new.start_all()
    venue.timings["replacement: restore and serve"] = time.monotonic() - started
    try:
        venue.outputs["replacement"] = log
        assert f"restored appliance {device_id}" in log and "a replacement box" in log
        assert DataDir(new.data).load().device_id == device_id
        login = httpx.post(f"{new.url}/api/v1/auth/login", json={"name": "Ana", "secret": PIN}, timeout=10)
        assert login.status_code == 200, "the staff account came back with the box"
        # the first scan: in the backup, or (if it came in the backup's last second) from the hub
        wait_for(
            lambda: "day-one-first" in nonces(new.data), timeout=60, what="the first scan on the new box"
        )
        again = httpx.post(
            f"{new.url}/api/v1/scans", json={"code": admitted.code, "nonce": "after-restore", "gate": "main"},
            headers={"Authorization": f"Bearer {login.json()['token']}"}, timeout=10,
        )  # fmt: skip
        assert again.status_code == 200
        assert again.json()["result"] == "already_admitted", again.json()  # the first scan came back too
        wait_for(lambda: venue.organizer.devices()[device_id]["connected"], what="the new box on the hub")
    finally:
        new.stop()
    print("\nday one, timed here:", json.dumps({k: round(v, 1) for k, v in venue.timings.items()}))
    if os.environ.get("DAY_ONE_OUTPUTS"):  # what the book shows: refresh it from a real run
        Path(os.environ["DAY_ONE_OUTPUTS"]).write_text(json.dumps(venue.outputs, indent=2))
