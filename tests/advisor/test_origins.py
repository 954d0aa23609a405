"""One host and origin policy on every route (advisor.origins).

An Origin is this site's only if scheme, host and port all match the request's
own, or a CSRF_TRUSTED_ORIGINS entry; the Host must pass ALLOWED_HOSTS on the
streams, static files and WebSockets too, not only in Django's views.
"""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
from channels.testing import ApplicationCommunicator, HttpCommunicator, WebsocketCommunicator
from django.test import RequestFactory
from websockets.exceptions import InvalidStatus

from advisor.asgi import application
from advisor.http import foreign_origin as request_foreign_origin
from advisor.origins import allowed_host, foreign_origin, origin_key, request_scheme
from tests.live_demo.test_websocket_server import open_socket
from tests.serving.real_servers import RawClient, running

TIMEOUT = 5.0
PORT = 8000
HOST = f"127.0.0.1:{PORT}"
OWN = f"http://{HOST}"
TRUSTED = "https://advisor.example"

DEMO_WS = "/ws/demo/"
PROBE_WS = "/network-check/ws/"
DEMO_EVENTS = "/demo/events/"
PROBE_EVENTS = "/network-check/events/"
STATIC = "/static/js/app.js"

# Another site in each way an origin can differ from http://127.0.0.1:8000.
FOREIGN = [
    "http://127.0.0.1:1234",  # another port
    f"https://127.0.0.1:{PORT}",  # another scheme
    f"ftp://127.0.0.1:{PORT}",
    "http://evil.example",
    "null",  # a sandboxed frame, a file:// page
    "garbage",
    "http://[::1",
    f"{OWN}/",  # not an origin: a URL
    f"http://user@{HOST}",
    f"{OWN}\t",
]


def scope(type_: str = "http", host: str | None = HOST, origin: str | None = None, **extra):
    headers = []
    if host is not None:
        headers.append((b"host", host.encode("latin-1")))
    if origin is not None:
        headers.append((b"origin", origin.encode("latin-1")))
    return {"type": type_, "headers": headers, **extra}


async def ws_handshake(path: str, *, host: str | None = HOST, origin: str | None = OWN) -> bool:
    headers = []
    if host is not None:
        headers.append((b"host", host.encode()))
    if origin is not None:
        headers.append((b"origin", origin.encode("latin-1")))
    client = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await client.connect(timeout=TIMEOUT)
    await client.disconnect(timeout=TIMEOUT)
    return connected


async def http_status(
    path: str, *, host: str | None = HOST, origin: str | None = None, method: str = "GET"
) -> tuple[int, dict[bytes, bytes]]:
    """The status and headers the application starts its answer with (the body not awaited)."""
    headers = [(b"accept", b"text/event-stream")]
    if host is not None:
        headers.append((b"host", host.encode()))
    if origin is not None:
        headers.append((b"origin", origin.encode("latin-1")))
    path, _, query = path.partition("?")
    client = ApplicationCommunicator(
        application,
        {
            "type": "http",
            "http_version": "1.1",
            "method": method,
            "path": path,
            "query_string": query.encode(),
            "headers": headers,
        },
    )
    await client.send_input({"type": "http.request", "body": b""})
    start = await client.receive_output(timeout=TIMEOUT)
    assert start["type"] == "http.response.start"
    await client.send_input({"type": "http.disconnect"})
    await client.wait(timeout=TIMEOUT)
    return start["status"], dict(start.get("headers", []))


# The comparison --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "key"),
    [
        ("http://127.0.0.1", ("http", "127.0.0.1", 80)),
        ("http://127.0.0.1:80", ("http", "127.0.0.1", 80)),
        ("HTTPS://Advisor.Example", ("https", "advisor.example", 443)),
        ("http://[::1]:8000", ("http", "::1", 8000)),
        ("ftp://localhost", ("ftp", "localhost", None)),
        *[(origin, None) for origin in FOREIGN[4:]],
        ("http://127.0.0.1:99999", None),
        ("http://127.0.0.1:x", None),
        ("http://", None),
        ("", None),
    ],
)
def test_origin_key(origin, key):
    assert origin_key(origin) == key


@pytest.mark.parametrize("origin", FOREIGN)
def test_foreign_origins(origin):
    assert foreign_origin(scope(origin=origin)) == origin


@pytest.mark.parametrize(
    ("host", "origin"),
    [(HOST, OWN), ("127.0.0.1", "http://127.0.0.1"), ("127.0.0.1:80", "http://127.0.0.1")],
)
def test_own_origin(host, origin):
    assert foreign_origin(scope(host=host, origin=origin)) is None


def test_no_origin_is_not_foreign():
    assert foreign_origin(scope()) is None


