"""``backup run``: Litestream replicating the data directory, kept alive, stopped cleanly.

The runner is what the Kubernetes sidecar (and a technician, in a terminal)
runs in the foreground.  It

* copies the identity files into ``identity.db`` at start and every
  :data:`REFRESH_EVERY` seconds when they changed (enrolment, a renewed
  credential, a new badge certificate);
* starts ``litestream replicate`` as a child with the generated config and
  the credentials in its environment, and turns its log lines into ours;
* restarts the child with a growing delay (1 s … 30 s) if it dies, and
  forgets the delay once it ran a minute;
* forwards SIGTERM/SIGINT to the child and waits for its final sync.

The child runs in a session of its own (signals reach it once, from us) and
is asked to die with the runner (Linux ``PR_SET_PDEATHSIG``), so a ``kill -9``
of the runner leaves no Litestream replicating behind it.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from appliance.backup import identity
from appliance.backup.litestream import SYNC_INTERVAL, Backup, binary, version
from appliance.backup.target import BackupError
from appliance.config import DataDir

log = logging.getLogger("appliance.backup")

#: Seconds between two looks at the identity files.
REFRESH_EVERY = 2.0
#: Restart delays after Litestream died: doubled from the first to the cap.
BACKOFF = (1.0, 30.0)
#: A child that ran this long was healthy: the next restart starts from the first delay again.
STABLE_AFTER = 60.0
#: Seconds Litestream gets to finish its last sync after SIGTERM.
STOP_GRACE = 15.0

#: ``time=… level=INFO msg="…" key=value …`` (Litestream's slog text format).
_LINE = re.compile(r'^time=\S+ level=(?P<level>\w+) msg=(?P<msg>"(?:[^"\\]|\\.)*"|\S+)\s*(?P<rest>.*)$')
_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING, "ERROR": logging.ERROR}
#: Routine messages a technician does not need at INFO.
_ROUTINE = (
    "compaction complete",
    "snapshot complete",
    "starting compaction monitor",
    "starting L0 retention",
)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # SIGKILL, not SIGTERM: a runner killed with -9 has crashed, and a Litestream left behind would
    # be a second one replicating the same database when the runner is started again.
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Runner:
    """One data directory's continuous backup; :meth:`run` returns when asked to stop."""

    def __init__(self, backup: Backup, *, sync_interval: str = SYNC_INTERVAL) -> None:
        self.backup = backup
        self.data = DataDir(backup.data)
        self.sync_interval = sync_interval
        self._stop = threading.Event()
        self._child: subprocess.Popen[str] | None = None

    def stop(self, signum: int | None = None, _frame: FrameType | None = None) -> None:
        """Ask the runner to stop (a signal handler): the child gets SIGTERM and a last sync."""
        if signum is not None and not self._stop.is_set():
            log.info("stopping on %s", signal.Signals(signum).name)
        self._stop.set()
        child = self._child
        if child is not None and child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)

    def refresh_identity(self) -> None:
        changed = identity.refresh(self.data)
        if changed is not None:
            log.info("identity copied into identity.db (%d files: appliance.json and secrets/)", changed)

    def run(self) -> int:
        """Replicate until stopped; 0 after a clean stop."""
        self.refresh_identity()  # fails here, clearly, if DATA holds no appliance
        self.backup.prepare_target()
        exe = binary()
        log.info(
            "%s -> %s (litestream %s, every %s; databases appliance.db and identity.db)",
            self.data.path, self.backup.target.url, version(), self.sync_interval,
        )  # fmt: skip
        if self.backup.target.kind == "s3":
            log.info("the replica holds this box's keys: keep the bucket private and encrypted")
        delay = BACKOFF[0]
        with self.backup.config_file(identity.DATABASES_BACKED_UP, self.sync_interval) as config:
            while not self._stop.is_set():
                started = time.monotonic()
                code = self._run_child(exe, config)
                if self._stop.is_set():
                    log.info("stopped (litestream exited with %s after its last sync)", code)
                    return 0
                if time.monotonic() - started >= STABLE_AFTER:
                    delay = BACKOFF[0]
                log.error("litestream stopped unexpectedly (exit code %s); restarting in %.0f s", code, delay)
                if self._stop.wait(delay):
                    break
                delay = min(delay * 2, BACKOFF[1])
        log.info("stopped")
        return 0

    def _run_child(self, exe: Path, config: Path) -> int:
        child = subprocess.Popen(
            [str(exe), "replicate", "-config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.backup.environment(),
            # its own session: a signal to our process group (Ctrl-C, a supervisor) reaches it once,
            # forwarded by us; twice would make Litestream skip its last sync
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        self._child = child
        if self._stop.is_set():  # a signal arrived while it was being started
            child.send_signal(signal.SIGTERM)
        log.info("litestream replicating (pid %d)", child.pid)
        reader = threading.Thread(target=self._forward, args=(child,), name="litestream-log", daemon=True)
        reader.start()
        while child.poll() is None:
            if self._stop.wait(REFRESH_EVERY):
                try:
                    child.wait(timeout=STOP_GRACE)
                except subprocess.TimeoutExpired:
                    log.warning("litestream did not stop in %.0f s: killing it", STOP_GRACE)
                    child.kill()
                    child.wait()
                break
            try:
                self.refresh_identity()
            except (BackupError, OSError) as exc:  # e.g. the data directory went away: say so, keep going
                log.error("cannot copy the identity: %s", exc)
        reader.join(timeout=5)
        self._child = None
        return child.returncode

    def _forward(self, child: subprocess.Popen[str]) -> None:
        """Litestream's log lines as ours, scrubbed of secrets; routine ones at DEBUG."""
        assert child.stdout is not None
        for raw in child.stdout:
            line = self.backup.scrub(raw.rstrip())
            if not line:
                continue
            match = _LINE.match(line)
            if match is None:
                log.info("litestream: %s", line)
                continue
            msg = match["msg"].strip('"')
            level = _LEVELS.get(match["level"].upper(), logging.INFO)
            if level == logging.INFO and msg.startswith(_ROUTINE):
                level = logging.DEBUG
            log.log(level, "litestream: %s%s", msg, f" ({match['rest']})" if match["rest"] else "")


def install_signals(runner: Runner) -> None:
    """SIGTERM (Kubernetes, systemd) and SIGINT (Ctrl-C) stop the runner after a last sync."""
    signal.signal(signal.SIGTERM, runner.stop)
    signal.signal(signal.SIGINT, runner.stop)
