"""A page on another site tries to write through a visitor's browser, and cannot."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from playwright.sync_api import Page

from questionnaire.models import Assessment

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
    with ThreadPoolExecutor(1) as thread:
        assert thread.submit(Assessment.objects.count).result() == 0
