"""Is the port the appliance is to serve on free?  Asked before anything is spent on it.

``make run`` enrols a box (which uses up a one-time enrolment token) and
then serves it; a port already taken by another appliance would fail the
second step after the first was done for good.  So enrolment and ``serve``
ask here first, and the answer says how to choose another port.
"""

from __future__ import annotations

import errno
import socket


class PortTaken(RuntimeError):
    def __init__(self, host: str, port: int, suggestion: int | None) -> None:
        other = suggestion or port + 1
        super().__init__(
            f"cannot serve on {host}:{port}: address already in use (by another appliance?). "
            f"Choose another port: --port {other}, or with make: make run PORT={other} …"
        )
        self.host = host
        self.port = port
        self.suggestion = suggestion


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on HOST:PORT now (with ``SO_REUSEADDR``, as uvicorn binds)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            # Anything else (a privileged port, an address not on this host) is the server's to say.
            return exc.errno != errno.EADDRINUSE
    return True


def ensure_port_free(host: str, port: int) -> None:
    """Raise :class:`PortTaken` (naming a free port nearby) if HOST:PORT is taken."""
    if port == 0 or port_is_free(host, port):
        return
    suggestion = next((p for p in range(port + 1, min(port + 50, 65536)) if port_is_free(host, p)), None)
    raise PortTaken(host, port, suggestion)
