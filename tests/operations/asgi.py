"""One HTTP request through the whole ASGI application (advisor/asgi.py), as a server sends it."""

from __future__ import annotations

from dataclasses import dataclass

from asgiref.testing import ApplicationCommunicator

from advisor.asgi import application


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        import json

        return json.loads(self.body)


async def request(
    path: str,
    *,
    method: str = "GET",
    host: str = "127.0.0.1",
    client: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
    query: str = "",
) -> Answer:
    """The status, headers and body of one request (an open stream: its first chunk)."""
    sent = [(b"host", host.encode())]
    sent += [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    scope = {
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
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(5)
    body = b""
    while True:
        message = await communicator.receive_output(5)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
        # A stream: its first chunk is enough.
        break
    await communicator.send_input({"type": "http.disconnect"})
    await communicator.wait(5)
    names = {name.decode().lower(): value.decode() for name, value in start["headers"]}
    return Answer(start["status"], names, body)
