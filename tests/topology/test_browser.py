"""The demo in Chromium through the proxy: HTTP/2, and so all seven extra streams open."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, BrowserProblems

pytestmark = pytest.mark.browser


@pytest.fixture
def page(ready, request) -> Iterator[Page]:
    problems = BrowserProblems()
    with sync_playwright() as playwright:
        # The test topology's certificate is self-signed.
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--ignore-certificate-errors"]
        )
        context = browser.new_context(base_url=ready.url, ignore_https_errors=True)
        context.set_default_timeout(15_000)
        problems.watch(context)
        yield context.new_page()
        browser.close()
    assert problems.take() == []


def test_demo_served_over_h2_opens_all_seven_streams(page: Page) -> None:
    page.goto("/demo/")
    protocol = page.evaluate("performance.getEntriesByType('navigation')[0].nextHopProtocol")
    assert protocol == "h2"
    for transport in ("websocket", "sse"):
        expect(page.locator(f"[data-panel={transport}] [data-field=state]")).to_have_text("open")

    page.get_by_role("button", name="Open 7 streams").click()

    streams = page.locator("[data-streams] li")
    expect(streams).to_have_count(7)
    # Over HTTP/1.1 two of them stall (the browser's six connections per
    # origin); over HTTP/2 they share one connection and all open.
    expect(streams.and_(page.locator("[data-state=open]"))).to_have_count(7)
    expect(page.locator("[data-state=stalled]")).to_have_count(0)


def test_network_check_runs_through_proxy_and_sees_h2(page: Page) -> None:
    page.goto("/network-check/")
    panel = page.locator("[data-network-check]")
    expect(panel).to_have_attribute("data-ready", "true")
    panel.get_by_role("button", name="Run the check").click()
    expect(panel).to_have_attribute("data-state", "done", timeout=30_000)
    # Over HTTP/1.1 the step says http/1.1 (tests/browser/test_network_check.py).
    expect(panel.locator("[data-step=http]")).to_contain_text("h2")
    expect(panel.locator("[data-step=sse]")).to_contain_text("10 of 10 events")


def test_network_check_through_buffering_proxy_over_h2_finds_buffering(page: Page) -> None:
    # The browser speaks HTTP/2 to the proxy; the buffering location must
    # hold the events back all the same, and the finding says it was real.
    page.goto("/network-check/")
    panel = page.locator("[data-network-check]")
    expect(panel).to_have_attribute("data-ready", "true")
    panel.get_by_role("button", name="Measure through a buffering proxy").click()
    expect(page.locator("[data-network-check][data-state=done]")).to_be_visible(timeout=30_000)
    expect(panel.locator("[data-step=http]")).to_contain_text("h2")
    finding = page.locator("[data-finding=sse_delivery]")
    expect(finding).to_contain_text("Buffered")
    expect(finding).to_contain_text("(measured through a real buffering proxy)")


def test_questionnaire_through_proxy_secure_cookies_and_csrf(page: Page) -> None:
    # Production settings behind TLS: Secure cookies and the CSRF check pass
    # only if the app sees https (X-Forwarded-Proto) and the browser's Host.
    page.goto("/")
    page.get_by_role("link", name="Real-time messaging and chat").click()
    page.get_by_role("button", name="Overhead").click()
    page.get_by_role("button", name="See the recommendation").click()
    expect(page.get_by_role("heading", name="Recommendation: WebSocket")).to_be_visible()
    assert page.url.startswith("https://127.0.0.1:")
