"""Log lines: one JSON object per line in production, readable text in development.

Every line carries the request id of the request it was written for (or
"-" outside one): `operations.requests` sets it for the request's whole
life, and Python's context variables carry it into the threads of sync
views and the tasks a request starts.

A formatter of our own rather than python-json-logger or structlog: what is
needed is `json.dumps` of a record's fields plus whatever `extra=` gave, a
dozen lines; structlog would also bring its own logging API, which the
project's `logging.getLogger` calls do not use.
"""

from __future__ import annotations

import contextvars
import json
import logging
from datetime import UTC, datetime

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# What every LogRecord has; any other attribute came from `extra=` and is logged.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "request_id",
    "taskName",
}


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (a filter on the handler, so every logger's lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, and any extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id.get()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        # default=str: an extra field that JSON cannot hold is logged as its text.
        return json.dumps(line, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def logging_config(log_format: str, level: str, *, access_log: bool = True) -> dict:
    """The LOGGING setting: one console handler, JSON or text lines, the access log at INFO
    (or off)."""
    formatter = (
        {"()": "operations.logs.JsonFormatter"}
        if log_format == "json"
        else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "operations.logs.RequestIdFilter"}},
        "formatters": {"line": formatter},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "filters": ["request_id"],
                "formatter": "line",
            }
        },
        "root": {"handlers": ["console"], "level": level},
        # One line per request (operations/requests.py), whatever the root's level.
        "loggers": {"advisor.access": {"level": "INFO" if access_log else "WARNING"}},
    }
