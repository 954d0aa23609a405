"""What deploy/nginx.conf promises, seen from a client of the running proxy."""

from __future__ import annotations

import json
import re
import socket
import subprocess
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


PROBE = "/network-check/events/?count=10&interval_ms=200"


def curl_timings(ready, path: str, protocol: str) -> tuple[float, float, str]:
    """Seconds to the first byte and to the end of `path` through nginx, and the body."""
    result = subprocess.run(
        ["curl", "--silent", "--insecure", "--no-buffer", protocol, "--max-time", "20",
         "--write-out", "\n%{http_version} %{time_starttransfer} %{time_total}",
         f"{ready.url}{path}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    body, _, timings = result.stdout.rpartition("\n")
    version, first, total = timings.split()
    assert version == {"--http2": "2", "--http1.1": "1.1"}[protocol]
    return float(first), float(total), body


@pytest.mark.parametrize("protocol", ["--http2", "--http1.1"])
def test_probe_streams_direct_but_held_back_through_buffering_proxy(ready, protocol) -> None:
    # Browsers speak HTTP/2 to the proxy: the buffering must hold there too,
    # not only for an HTTP/1.1 client.
    first, total, body = curl_timings(ready, PROBE, protocol)
    assert total > 1.5 and first < 0.5, "direct, the first event comes at once"
    assert '"via"' not in body
    first, total, body = curl_timings(ready, f"/via-buffering-proxy{PROBE}", protocol)
    assert first > 1.5, "through the buffering proxy, nothing arrives before the end"
    assert total - first < 0.2
    assert body.count("event: probe") == 10
    assert '"via":"buffering-proxy"' in body


def test_only_the_probe_is_served_under_the_buffering_prefix(client) -> None:
    for path in ("/via-buffering-proxy/readyz", "/via-buffering-proxy/demo/events/",
                 "/via-buffering-proxy/", "/via-buffering-proxy/healthz"):  # fmt: skip
        assert client.get(path).status_code == 404, path
    assert client.get("/readyz").status_code == 200


def test_app_process_logs_are_one_json_object_per_line(ready, client) -> None:
    # daphne's own plain-text access lines ("127.0.0.1:33104 - - [...]") were
    # mixed in; the app's access line, with the request id, is the one kept.
    request_id = "logcheck-" + str(time.monotonic_ns())
    for path in ("/healthz", "/demo/", "/no-such-page/"):
        client.get(path, headers={"X-Request-ID": request_id})
    time.sleep(0.5)
    lines = [
        line
        for index in ready.app_indexes
        for line in (ready.log_dir / f"app_{index}.log").read_text().splitlines()
        if line.strip()
    ]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON object: {line[:200]!r}")
    ours = [r for r in records if r.get("request_id") == request_id]
    assert {r["path"] for r in ours if r["logger"] == "advisor.access"} == {
        "/healthz",
        "/demo/",
        "/no-such-page/",
    }


def test_supervisor_starts_without_critical_warnings(ready) -> None:
    # "running as root" and "running without any HTTP authentication
    # checking" at every start: the control socket has a password now, and
    # the user is said outright. supervisorctl still works with it.
    log = (ready.log_dir / "supervisord.log").read_text()
    assert " CRIT " not in log, log
    assert ready.app_pid(0) > 0
