"""The network check measured through a buffering proxy, with the browser as the user sees it.

No nginx here: Playwright stands in for the proxy's buffering location. It
takes the page's requests under the prefix, fetches the probe from the app
whole (buffering it, as proxy_buffering does) with the proxy's mark, and
hands the browser the lot at once. The app trusts the mark because the test
process, like the proxy, is a trusted peer. (make serve's browser test runs
the same story through the real nginx.)
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, Route, expect

pytestmark = pytest.mark.browser

CHECK_TIMEOUT = 30_000
PREFIX = "/via-buffering-proxy"


@pytest.fixture
def behind_proxy(settings) -> None:
    # Before the live server starts (page's fixtures): it inherits them.
    settings.ADVISOR_BUFFERING_PROBE_PREFIX = PREFIX
    settings.TRUSTED_PROXIES = ["127.0.0.1"]


def buffering_proxy(mark: bool):
    def handle(route: Route) -> None:
        url = route.request.url.replace(PREFIX, "", 1)
        headers = {**route.request.headers}
        if mark:
            headers["X-Advisor-Via"] = "buffering-proxy"
        route.fulfill(response=route.fetch(url=url, headers=headers))

    return handle


def test_network_check_through_buffering_proxy_stored_as_real(behind_proxy, page: Page) -> None:
    page.route(f"**{PREFIX}/**", buffering_proxy(mark=True))
    page.goto("/network-check/")
    panel = page.locator("[data-network-check]")
    expect(panel).to_have_attribute("data-ready", "true")
    panel.get_by_role("button", name="Measure through a buffering proxy").click()
    expect(panel).to_have_attribute("data-state", "done", timeout=CHECK_TIMEOUT)

    expect(panel.get_by_role("status")).to_contain_text(
        "Check through the buffering proxy complete"
    )
    expect(panel.locator("[data-nc=via-proxy]")).to_contain_text(
        "Measured through a real buffering proxy"
    )
    delivery = panel.locator("[data-finding=sse_delivery]")
    expect(delivery).to_contain_text("Buffered")
    expect(delivery).to_contain_text("(measured through a real buffering proxy)")
    expect(panel.locator("[data-nc=simulated]")).to_have_count(0)
    expect(panel.locator("[data-suggestion=stream_buffering]")).to_have_attribute(
        "data-value", "buffered"
    )


def test_network_check_proxy_run_without_the_mark_stores_nothing(behind_proxy, page: Page) -> None:
    page.route(f"**{PREFIX}/**", buffering_proxy(mark=False))
    page.goto("/network-check/")
    panel = page.locator("[data-network-check]")
    expect(panel).to_have_attribute("data-ready", "true")
    panel.get_by_role("button", name="Measure through a buffering proxy").click()
    expect(panel).to_have_attribute("data-state", "failed", timeout=CHECK_TIMEOUT)
    expect(panel.locator("[data-nc=error]")).to_contain_text(
        "The probe did not come through the buffering proxy"
    )
    expect(panel.locator("[data-nc=error]")).to_contain_text("Nothing was stored")
