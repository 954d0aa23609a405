"""Log lines: one JSON object per line in production, readable text in development.

Every line carries the request id of the request it was written for (or
"-" outside one): `operations.requests` sets it for the request's whole
life, and Python's context variables carry it into the threads of sync
views and the tasks a request starts.

No line holds a secret of a URL: paths are logged without their query
string (a sign-in's `code` and `state`, a `?token=`), and with the path
segments that work as bearer secrets replaced by "…" (`redacted_path`):
a share link's secret, any route argument named `secret` or `token`, and,
when ADVISOR_ANONYMOUS makes an assessment's id all it takes to open it,
every id (UUID) in the path. Django's own warnings ("Not Found: /path",
CSRF refusals) pass the request as `extra`; it is logged as its method and
redacted path. In text lines, control characters are escaped, so that a
path cannot forge a line of its own.

A formatter of our own rather than python-json-logger or structlog: what is
needed is `json.dumps` of a record's fields plus whatever `extra=` gave, a
dozen lines; structlog would also bring its own logging API, which the
project's `logging.getLogger` calls do not use.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# What every LogRecord has; any other attribute came from `extra=` and is logged.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "request_id",
    "taskName",
}


REDACTED = "…"
# Route arguments that are secrets whatever the route.
SECRET_ARGUMENTS = frozenset({"secret", "token"})
# Path segments that are secrets in a path no route matched (a mistyped link).
_SECRET_AFTER = frozenset({"shared"})
_UUID = re.compile(r"[0-9a-fA-F]{8}(-?[0-9a-fA-F]{4}){3}-?[0-9a-fA-F]{12}")


def redacted_path(path: str, arguments: Mapping[str, Any] | None = None) -> str:
    """``path`` with the segments that are secrets replaced by "…" (see the module's docstring).

    ``arguments``: the route's keyword arguments when it is known.
    """
    from django.conf import settings

    secrets = {str(value) for name, value in (arguments or {}).items() if name in SECRET_ARGUMENTS}
    anonymous = getattr(settings, "ADVISOR_ANONYMOUS", False)
    segments = path.split("/")
    for index, segment in enumerate(segments):
        if (
            segment in secrets
            or (index > 0 and segments[index - 1] in _SECRET_AFTER and segment)
            or (anonymous and _UUID.fullmatch(segment))
        ):
            segments[index] = REDACTED
    return "/".join(segments)


def request_line(request: Any) -> str:
    """What a log line says of a Django request: its method and redacted path, no query string."""
    match = getattr(request, "resolver_match", None)
    return f"{request.method} {redacted_path(request.path, match.kwargs if match else None)}"


class SecretPathFilter(logging.Filter):
    """Takes a request's secrets out of the message of a line written with `request=` extra.

    Django's "Not Found: /shared/<secret>/" and CSRF warnings put the path
    in the message itself; the formatters log the request as `request_line`.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        request = record.__dict__.get("request")
        path = getattr(request, "path", None)
        if isinstance(path, str) and path:
            match = getattr(request, "resolver_match", None)
            safe = redacted_path(path, match.kwargs if match else None)
            if safe != path:
                record.msg, record.args = record.getMessage().replace(path, safe), ()
        return True


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
                # Django's request: never its query string, cookies or headers.
                is_request = (
                    key == "request" and hasattr(value, "method") and hasattr(value, "path")
                )
                line[key] = request_line(value) if is_request else value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        # default=str: an extra field that JSON cannot hold is logged as its text.
        return json.dumps(line, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def _escape(character: re.Match) -> str:
    code = ord(character.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class TextFormatter(logging.Formatter):
    """Readable lines, one per record: control characters in the message are escaped
    (a path with %0a in it would otherwise start a forged line); a traceback
    follows on lines of its own."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        record.message = _CONTROL.sub(_escape, record.message)
        return super().formatMessage(record)


def logging_config(log_format: str, level: str, *, access_log: bool = True) -> dict:
    """The LOGGING setting: one console handler, JSON or text lines, the access log at INFO
    (or off)."""
    formatter = (
        {"()": "operations.logs.JsonFormatter"}
        if log_format == "json"
        else {"()": "operations.logs.TextFormatter", "format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "operations.logs.RequestIdFilter"},
            "secret_paths": {"()": "operations.logs.SecretPathFilter"},
        },
        "formatters": {"line": formatter},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "filters": ["request_id", "secret_paths"],
                "formatter": "line",
            }
        },
        "root": {"handlers": ["console"], "level": level},
        # One line per request (operations/requests.py), whatever the root's level.
        "loggers": {"advisor.access": {"level": "INFO" if access_log else "WARNING"}},
    }
