"""Which thread is a request thread kept by the ASGI handler (serving/handlers.py).

Apart from the handler, so that the database backend can ask without
importing Django's request handlers.
"""

from __future__ import annotations

import threading

_this_thread = threading.local()


def on_kept_thread() -> bool:
    """Whether this thread is one of the request threads kept from request to request."""
    return getattr(_this_thread, "kept", False)


def mark_kept() -> None:
    """Run first on each kept request thread (its executor's initializer)."""
    _this_thread.kept = True
