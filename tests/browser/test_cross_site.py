"""A page on another site tries to write through a visitor's browser, and cannot."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from playwright.sync_api import Page

from questionnaire.models import Assessment
from tests.conftest import off_loop

pytestmark = pytest.mark.browser


@contextlib.contextmanager
def other_site(html: str) -> Iterator[str]:
    """A second origin on this machine (another port), serving one page.

    On loopback like the app: Chromium blocks pages from other address
    spaces from reaching loopback at all, which would prove nothing about
    the API (browsers without that check would let them through).
    """

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(html.encode())

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


def attacker_page(target: str, answers: dict[str, str]) -> str:
    """A text/plain form that posts JSON-looking text, and two no-cors fetches."""
    body = json.dumps({"answers": answers})
    name, _, value = body.partition(":")
    return f"""<!doctype html><html><body>
    <form id="plain" method="post" action="{target}" enctype="text/plain" target="sink">
      <input name='{name}' value='{value.replace("'", "&#39;")}'>
    </form>
    <iframe name="sink"></iframe>
    <script>
      const body = {json.dumps(body)};
      window.done = Promise.allSettled([
        fetch("{target}", {{method: "POST", mode: "no-cors", body}}),
        fetch("{target}", {{method: "POST", mode: "no-cors", body,
                           headers: {{"Content-Type": "text/plain"}}}}),
      ]);
      document.getElementById("plain").submit();
    </script></body></html>"""


def test_other_site_cannot_create_assessment(
    page: Page, live_server_url: str, dashboard_answers, browser_problems
) -> None:
    target = f"{live_server_url}/api/assessments/"
    html = attacker_page(target, dashboard_answers)
    answered = []
    page.on("response", lambda response: answered.append(response.url == target))
    with other_site(html) as attacker:
        page.goto(attacker)
        page.evaluate("window.done")  # both fetches answered
        # The form's answer landed in the frame: reading a frame of another
        # origin throws.
        page.wait_for_function(
            "() => { try { return frames.sink.location.href !== 'about:blank'; }"
            " catch (error) { return true; } }"
        )

    # The requests reached the server (the browser let them out) ...
    assert answered.count(True) == 3
    # (The form's refusal is not even shown in the other site's frame: every
    # response forbids framing. The browser reports that, which is expected.)
    reported = browser_problems.take()
    assert reported and all("frame-ancestors 'none'" in text for text in reported), reported

    # ... and it stored nothing. (The ORM refuses the thread Playwright runs its event loop in.)
    assert off_loop(Assessment.objects.count) == 0


STREAM = "/network-check/events/?count=2&interval_ms=50"


def wire_log(page: Page) -> dict[str, dict]:
    """Per request id: its URL, the headers Chromium put on the wire, the status it got.

    From the DevTools protocol: Playwright reports neither the Origin header
    (added below the page) nor the answer of a request that CORS then fails.
    """
    log: dict[str, dict] = {}
    session = page.context.new_cdp_session(page)
    session.send("Network.enable")

    def entry(event: dict) -> dict:
        return log.setdefault(event["requestId"], {"url": "", "headers": {}, "status": None})

    def sent(event: dict) -> None:
        entry(event)["url"] = event["request"]["url"]

    def sent_extra(event: dict) -> None:
        entry(event)["headers"] = {k.lower(): v for k, v in event["headers"].items()}

    def answered_extra(event: dict) -> None:
        entry(event)["status"] = event["statusCode"]

    def ws_created(event: dict) -> None:
        entry(event)["url"] = event["url"]

    def ws_handshake(event: dict) -> None:
        entry(event)["headers"] = {k.lower(): v for k, v in event["request"]["headers"].items()}

    def ws_answered(event: dict) -> None:
        entry(event)["status"] = event["response"]["status"]

    session.on("Network.webSocketCreated", ws_created)
    session.on("Network.webSocketWillSendHandshakeRequest", ws_handshake)
    session.on("Network.webSocketHandshakeResponseReceived", ws_answered)
    session.on("Network.requestWillBeSent", sent)
    session.on("Network.requestWillBeSentExtraInfo", sent_extra)
    session.on("Network.responseReceivedExtraInfo", answered_extra)
    return log


def stream_requests(log: dict[str, dict], path: str) -> list[tuple[str | None, int | None]]:
    """(Origin header, status) of each request for `path`."""
    return [
        (entry["headers"].get("origin"), entry["status"])
        for entry in log.values()
        if path in entry["url"]
    ]


def test_same_origin_event_source_sends_no_origin_and_streams(
    page: Page, live_server_url: str
) -> None:
    # Why the streams take a request without Origin: this site's own
    # EventSource sends none (a same-origin GET), in Chromium as per Fetch.
    log = wire_log(page)
    page.goto(f"{live_server_url}/network-check/")
    outcome = page.evaluate(
        """url => new Promise(resolve => {
            const source = new EventSource(url);
            source.addEventListener("done", () => { source.close(); resolve("done"); });
            source.onerror = () => { source.close(); resolve("error"); };
        })""",
        STREAM,
    )

    assert outcome == "done"
    page.wait_for_timeout(200)  # the DevTools events trail the page's
    assert stream_requests(log, "/network-check/events/") == [(None, 200)]


def test_other_port_cannot_open_streams_or_websockets(page: Page, live_server_url: str) -> None:
    # Same scheme and host, another port: another site, which the old check
    # (host names only) let in.
    log = wire_log(page)
    ws_url = live_server_url.replace("http://", "ws://")
    html = f"""<!doctype html><html><body><script>
      const opened = url => new Promise(resolve => {{
        const socket = new WebSocket(url);
        socket.onopen = () => {{ socket.close(); resolve("open"); }};
        socket.onclose = () => resolve("refused");
      }});
      const streamed = url => new Promise(resolve => {{
        const source = new EventSource(url);
        source.onmessage = source.onopen = () => {{ source.close(); resolve("open"); }};
        source.onerror = () => {{ source.close(); resolve("refused"); }};
      }});
      window.done = Promise.all([
        opened("{ws_url}/ws/demo/"),
        opened("{ws_url}/network-check/ws/"),
        streamed("{live_server_url}{STREAM}"),
        streamed("{live_server_url}/demo/events/"),
      ]);
    </script></body></html>"""
    with other_site(html) as attacker:
        page.goto(attacker)
        outcomes = page.evaluate("window.done")
        page.wait_for_timeout(200)

    # (CORS would hide a stream's answer from the page anyway: the server's
    # 403 is what spares it the work, and the WebSockets have no CORS at all.)
    assert outcomes == ["refused"] * 4
    # Chromium sent the page's origin on the cross-origin EventSource, and got 403.
    origin = attacker.removesuffix("/")
    for path in ("/network-check/events/", "/demo/events/"):
        assert stream_requests(log, path) == [(origin, 403)], path
    # A refused handshake's status is not reported; the page saw it refused.
    for path in ("/ws/demo/", "/network-check/ws/"):
        assert [sent for sent, _ in stream_requests(log, path)] == [origin], path
