"""A request or a WebSocket through the whole ASGI application (advisor/asgi.py), as served."""

from __future__ import annotations

import json
from dataclasses import dataclass

from asgiref.testing import ApplicationCommunicator
from channels.testing import WebsocketCommunicator

from advisor.asgi import application


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


def http_scope(
    path: str,
    *,
    method: str = "GET",
    host: str = "127.0.0.1",
    client: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
    query: str = "",
) -> dict:
    """The scope a server gives the application for one request."""
    sent = [(b"host", host.encode())]
    sent += [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    return {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": sent,
        "client": (client, 50000),
        "server": ("127.0.0.1", 8000),
    }


def communicator(path: str, **options) -> ApplicationCommunicator:
    """The whole application, about to be sent one request (the caller sends its body)."""
    return ApplicationCommunicator(application, http_scope(path, **options))


async def request(path: str, **options) -> Answer:
    """The status, headers and body of one request (an open stream: its first chunk)."""
    app = communicator(path, **options)
    await app.send_input({"type": "http.request", "body": b""})
    start = await app.receive_output(5)
    body = b""
    while True:
        message = await app.receive_output(5)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
        # A stream: its first chunk is enough.
        break
    await app.send_input({"type": "http.disconnect"})
    await app.wait(5)
    names = {name.decode().lower(): value.decode() for name, value in start["headers"]}
    return Answer(start["status"], names, body)


# What a WebSocket that was accepted and answers a ping with a pong is told.
OPEN = 101


async def websocket(
    path: str, *, host: str = "127.0.0.1", headers: dict[str, str] | None = None
) -> int:
    """What a WebSocket from this site's own page gets: a status, or a close code.

    403 when the handshake is refused (as a server answers a close before the
    accept); else the socket is sent a ping: ``OPEN`` (101) when it answers
    with a pong, the close code when it closes instead (4004: no such run).
    """
    sent = [(b"host", host.encode()), (b"origin", f"http://{host}".encode())]
    sent += [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    client = WebsocketCommunicator(application, path, headers=sent)
    try:
        connected, _ = await client.connect(timeout=5)
        if not connected:
            return 403
        await client.send_json_to({"type": "ping", "n": 1, "t": 1})
        while True:
            output = await client.receive_output(timeout=5)
            if output["type"] == "websocket.close":
                return output.get("code", 1000)
            text = output.get("text")
            if text and json.loads(text).get("type") == "pong":
                return OPEN
    finally:
        # A refused handshake too: the application ends at the disconnect.
        await client.disconnect()
