"""The cap on open demo connections per client: SSE streams and WebSockets together.

One count for both transports, so a client cannot take the cap twice over;
per process (advisor/clients.py). Counted when a connection opens and
released when it closes, never per event: the fan-out pays nothing for it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from advisor.clients import OpenConnections, Slot, client_key

connections = OpenConnections("live demo")

# A cap frees up only when one of the client's own connections closes: a
# few seconds is a fair guess, and EventSource does not retry a 429 anyway.
RETRY_AFTER = b"5"


def limit() -> int:
    return settings.LIVE_DEMO.get("MAX_CONNECTIONS_PER_CLIENT", 0)


def acquire(scope: dict[str, Any]) -> Slot | None:
    """A place for this connection, or None when its client holds the cap already."""
    return connections.acquire(client_key(scope), limit())


def refusal() -> bytes:
    return (
        f"Too many open demo connections from your address (at most {limit()}); "
        "close some and try again.\n"
    ).encode()
