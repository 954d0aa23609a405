"""What deploy/nginx.conf promises, seen from a client of the running proxy."""

from __future__ import annotations

import re
import socket
import ssl
import time

import httpx
import pytest

from tests.topology.feed_clients import insecure_tls


@pytest.fixture
def client(ready):
    with httpx.Client(base_url=ready.url, verify=False, timeout=10) as client:
        yield client


def test_tls_offers_http2(ready) -> None:
    context = insecure_tls()
    context.set_alpn_protocols(["h2", "http/1.1"])
    with (
        socket.create_connection(("127.0.0.1", ready.options.https_port), 5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.selected_alpn_protocol() == "h2"
        assert tls.version() in {"TLSv1.2", "TLSv1.3"}


def test_static_files_hashed_names_cached_for_a_year_and_compressed(client) -> None:
    page = client.get("/demo/")
    assert page.status_code == 200
    stylesheet = re.search(r'href="(/static/css/app\.[0-9a-f]{12}\.css)"', page.text)
    assert stylesheet, "the page links the stylesheet by its hashed name"
    response = client.get(stylesheet.group(1), headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["x-content-type-options"] == "nosniff"
    unhashed = client.get("/static/css/app.css")
    assert unhashed.headers["cache-control"] == "public, max-age=3600"


def test_request_id_set_by_proxy_or_passed_on_when_well_formed(client) -> None:
    made = client.get("/demo/").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    kept = client.get("/demo/", headers={"X-Request-ID": "lb-2f6c1a9e"})
    assert kept.headers["x-request-id"] == "lb-2f6c1a9e"
    replaced = client.get("/demo/", headers={"X-Request-ID": "x y<script>"})
    assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["x-request-id"])


def test_body_over_limit_refused_by_proxy(client) -> None:
    response = client.post("/api/assessments/", content=b"x" * (3 * 1024 * 1024))
    assert response.status_code == 413


def first_bytes_after(ready, path: str, wait: float) -> bytes:
    """What a stream at `path` delivers in its first `wait` seconds (HTTP/1.1 through nginx)."""
    with (
        socket.create_connection(("127.0.0.1", ready.options.https_port), 5) as raw,
        insecure_tls().wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{ready.options.https_port}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        tls.settimeout(0.2)
        received = b""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                received += tls.recv(65536)
            except (TimeoutError, ssl.SSLError):
                continue
        return received


def test_streams_unbuffered_but_held_back_through_buffering_location(ready) -> None:
    direct = first_bytes_after(ready, "/demo/events/", 2)
    assert b" 200 " in direct.split(b"\r\n")[0]
    assert b"event: welcome" in direct
    # The demonstration location buffers as a corporate proxy would: the
    # stream's events stay in nginx's buffers, so not even the welcome arrives.
    held = first_bytes_after(ready, "/via-buffering-proxy/demo/events/", 2)
    assert b"event: welcome" not in held
