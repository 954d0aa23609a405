"""Request threads: which one is kept by the ASGI handler (serving/handlers.py),
and how one gives its database connections back before a long wait.

Apart from the handler, so that the database backend and the views can ask
without importing Django's request handlers.
"""

from __future__ import annotations

import threading

from django.db import connections

_this_thread = threading.local()


def on_kept_thread() -> bool:
    """Whether this thread is one of the request threads kept from request to request."""
    return getattr(_this_thread, "kept", False)


def mark_kept() -> None:
    """Run first on each kept request thread (its executor's initializer)."""
    _this_thread.kept = True


def give_back_connections() -> None:
    """This thread's database connections back, as at a request's end, before a long wait.

    An async view that has done its reads and then waits (a PDF render: up
    to seconds in a queue) would otherwise hold its PostgreSQL connection
    out of psycopg's pool for the whole wait, until the request ends: ten
    such downloads would hold the whole pool, and every other request would
    queue for a connection. Django's own check at a request's end
    (``close_if_unusable_or_obsolete``) does it: a pooled connection goes
    back to the pool, a kept request thread keeps its SQLite one (the
    backend's rule). Never inside a transaction (a test's, or an atomic
    block the caller still holds): closing there would end it.
    """
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()
