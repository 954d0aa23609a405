from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from questionnaire.catalogue import get_catalogue
from questionnaire.models import Assessment

pytestmark = pytest.mark.browser


def test_user_gives_traffic_numbers_and_sees_a_capacity_plan(page: Page) -> None:
    page.goto("/")
    page.get_by_role("link", name="Real-time messaging and chat").click()
    page.get_by_role("button", name="Overhead").click()

    # A bad number: an inline error at the field, and nothing saved.
    page.get_by_label("Peak connected clients").fill("-100")
    page.get_by_role("button", name="See the recommendation").click()
    expect(page.locator("#err-traffic_peak_clients")).to_contain_text("must be from 1")
    expect(page).to_have_url(re.compile(r"/assessments/new/"))

    page.get_by_label("Peak connected clients").fill("100,000")
    page.get_by_label("Events per second to each client").fill("10")
    page.get_by_label("Payload size in bytes").fill("2048")
    # A decimal comma is refused, not read as 5.
    page.get_by_label("Messages per second each client sends up").fill("0,5")
    page.get_by_role("button", name="See the recommendation").click()
    expect(page.locator("#err-traffic_messages_per_second_up")).to_contain_text(
        "use a point for decimals"
    )
    page.get_by_label("Messages per second each client sends up").fill("0.5")
    page.get_by_label("Fan-out", exact=True).select_option("per_user")
    page.get_by_role("button", name="See the recommendation").click()

    expect(page).to_have_url(re.compile(r"/assessments/[0-9a-f-]{36}/$"))
    plan = page.locator("#capacity")
    expect(plan.get_by_role("heading", name="Capacity plan")).to_be_visible()
    expect(plan).to_contain_text("0.5 messages a second up from each")
    expect(plan.locator(".capacity-plan th[scope=col]")).to_have_text(
        ["For the peak", "WebSocket", "SSE"]
    )
    expect(plan.get_by_role("img", name=re.compile("Machines needed"))).to_be_visible()
    expect(plan.locator(".capacity-curve tbody tr")).to_have_count(9)
    expect(plan.locator(".capacity-curve tbody tr").last).to_contain_text("10,000,000")


def test_capacity_plan_fits_a_phone_screen(chat_with_traffic: str, page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(chat_with_traffic)
    expect(page.locator("#capacity .capacity-chart")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") == 0


@pytest.fixture
def chat_with_traffic(live_server_url) -> str:
    answers = dict(get_catalogue().preset("chat").answers)
    traffic = {"peak_clients": 2_000_000, "events_per_second": 2.0, "payload_bytes": 300}
    assessment, _ = Assessment.create_scored("Chat", answers, traffic=traffic)
    return assessment.get_absolute_url()