@pytest.mark.parametrize(
    ("scheme", "expected"),
    [("ws", "http"), ("wss", "https"), ("http", "http"), ("https", "https")],
)
def test_scheme_from_scope(scheme, expected):
    assert request_scheme(scope("websocket", scheme=scheme)) == expected
    own = f"{expected}://{HOST}"
    assert foreign_origin(scope("websocket", origin=own, scheme=scheme)) is None


def test_proxy_header_ignored_unless_configured(settings):
    settings.SECURE_PROXY_SSL_HEADER = None
    forwarded = scope(origin=f"https://{HOST}")
    forwarded["headers"].append((b"x-forwarded-proto", b"https"))
    assert foreign_origin(forwarded) == f"https://{HOST}"

    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert request_scheme(forwarded) == "https"
    assert foreign_origin(forwarded) is None


def test_trusted_origin_exact(settings):
    settings.CSRF_TRUSTED_ORIGINS = [TRUSTED, "https://*.example.org"]
    assert foreign_origin(scope(origin=TRUSTED)) is None
    assert foreign_origin(scope(origin=f"{TRUSTED}:443")) is None
    for other in ("http://advisor.example", f"{TRUSTED}:8443", "https://a.example.org"):
        assert foreign_origin(scope(origin=other)) == other


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        (HOST, True),
        ("LOCALHOST", True),
        ("[::1]:8000", True),
        ("evil.example", False),
        ("127.0.0.1:8000,evil.example", False),
        ("127.0.0.1:x", False),
        ("", False),
        (None, False),  # and no server address either
    ],
)
def test_allowed_host(host, allowed):
    assert (allowed_host(scope(host=host)) is not None) is allowed


def test_no_host_header_is_the_server_address():
    assert allowed_host(scope(host=None, server=("127.0.0.1", 8000))) == "127.0.0.1:8000"
    assert allowed_host(scope(host=None, server=("10.9.8.7", 80))) is None


def test_forwarded_host_only_when_django_reads_it(settings):
    forwarded = scope(host="evil.example")
    forwarded["headers"].append((b"x-forwarded-host", b"localhost"))
    assert allowed_host(forwarded) is None
    settings.USE_X_FORWARDED_HOST = True
    assert allowed_host(forwarded) == "localhost"


# The JSON API shares the comparison ----------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "foreign"),
    [
        ("http://testserver", False),
        ("http://testserver:80", False),
        ("http://testserver:8080", True),
        ("https://testserver", True),
        (TRUSTED, False),
        (f"{TRUSTED}/", True),
    ],
)
def test_api_foreign_origin_same_comparison(settings, origin, foreign):
    settings.CSRF_TRUSTED_ORIGINS = [TRUSTED]
    request = RequestFactory().post("/api/", headers={"Origin": origin})
    assert (request_foreign_origin(request) is not None) is foreign


# Every route, in process -------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("path", [DEMO_WS, PROBE_WS])
@pytest.mark.parametrize("origin", FOREIGN)
async def test_websocket_foreign_origin_refused(path, origin):
    assert not await ws_handshake(path, origin=origin)


@pytest.mark.asyncio
@pytest.mark.parametrize("path", [DEMO_WS, PROBE_WS])
async def test_websocket_without_origin_refused(path):
    assert not await ws_handshake(path, origin=None)


@pytest.mark.asyncio
async def test_websocket_own_and_trusted_origin_accepted(settings):
    settings.CSRF_TRUSTED_ORIGINS = [TRUSTED]
    assert await ws_handshake(PROBE_WS, origin=OWN)
    assert await ws_handshake(PROBE_WS, origin=TRUSTED)


@pytest.mark.asyncio
@pytest.mark.parametrize("path", [DEMO_EVENTS, PROBE_EVENTS])
@pytest.mark.parametrize("origin", FOREIGN)
async def test_stream_foreign_origin_403(path, origin):
    status, headers = await http_status(path, origin=origin)
    assert status == 403
    assert headers[b"content-type"].startswith(b"text/plain")


@pytest.mark.asyncio
@pytest.mark.parametrize("origin", [None, OWN, TRUSTED])
async def test_probe_stream_own_trusted_or_no_origin_200(settings, origin):
    settings.CSRF_TRUSTED_ORIGINS = [TRUSTED]
    status, _ = await http_status(PROBE_EVENTS, origin=origin, method="HEAD")
    assert status == 200


@pytest.mark.asyncio
@pytest.mark.parametrize("path", [DEMO_EVENTS, PROBE_EVENTS, STATIC, "/"])
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", None])
async def test_http_bad_host_400(path, host):
    status, headers = await http_status(path, host=host)
    assert status == 400
    assert headers[b"content-type"].startswith(b"text/plain")


@pytest.mark.asyncio
async def test_static_file_good_host_200():
    assert (await http_status(STATIC))[0] == 200


