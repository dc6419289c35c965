"""Logging that never writes a secret, as text for people or JSON lines for machines.

Browsers must put the sync token in the URL (``?token=…``), and uvicorn
logs URLs; this filter blanks token values before any handler sees them.
``--log-format json`` (or ``KONFERENCO_LOG_FORMAT=json``) writes one JSON
object per line, for a log shipper on the appliance's host.
"""

from __future__ import annotations

import json
import logging
import re
import time

_SECRET = re.compile(r"((?:token|access_token|password|secret|pin)=)[^&\s\"']+", re.IGNORECASE)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+")
#: Our own token formats, wherever they appear (an error message quoting a URL, a typo'd header):
#: API tokens, device credentials, enrolment tokens (``kt1_``/``kd1_``/``ke1_``) and sealed
#: peer, staff and console-session tokens (``kp1.``/``ks1.``/``kh1.``).
_OURS = re.compile(r"\b(k[tde]1_|k[psh]1\.)[A-Za-z0-9._~-]+")


def redact(text: str) -> str:
    return _OURS.sub(r"\1***", _BEARER.sub(r"\1***", _SECRET.sub(r"\1***", text)))


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the exception, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: int, fmt: str) -> None:
    """Set up the root handler once; uvicorn's loggers propagate to it (``log_config=None``)."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # One line per HTTP request of our own clients (catalog polls, sync discovery) would drown
    # what matters; their failures are logged by the code that made the request.
    logging.getLogger("httpx").setLevel(max(level, logging.WARNING))
