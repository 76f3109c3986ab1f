"""Structured logs: one JSON object per line (``ts``, ``level``, ``logger``, ``msg`` and
the request's fields), the format log collectors behind a load balancer parse."""

from __future__ import annotations

import json
import logging
import sys
import time

FIELDS = ("request_id", "method", "path", "route", "status", "ms")


class JsonFormatter(logging.Formatter):
    """A record as one JSON line; an exception's traceback goes in ``exc`` (one string)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(json_lines: bool = True, level: int = logging.INFO) -> None:
    """Route inkface's and uvicorn's loggers to standard error, as JSON or plain text."""
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("inkface.service", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
