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
