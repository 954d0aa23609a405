"""The policy holds in a real browser, and the suite notices when it bites.

Every browser test fails on a violation (tests/conftest.py, BrowserProblems);
these show that the watch works, that the policy refuses what it should, and
that what the pages need (WebSockets under connect-src 'self') still works.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, Route, expect

pytestmark = pytest.mark.browser

INJECTED = "<script>window.injected = true;</script>"


def inject(html: str):
    """A route handler serving the app's own answer, headers and all, with `html` added."""

    def handle(route: Route) -> None:
        response = route.fetch()
        body = response.text().replace("</main>", html + "</main>", 1)
        route.fulfill(response=response, body=body)

    return handle


def test_injected_inline_script_is_refused_and_reported(page: Page, browser_problems) -> None:
    page.route("**/network-check/", inject(INJECTED))

    response = page.goto("/network-check/")

    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert INJECTED in page.content()  # it reached the page ...
    assert page.evaluate("window.injected") is None  # ... and did not run
    # The collector every browser test has saw it: left there, it fails the test.
    reported = browser_problems.take()
    assert len(reported) == 1
    assert "inline script" in reported[0]
    assert "script-src 'self'" in reported[0]


def test_injected_style_attribute_is_refused_and_reported(page: Page, browser_problems) -> None:
    page.route("**/network-check/", inject('<p id="red" style="color: rgb(255, 0, 0)">x</p>'))

    page.goto("/network-check/")

    expect(page.locator("#red")).not_to_have_css("color", "rgb(255, 0, 0)")
    reported = browser_problems.take()
    assert len(reported) == 1
    assert "inline style" in reported[0]
    assert "style-src 'self'" in reported[0]


def test_pages_cannot_be_framed(page: Page, browser_problems) -> None:
    # A page of the same origin may not frame it either: frame-ancestors 'none'.
    page.route("**/framing/", lambda route: route.fulfill(body='<iframe src="/"></iframe>'))

    with page.expect_console_message(lambda message: "frame-ancestors" in message.text):
        page.goto("/framing/")

    expect(page.frame_locator("iframe").get_by_text("Transport Advisor")).to_have_count(0)
    reported = browser_problems.take()
    assert reported and all("frame-ancestors 'none'" in text for text in reported), reported


def test_demo_websocket_connects_under_connect_src_self(page: Page) -> None:
    # connect-src names no ws: origin: CSP Level 3's 'self' covers the same
    # host over ws:, which the browser must honour or report a violation.
    with page.expect_websocket(lambda socket: socket.url.endswith("/ws/demo/")):
        response = page.goto("/demo/")

    assert "connect-src 'self';" in response.headers["content-security-policy"] + ";"
    assert "ws:" not in response.headers["content-security-policy"]
    expect(page.locator("[data-panel=websocket] [data-field=state]")).to_have_text("open")


def test_admin_login_runs_under_the_policy(page: Page) -> None:
    response = page.goto("/admin/login/")

    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    # Any violation of Django's admin pages fails this test at teardown.


def test_leaning_bars_are_sized_without_inline_style(page: Page) -> None:
    # The chat preset leans WebSocket: its bar is the wider, by a class alone.
    page.goto("/assessments/new/?preset=chat")

    websocket = page.locator(".leaning-bars .bar-websocket").bounding_box()
    sse = page.locator(".leaning-bars .bar-sse").bounding_box()
    assert websocket["width"] > 2 * sse["width"]
    assert page.locator(".leaning-bars [style]").count() == 0