@pytest.mark.asyncio
@pytest.mark.parametrize("path", [DEMO_WS, PROBE_WS])
@pytest.mark.parametrize("host", ["evil.example", None])
async def test_websocket_bad_host_refused(settings, path, host):
    # A trusted Origin, taken from any host: only ALLOWED_HOSTS can refuse it.
    settings.CSRF_TRUSTED_ORIGINS = [TRUSTED]
    assert not await ws_handshake(path, host=host, origin=TRUSTED)
    assert await ws_handshake(path, host=HOST, origin=TRUSTED)


@pytest.mark.asyncio
async def test_bad_host_never_500():
    client = HttpCommunicator(application, "GET", PROBE_EVENTS, headers=[(b"host", b"\xff\x00")])
    assert (await client.get_response(timeout=TIMEOUT))["status"] == 400


# On daphne -------------------------------------------------------------------------------------


@pytest.fixture
def server(settings, daphne_servers) -> str:
    settings.LIVE_DEMO = {**settings.LIVE_DEMO, "REDIS_URL": ""}
    settings.CSRF_TRUSTED_ORIGINS = [TRUSTED]
    return daphne_servers()


def daphne_origins(url: str) -> tuple[str, list[str]]:
    """The server's own origin, and others differing in port, scheme or host."""
    port = httpx.URL(url).port
    return url, [
        "http://127.0.0.1:1234",
        f"https://127.0.0.1:{port}",
        f"ftp://127.0.0.1:{port}",
        "http://evil.example",
        "null",
    ]


async def refused_status(url: str, path: str, origin: str | None) -> int:
    with pytest.raises(InvalidStatus) as refused:
        async with open_socket(url, path, origin=origin):
            pass
    return refused.value.response.status_code


@pytest.mark.asyncio
async def test_on_daphne_origins_and_hosts(server):
    own, foreign = daphne_origins(server)
    async with httpx.AsyncClient(base_url=server, timeout=TIMEOUT) as client:
        for path in (DEMO_WS, "/network-check/ws/"):
            for origin in foreign:
                assert await refused_status(server, path, origin) == 403, (path, origin)
            for origin in (own, TRUSTED):
                async with open_socket(server, path, origin=origin) as websocket:
                    welcome = await asyncio.wait_for(websocket.recv(), TIMEOUT)
                    assert '"welcome"' in welcome
        for path in (DEMO_EVENTS, PROBE_EVENTS):
            for origin in foreign:
                response = await client.get(path, headers={"Origin": origin})
                assert response.status_code == 403, (path, origin)
            for origin in (own, TRUSTED, None):
                headers = {} if origin is None else {"Origin": origin}
                async with client.stream("GET", path, headers=headers) as response:
                    assert response.status_code == 200, (path, origin)
        for path in (DEMO_EVENTS, PROBE_EVENTS, STATIC):
            response = await client.get(path, headers={"Host": "evil.example"})
            assert response.status_code == 400, path
            assert response.text.startswith("Bad Request (400)")
        assert (await client.get(STATIC)).status_code == 200


def raw_handshake_status(url: str, host: str, origin: str) -> bytes:
    """The status line daphne answers a WebSocket handshake naming `host` with."""
    address = httpx.URL(url)
    with socket.create_connection((address.host, address.port), timeout=TIMEOUT) as sock:
        sock.sendall(
            f"GET {DEMO_WS} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            f"Sec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n" not in head:
            data = sock.recv(1024)
            if not data:
                break
            head += data
    return head.split(b"\r\n", 1)[0]


def test_on_daphne_bad_host_websocket_refused(server):
    # A trusted Origin, taken from any host: only ALLOWED_HOSTS can refuse it.
    refused = raw_handshake_status(server, "evil.example", TRUSTED)
    assert refused.startswith(b"HTTP/1.1 403"), refused
    taken = raw_handshake_status(server, httpx.URL(server).netloc.decode(), TRUSTED)
    assert taken.startswith(b"HTTP/1.1 101"), taken


def handshake_head(client: RawClient, origin: str) -> bytes:
    return client.request(
        f"GET {DEMO_WS} HTTP/1.1\r\nHost: {{host}}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Sec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n"
    )


def test_on_daphne_tls_own_https_origin_taken_http_refused():
    # daphne leaves the scheme out of a WebSocket's scope even over TLS: the
    # check must learn it from the connection, or refuse the site's own pages.
    with running("daphne", tls=True) as url:
        port = httpx.URL(url).port
        own, plain = RawClient(url), RawClient(url)
        try:
            assert handshake_head(own, f"https://127.0.0.1:{port}").startswith(b"HTTP/1.1 101")
            refused = handshake_head(plain, f"http://127.0.0.1:{port}")
            assert refused.startswith(b"HTTP/1.1 403"), refused
        finally:
            own.close()
            plain.close()
