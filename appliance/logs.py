"""Logging that never writes a secret.

Browsers must put the sync token in the URL (``?token=…``), and uvicorn
logs URLs; this filter blanks token values before any handler sees them.
"""

from __future__ import annotations

import logging
import re

_SECRET = re.compile(r"((?:token|access_token|password)=)[^&\s\"']+", re.IGNORECASE)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+")


def redact(text: str) -> str:
    return _BEARER.sub(r"\1***", _SECRET.sub(r"\1***", text))


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def install(*loggers: str) -> None:
    """Attach the filter to the handlers of the root logger and to ``loggers``."""
    for name in ("", *loggers):
        logger = logging.getLogger(name)
        logger.addFilter(RedactSecrets())
        for handler in logger.handlers:
            handler.addFilter(RedactSecrets())
