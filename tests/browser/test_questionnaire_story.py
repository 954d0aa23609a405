from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_user_completes_assessment_by_clicking_and_gets_share_link(
    page: Page, browser_context_factory
) -> None:
    page.goto("/")
    page.get_by_role("link", name="Start an assessment").click()

    page.get_by_label("Name of the application").fill("Ops dashboard")
    page.get_by_label("Never: clients only receive").check()
    # The leaning panel follows the answers before anything is saved.
    expect(page.locator("#leaning")).to_contain_text("Server-Sent Events (SSE)")
    page.get_by_label("Relaxed: a second or more is fine").check()
    page.get_by_label("One-to-many broadcast").check()
    page.get_by_role("button", name="Next →").click()

    expect(page.get_by_role("heading", name="Network and infrastructure")).to_be_visible()
    page.get_by_label("Corporate proxies or TLS inspection").check()
    page.get_by_label("HTTP/1.1").check()
    page.get_by_label("Long-running processes (VMs, containers, Kubernetes)").check()
    page.get_by_label("Not sure").last.check()
    page.get_by_role("button", name="Next →").click()

    page.get_by_label("Text (JSON, XML, HTML)").check()
    page.get_by_label("Medium: one to ten a second").check()
    # Back keeps the answers of the step we leave and of the one we return to.
    page.get_by_role("button", name="← Back").click()
    expect(page.get_by_label("HTTP/1.1")).to_be_checked()
    page.get_by_role("button", name="Next →").click()
    expect(page.get_by_label("Text (JSON, XML, HTML)")).to_be_checked()
    page.get_by_role("button", name="Next →").click()

    page.get_by_label("Some", exact=True).check()
    page.get_by_label("No: the next update is enough").check()
    page.get_by_label("Session cookies").check()
    page.get_by_label("Desktop browsers").check()
    page.get_by_role("button", name="See the recommendation").click()
    # One question left unanswered: an inline error, and nothing saved.
    expect(page.locator("#q-scale .field-error")).to_have_text("Choose an answer to continue.")
    page.get_by_label("Hundreds").check()
    page.get_by_role("button", name="See the recommendation").click()

    expect(page).to_have_url(re.compile(r"/assessments/[0-9a-f-]{36}/$"))
    expect(
        page.get_by_role("heading", name="Recommendation: Server-Sent Events (SSE)")
    ).to_be_visible()
    expect(page.locator(".verdict")).to_contain_text("Strong confidence")
    expect(page.locator("#share-url")).to_have_value(page.url)
    expect(page.locator(".caveats")).to_contain_text("About six connections per origin")

    # The share link works for someone else, in a fresh browser context.
    other = browser_context_factory().new_page()
    other.goto(page.url)
    expect(other.get_by_role("heading", name="Ops dashboard")).to_be_visible()


def test_preset_prefills_answers_and_edit_creates_revision(page: Page) -> None:
    page.goto("/")
    page.get_by_role("link", name="Real-time messaging and chat").click()
    expect(page.get_by_label("Continuously: typing, cursors, game input, orders")).to_be_checked()
    expect(page.locator("#leaning")).to_contain_text("WebSocket")
    page.get_by_role("button", name="Overhead").click()
    page.get_by_role("button", name="See the recommendation").click()
    expect(page.get_by_role("heading", name="Recommendation: WebSocket")).to_be_visible()

    page.get_by_role("link", name="Edit answers").click()
    page.get_by_label("Never: clients only receive").check()
    page.get_by_role("button", name="Overhead").click()
    page.get_by_role("button", name="See the recommendation").click()

    expect(
        page.get_by_role("heading", name="Recommendation: Server-Sent Events (SSE)")
    ).to_be_visible()
    revisions = page.locator(".revisions")
    expect(revisions).to_contain_text("Revision 2")
    expect(revisions).to_contain_text("Verdict changed")
    expect(revisions.locator("ins").first).to_have_text("Never: clients only receive")

    page.goto("/")
    expect(page.locator("#recent")).to_contain_text("Real-time messaging and chat")


def test_keyboard_only_user_answers_and_moves_on(page: Page) -> None:
    page.goto("/assessments/new/")
    page.get_by_label("Name of the application").focus()
    page.keyboard.type("Keyboard app")
    # Tab into the first question's help toggle, then its radio group.
    page.keyboard.press("Tab")
    expect(page.locator("#q-client_messages summary")).to_be_focused()
    page.keyboard.press("Space")
    expect(page.locator("#q-client_messages .help p")).to_be_visible()
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    expect(page.get_by_label("Never: clients only receive")).to_be_checked()
    page.keyboard.press("ArrowDown")
    expect(page.get_by_label("Occasionally: a few actions a minute")).to_be_checked()
    # Enter in a field submits the form with the default action, Next.
    page.keyboard.press("Enter")
    expect(page.locator("#q-upstream_latency .field-error")).to_be_visible()
    expect(page.get_by_role("heading", name="Interactivity")).to_be_visible()


def test_questionnaire_works_without_javascript(browser_context_factory) -> None:
    page = browser_context_factory(java_script_enabled=False).new_page()
    page.goto("/assessments/new/?preset=order-tracking")
    for _ in range(3):
        page.get_by_role("button", name="Next →").click()
    page.get_by_role("button", name="See the recommendation").click()

    expect(page).to_have_url(re.compile(r"/assessments/[0-9a-f-]{36}/$"))
    expect(
        page.get_by_role("heading", name="Recommendation: Server-Sent Events (SSE)")
    ).to_be_visible()
    expect(page.locator(".pattern")).to_contain_text("SSE with event ids and Last-Event-ID replay")


def test_leaning_panel_keeps_up_with_rapid_changes(page: Page) -> None:
    page.goto("/assessments/new/")
    # Answers changed faster than the server replies: the panel must end on
    # the last state, never on a reply to an earlier one.
    page.get_by_label("Never: clients only receive").check()
    page.get_by_label("Continuously: typing, cursors, game input, orders").check()
    page.get_by_label("Real time: under 100 ms").check()
    page.get_by_label("Many-to-many collaboration or chat").check()

    leaning = page.locator("#leaning")
    # Three given answers and the two optional questions' defaults.
    expect(leaning).to_contain_text("from 5 of 16 answers")
    expect(leaning.locator(".badge")).to_have_text("WebSocket")


def test_products_like_yours_lead_to_the_case_library_and_back(page: Page) -> None:
    # A charging-station operator's answers: the closest real system is OCPP.
    page.goto("/assessments/new/?case=ocpp")
    expect(page.get_by_role("heading", level=1)).to_contain_text("OCPP 1.6J and 2.0.1")
    page.get_by_role("button", name="Overhead").click()
    page.get_by_role("button", name="See the recommendation").click()

    cases = page.locator("#similar-cases")
    expect(cases.get_by_role("heading", level=2)).to_have_text("Products like yours")
    expect(cases.locator(".similar-case").first).to_contain_text("16 of 16 answers the same")
    cases.get_by_role("link", name="All cases").click()

    page.get_by_label("Domain").select_option("devices")
    page.get_by_role("button", name="Filter").click()
    home = page.locator("#case-home-assistant-websocket")
    expect(home).to_contain_text("WebSocket")
    home.get_by_role("link", name="Start an assessment from this case").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "New assessment: Home Assistant WebSocket API"
    )
