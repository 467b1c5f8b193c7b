"""Secrets kept out of the server's access log: uvicorn writes each request's path with its query
string, and two links carry a secret there (`/auth/link?token=...`, the e-mailed sign-in link,
and `/reports/unsubscribe?token=...`). A filter on uvicorn's loggers replaces those values with
``[redacted]`` before any handler formats the line.
"""

from __future__ import annotations

import logging
import re

# Query parameters whose value is a secret, wherever they appear.
SECRET_QUERY_PARAMETERS = ("token",)
REDACTED = "[redacted]"
# uvicorn.access: one line per HTTP request; uvicorn.error: one per WebSocket handshake.
SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error")

_SECRET_VALUE = re.compile(
    r"([?&](?:" + "|".join(map(re.escape, SECRET_QUERY_PARAMETERS)) + r")=)[^&#\s\"]*",
    re.IGNORECASE,
)


def redacted(text: str) -> str:
    """``text`` with the value of every secret query parameter replaced."""
    if "=" not in text:
        return text
    return _SECRET_VALUE.sub(r"\1" + REDACTED, text)


class RedactSecretQueryParameters(logging.Filter):
    """Rewrites a record's message and arguments (uvicorn passes the path as an argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redacted(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redacted(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: redacted(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        return True


def redact_access_log() -> None:
    """Install the filter on uvicorn's loggers (once; called when the app is built, after the
    server configured its logging, so every way of serving the app is covered)."""
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecretQueryParameters) for f in logger.filters):
            logger.addFilter(RedactSecretQueryParameters())
