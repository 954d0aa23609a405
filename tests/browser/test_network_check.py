from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.browser

# The check takes four or five seconds, longer on a busy machine.
CHECK_TIMEOUT = 30_000
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def run_check(page: Page, state: str = "done") -> Locator:
    panel = page.locator("[data-network-check]")
    expect(panel).to_have_attribute("data-ready", "true")
    panel.get_by_role("button", name="Run the check").click()
    expect(panel).to_have_attribute("data-state", state, timeout=CHECK_TIMEOUT)
    return panel


def finding(panel: Locator, key: str) -> Locator:
    return panel.locator(f"[data-finding={key}]")


def suggestion(panel: Locator, question: str) -> Locator:
    return panel.locator(f"[data-suggestion={question}]")


def test_network_check_normal_run_suggests_open_path(page: Page) -> None:
    page.goto("/network-check/")
    expect(page.locator("[data-nc=simulation]")).to_be_hidden()
    panel = run_check(page)

    # Each probe's line says what it measured.
    steps = panel.locator("[data-nc=steps]")
    expect(steps.locator("[data-step=websocket]")).to_contain_text(
        re.compile(r"upgrade succeeded; 10 round trips, [\d.]+ ms median / [\d.]+ ms p95")
    )
    expect(steps.locator("[data-step=sse]")).to_contain_text("10 of 10 events")
    expect(steps.locator("[data-step=http]")).to_contain_text("http/1.1")
    expect(steps.locator("[data-step=streams]")).to_contain_text("of 8 delivered an event")
    expect(panel.get_by_role("status")).to_contain_text("Check complete")

    expect(finding(panel, "websocket_upgrade")).to_contain_text("WebSocket upgrade: Succeeded")
    expect(finding(panel, "websocket_rtt")).to_contain_text("over 10 pings")
    expect(finding(panel, "sse_delivery")).to_contain_text("Streamed")
    # Each finding says what it means.
    expect(finding(panel, "sse_delivery")).to_contain_text("nothing on this path holds back")

    expect(suggestion(panel, "middleboxes")).to_have_attribute("data-value", "open")
    expect(suggestion(panel, "middleboxes")).to_contain_text(
        "What sits between your users and your servers?"
    )
    expect(suggestion(panel, "stream_buffering")).to_have_attribute("data-value", "streamed")
    # daphne speaks HTTP/1.1.
    expect(suggestion(panel, "http_version")).to_have_attribute("data-value", "http1")
    expect(suggestion(panel, "http_version")).to_contain_text("Suggested: HTTP/1.1")
    expect(panel.locator("[data-nc=simulated]")).to_be_hidden()
    # The standalone page has nowhere to tick an answer.
    expect(panel.get_by_role("button", name="Use this answer")).to_have_count(0)


def test_network_check_simulated_blocked_upgrade_suggests_strict(page: Page) -> None:
    page.goto("/network-check/?simulate=blocked")
    expect(page.locator("[data-nc=simulation]")).to_contain_text(
        "Simulation on (simulate=blocked)"
    )
    panel = run_check(page)

    expect(panel.locator("[data-step=websocket]")).to_have_attribute("data-state", "failed")
    expect(panel.locator("[data-step=websocket]")).to_contain_text("upgrade failed")
    expect(finding(panel, "websocket_upgrade")).to_contain_text("Blocked")
    expect(finding(panel, "websocket_upgrade")).to_have_attribute("data-ok", "false")
    expect(suggestion(panel, "middleboxes")).to_have_attribute("data-value", "strict")
    expect(suggestion(panel, "middleboxes")).to_contain_text("Known to block WebSocket upgrades")
    expect(panel.locator("[data-nc=simulated]")).to_contain_text(
        "Simulated run (blocked): not evidence about your network."
    )
    # SSE was not part of the simulation.
    expect(suggestion(panel, "stream_buffering")).to_have_attribute("data-value", "streamed")


def test_network_check_simulated_buffering_suggests_buffered(page: Page) -> None:
    page.goto("/network-check/?simulate=buffering")
    expect(page.locator("[data-nc=simulation]")).to_contain_text(
        "Simulation on (simulate=buffering)"
    )
    panel = run_check(page)

    expect(finding(panel, "websocket_upgrade")).to_contain_text("Succeeded")
    expect(finding(panel, "sse_delivery")).to_contain_text("Buffered")
    expect(suggestion(panel, "stream_buffering")).to_have_attribute("data-value", "buffered")
    expect(suggestion(panel, "stream_buffering")).to_contain_text(
        "Yes: events arrive late and bunched together"
    )
    expect(suggestion(panel, "middleboxes")).to_have_attribute("data-value", "corporate")


def test_network_check_simulations_combine_and_unknown_ones_are_named(page: Page) -> None:
    page.goto("/network-check/?simulate=blocked,buffering,slow")
    notice = page.locator("[data-nc=simulation]")
    expect(notice).to_contain_text("simulate=blocked")
    expect(notice).to_contain_text("simulate=buffering")
    expect(notice).to_contain_text("Ignored: simulate=slow is not a simulation")
    panel = run_check(page)

    expect(suggestion(panel, "middleboxes")).to_have_attribute("data-value", "strict")
    expect(suggestion(panel, "stream_buffering")).to_have_attribute("data-value", "buffered")


def test_network_check_object_property_names_are_no_simulations(page: Page) -> None:
    # Names every JavaScript object has must not pass for simulations.
    page.goto("/network-check/?simulate=toString,constructor")
    notice = page.locator("[data-nc=simulation]")
    expect(notice).to_contain_text("Ignored: simulate=toString, simulate=constructor")
    expect(notice).not_to_contain_text("Simulation on")
    panel = run_check(page)

    expect(panel.locator("[data-nc=simulated]")).to_be_hidden()
    expect(suggestion(panel, "middleboxes")).to_have_attribute("data-value", "open")


