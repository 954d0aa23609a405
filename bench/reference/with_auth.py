"""Our app with Channels' AuthMiddlewareStack around its WebSocket routes, as it once was.

Only for bench_handshake.py: the cost of the session and user lookup that
the stack adds to every handshake, for consumers that read neither.
"""

from __future__ import annotations

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter

from advisor import asgi

application = ProtocolTypeRouter(
    {
        "http": asgi.application.application_mapping["http"],
        "websocket": AuthMiddlewareStack(asgi.application.application_mapping["websocket"]),
    }
)
