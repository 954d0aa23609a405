"""Which database errors are an outage (503) and which are a fault (the normal 500).

A request that cannot get a connection is answered 503 with Retry-After,
in one of two words:

- *down*: the database cannot be reached (connecting fails, the connection
  drops, the server shuts down or is starting);
- *busy*: every connection of this process's pool is in use and none came
  free in DATABASE_POOL_TIMEOUT, while the database itself answers. That is
  load, not an outage: the message says so, and /readyz stays ready, or a
  load balancer would take every process out at once under load.

Everything else (a missing table, a locked SQLite file, a deadlock, a
serialization failure, a statement timeout) is a fault in the application
or its data: a 500, logged with its traceback, never dressed up as an
outage.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Literal

from django.db import InterfaceError, OperationalError

try:
    import psycopg
    from psycopg_pool import PoolTimeout
except ImportError:  # SQLite only: neither is installed.
    psycopg = None
    PoolTimeout = None

Outage = Literal["down", "busy"]

DOWN_MESSAGE = "The database is unreachable; try again in a moment."
BUSY_MESSAGE = "The server is busy; try again in a moment."
MESSAGES = {"down": DOWN_MESSAGE, "busy": BUSY_MESSAGE}
RETRY_AFTER = {"down": "5", "busy": "2"}

# SQLSTATE class 08 is "connection exception"; these three of class 57 say
# the server is going away or not there yet.
SERVER_GONE = frozenset({"57P01", "57P02", "57P03"})


def outage(error: BaseException) -> Outage | None:
    """ "down", "busy", or None when ``error`` is not an outage (the normal 500)."""
    if not isinstance(error, OperationalError | InterfaceError):
        return None
    cause = error.__cause__
    if PoolTimeout is not None and isinstance(cause, PoolTimeout):
        # The pool cannot tell a busy database from a dead one: its own
        # connection, outside the pool, can (operations/health.py).
        from .health import database_reachable

        return "busy" if database_reachable() else "down"
    if psycopg is not None and isinstance(cause, psycopg.Error):
        state = cause.sqlstate
        if state is None:
            # psycopg gives no SQLSTATE when connecting fails or the
            # connection is lost or closed.
            return (
                "down"
                if isinstance(cause, psycopg.OperationalError | psycopg.InterfaceError)
                else None
            )
        return "down" if state.startswith("08") or state in SERVER_GONE else None
    if isinstance(cause, sqlite3.Error):
        # The file cannot be opened: SQLite's one way of being unreachable.
        return (
            "down" if getattr(cause, "sqlite_errorcode", None) == sqlite3.SQLITE_CANTOPEN else None
        )
    return None


def json_body(kind: Outage) -> bytes:
    """The API's error shape (advisor/http.py), for a layer without a Django response."""
    return json.dumps({"errors": {"database": MESSAGES[kind]}}).encode()
