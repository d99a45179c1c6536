"""Request ids and log lines: every line logged while a request is handled names its id.

`X-Request-ID` is honoured when it is a sane token (letters, digits, `._:-`, at most 128), else
one is generated; it is returned on every response and in every error body. `configure` sets up
the process's log lines as text or as one JSON object per line (`RIPPLE_LOG_FORMAT=json`).
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

import orjson

REQUEST_ID: ContextVar[str] = ContextVar("ripple_request_id", default="-")
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def request_id(given: str | None) -> str:
    """The caller's id when it is sane, else a fresh one."""
    if given is not None and _SANE.match(given):
        return given
    return uuid.uuid4().hex


class _WithRequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, and the access-log
    fields when the record carries them."""

    FIELDS = ("method", "path", "status", "duration_ms", "client", "actor", "bytes")

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "requestId": getattr(record, "request_id", "-"),
        }
        for name in self.FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


TEXT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def configure(log_format: str = "text", level: int = logging.INFO) -> None:
    """Ripple's and uvicorn's log lines on stderr, as text or JSON, each with its request id."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_WithRequestId())
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT))
    for name in ("ripple", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