def test_network_check_failed_stream_is_shown_not_swallowed(page: Page) -> None:
    # A proxy that refuses the event streams outright.
    page.route(
        "**/network-check/events/**",
        lambda route: route.fulfill(status=503, body="Service unavailable"),
    )
    page.goto("/network-check/")
    panel = run_check(page)

    sse = panel.locator("[data-step=sse]")
    expect(sse).to_have_attribute("data-state", "failed")
    expect(sse).to_contain_text("no event arrived: the stream could not be opened")
    expect(finding(panel, "sse_delivery")).to_contain_text("Failed: no event arrived")
    expect(suggestion(panel, "stream_buffering")).to_have_attribute("data-value", "buffered")


def test_network_check_rejected_measurement_shows_errors_inline(page: Page) -> None:
    page.route(
        "**/api/network-checks/",
        lambda route: route.fulfill(
            status=400,
            json={"errors": {"websocket.rtt_ms": "must hold at most 100 values"}},
        ),
    )
    page.goto("/network-check/")
    panel = run_check(page, state="failed")

    alert = panel.get_by_role("alert")
    expect(alert).to_contain_text("could not store the measurement: it answered 400")
    expect(alert).to_contain_text("websocket.rtt_ms: must hold at most 100 values")
    expect(panel.locator("[data-step=save]")).to_contain_text("failed")
    expect(panel.locator("[data-nc=results]")).to_be_hidden()
    # It can be run again.
    expect(panel.get_by_role("button", name="Run the check again")).to_be_enabled()


def test_network_check_start_link_prefills_assessment(page: Page) -> None:
    page.goto("/network-check/")
    panel = run_check(page)
    check_id = panel.get_attribute("data-check-id")

    panel.get_by_role("link", name="Start an assessment with these answers").click()
    expect(page).to_have_url(re.compile(rf"/assessments/new/\?network_check={check_id}$"))
    page.get_by_role("button", name="Network and infrastructure").click()
    expect(page.get_by_role("heading", name="Network and infrastructure")).to_be_visible()
    expect(
        page.get_by_label("Modern, open path (your own network or the public internet)")
    ).to_be_checked()
    expect(page.get_by_label("HTTP/1.1")).to_be_checked()
    expect(page.get_by_label("No: events arrive as they are sent")).to_be_checked()
    # The check travels with the answers, and its panel shows it again.
    expect(page.locator("[data-network-check-id]")).to_have_value(check_id)
    wizard_panel = page.locator("[data-network-check]")
    expect(finding(wizard_panel, "websocket_upgrade")).to_contain_text("Succeeded")


def test_wizard_network_step_check_answers_and_evidence_on_result(page: Page) -> None:
    page.goto("/assessments/new/?preset=dashboard&simulate=blocked")
    # The panel is on the network step only.
    expect(page.locator("[data-network-check]")).to_have_count(0)
    page.get_by_role("button", name="Network and infrastructure").click()
    expect(page.get_by_role("heading", name="Network and infrastructure")).to_be_visible()
    panel = run_check(page)

    check_id = panel.get_attribute("data-check-id")
    assert re.fullmatch(UUID, check_id)
    expect(page.locator("[data-network-check-id]")).to_have_value(check_id)
    strict = page.get_by_label("Known to block WebSocket upgrades")
    expect(strict).not_to_be_checked()

    # One answer at a time, and the page says what it ticked.
    suggestion(panel, "middleboxes").get_by_role("button", name="Use this answer").click()
    expect(strict).to_be_checked()
    expect(panel.get_by_role("status")).to_contain_text(
        "Ticked “Known to block WebSocket upgrades”"
    )
    expect(suggestion(panel, "middleboxes")).to_contain_text(
        "Your answer: Known to block WebSocket upgrades."
    )
    # Then the rest.
    panel.get_by_role("button", name="Use all suggested answers").click()
    expect(page.get_by_label("HTTP/1.1")).to_be_checked()
    expect(page.get_by_label("No: events arrive as they are sent")).to_be_checked()
    # The leaning panel follows the ticked answers.
    expect(page.locator("#leaning")).to_contain_text("points")
    # A suggestion is only a suggestion: overriding one by hand is noticed.
    page.get_by_label("HTTP/2 or HTTP/3").check()
    expect(suggestion(panel, "http_version")).to_contain_text(
        "Your answer differs: HTTP/2 or HTTP/3."
    )

    # Another step and back: the answers and the check are still there.
    page.get_by_role("button", name="Next →").click()
    expect(page.get_by_role("heading", name="Payload")).to_be_visible()
    page.get_by_role("button", name="← Back").click()
    expect(strict).to_be_checked()
    expect(finding(page.locator("[data-network-check]"), "websocket_upgrade")).to_contain_text(
        "Blocked"
    )

    page.get_by_role("button", name="Overhead").click()
    page.get_by_role("button", name="See the recommendation").click()
    expect(page).to_have_url(re.compile(rf"/assessments/{UUID}/$"))
    evidence = page.locator("section").filter(
        has=page.get_by_role("heading", name="Evidence: network check")
    )
    expect(evidence).to_contain_text("Blocked")
    # The run was staged with ?simulate=blocked, and the evidence says so.
    expect(evidence.locator("[data-simulated]")).to_contain_text(
        "Simulated run (blocked): not evidence about your network."
    )
    expect(evidence.get_by_text("Follows the check")).to_have_count(2)
    expect(evidence.locator("li").filter(has_text="Overrides the check")).to_contain_text(
        "HTTP/2 or HTTP/3"
    )
