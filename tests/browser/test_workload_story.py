from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_user_runs_own_workload_and_finds_it_as_evidence(page: Page) -> None:
    page.goto("/")
    page.get_by_role("link", name="Real-time messaging and chat").click()
    page.get_by_role("button", name="Overhead").click()
    page.get_by_role("button", name="See the recommendation").click()
    expect(page).to_have_url(re.compile(r"/assessments/[0-9a-f-]{36}/$"))
    result_url = page.url

    page.get_by_role("link", name="Run my workload").click()
    expect(page.locator("[data-sentence]")).to_contain_text("10 events/s of 512 bytes JSON down")
    page.get_by_label("Duration (s)").fill("4")
    page.get_by_label("Payload format").select_option("mixed")
    expect(page.locator("[data-sentence]")).to_contain_text("mixed JSON and binary down")
    expect(page.locator("[data-sentence]")).to_contain_text("for 4 s")
    page.get_by_role("button", name="Start the run").click()

    for transport in ("websocket", "sse"):
        panel = page.locator(f"[data-panel={transport}]")
        expect(panel.locator("[data-field=state]")).to_have_text("done", timeout=20_000)
        # The drop came and went: both resumed, nothing lost.
        expect(panel.locator("[data-field=recovery]")).to_have_text(re.compile(r"^\d+ ms$"))
        expect(panel.locator("[data-field=lost]")).to_have_text("0")
        expect(panel.get_by_role("img", name=re.compile("latency per second"))).to_be_visible()
        expect(panel.locator("svg text", has_text="drop")).to_have_count(1)
    # Mixed payloads: the binary events went down the stream as base64, a third larger.
    expect(page.locator("[data-panel=sse] [data-field=base64]")).to_have_text(
        re.compile(r"^\+\d+ B \(\+3[34]%\)$")
    )
    expect(page.get_by_role("link", name="Real-time messaging and chat")).to_be_visible()
    summary = page.locator("[data-summary]")
    expect(summary.get_by_role("img", name=re.compile("side by side"))).to_be_visible()
    expect(summary.locator("[data-summary-table] tbody tr")).to_have_count(10)
    expect(page.locator("[data-save]")).to_contain_text("Saved as evidence", timeout=10_000)
    # Charts, tables and all, the finished page fits a phone's screen.
    page.set_viewport_size({"width": 390, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") == 0

    page.get_by_role("link", name="see it on the result page").click()
    expect(page).to_have_url(re.compile(re.escape(result_url)))
    evidence = page.locator("[data-workload-evidence]")
    expect(evidence).to_contain_text(
        re.compile(r"Measured on your network, your workload: WebSocket p99 \d[\d,]* ms down")
    )
    expect(evidence).to_contain_text("SSE+POST costs")
    expect(evidence.locator("tbody tr")).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") == 0


def test_workload_page_fits_a_phone_screen(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto("/demo/workload/?preset=collaborative-editing")
    expect(page.get_by_role("button", name="Start the run")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") == 0
