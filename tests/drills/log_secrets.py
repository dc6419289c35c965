"""Finding credentials, tokens, PINs and passwords in the logs the test session produced.

``tests/conftest.py`` runs :func:`find_secrets` over every log a
:class:`tests.helpers.ServiceProcess` wrote, once the session is over.  The
product redacts secrets before any handler sees them (``konferenco/logs.py``);
this is the check from outside that nothing slipped past it: a new log line,
an exception quoting a header, a driver echoing a PIN.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

#: Our token formats (``konferenco/logs.py``): API tokens, device credentials and enrolment
#: tokens (``kt1_``/``kd1_``/``ke1_``), sealed peer, staff and console-session tokens
#: (``kp1.``/``ks1.``/``kh1.``), with a real body; ``kt1_***`` (redacted) and ``kd1_…`` (a
#: message naming the format) are not secrets.
TOKEN = re.compile(r"(?<![A-Za-z0-9])(k[tde]1_|k[psh]1\.)[A-Za-z0-9._~-]{8,}")
BEARER = re.compile(r"Bearer\s+(?!\*\*\*)[A-Za-z0-9._~+/=-]{8,}")
QUERY = re.compile(r"[?&](?:token|access_token)=(?!\*\*\*)[^&\s\"']{8,}", re.IGNORECASE)

#: Passwords and PINs the tests type in (tests/hub, tests/e2e, tests/appliance/test_staff.py).
TEST_PASSWORDS = ("correct horse battery", "not the password", "not my password")


def demo_pins(data_dirs: Iterable[Path]) -> set[str]:
    """The staff PINs ``demo seed`` wrote into each served appliance's secrets."""
    pins: set[str] = set()
    for data in data_dirs:
        try:
            staff = json.loads((data / "secrets" / "demo-staff.json").read_text())
        except (OSError, ValueError):
            continue  # not a demo box, or removed with its temporary folder
        pins.update(str(row["pin"]) for row in staff.values() if row.get("pin"))
    return pins


def credentials(data_dirs: Iterable[Path]) -> set[str]:
    """The device credentials the hub issued to each served appliance (``secrets/hub-credential``)."""
    found = set()
    for data in data_dirs:
        try:
            found.add((data / "secrets" / "hub-credential").read_text().strip())
        except OSError:
            continue
    return {c for c in found if c}


def find_secrets(logs: Iterable[Path], data_dirs: Iterable[Path] = ()) -> list[str]:
    """``file:line: what`` for every secret in LOGS; empty when they are clean.

    A PIN counts only standing alone (not inside a longer number or an id) and not as a
    process id (``server process [123456]``), which uvicorn logs and a six-digit PIN may equal.
    """
    dirs = list(data_dirs)
    literals = [*TEST_PASSWORDS, *credentials(dirs)]
    pins = [
        re.compile(rf"(?<![A-Za-z0-9\[_.:-]){re.escape(pin)}(?![A-Za-z0-9\]_])") for pin in demo_pins(dirs)
    ]
    found = []
    for log in sorted(set(logs)):
        try:
            text = log.read_text(errors="replace")
        except OSError:
            continue  # removed with its temporary folder
        for number, line in enumerate(text.splitlines(), 1):
            hits = [m.group(0) for pattern in (TOKEN, BEARER, QUERY) for m in pattern.finditer(line)]
            hits += [word for word in literals if word in line]
            hits += ["a staff PIN" for pattern in pins if pattern.search(line)]
            if hits:
                shown = ", ".join(sorted({h[:5] + "…" for h in hits}))  # never the secret itself
                found.append(f"{log}:{number}: {shown}")
    return found
