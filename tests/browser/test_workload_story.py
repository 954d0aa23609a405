from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


# Every label of a panel's charts: whole inside its chart, clear of the others.
LABEL_PROBLEMS = """panel => [...panel.querySelectorAll("svg")].flatMap((svg) => {
  const chart = svg.getBoundingClientRect();
  const labels = [...svg.querySelectorAll("text")]
    .map((text) => [text.textContent, text.getBoundingClientRect()]);
  const inside = (r) => r.left >= chart.left - 0.5 && r.right <= chart.right + 0.5 &&
    r.top >= chart.top - 0.5 && r.bottom <= chart.bottom + 0.5;
  const meet = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 &&
    a.top < b.bottom - 1 && b.top < a.bottom - 1;
  const problems = labels.filter(([, r]) => !inside(r)).map(([t]) => `"${t}" is cut off`);
  labels.forEach(([a, ra], i) => labels.slice(i + 1).forEach(([b, rb]) => {
    if (meet(ra, rb)) problems.push(`"${a}" overlaps "${b}"`);
  }));
  return problems;
})"""
# The colours a panel's latency chart draws its lines in.
LINE_COLOURS = """panel => [...new Set([...panel.querySelectorAll("[data-chart=latency] path")]
  .map((path) => getComputedStyle(path).stroke))]"""
# A transport's colour as the rest of the site paints it (app.css).
SITE_COLOUR = """transport => {
  const probe = document.createElement("span");
  probe.style.color = `var(--${transport})`;
  document.body.append(probe);
  const colour = getComputedStyle(probe).color;
  probe.remove();
  return colour;
}"""


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
        assert panel.evaluate(LABEL_PROBLEMS) == [], transport
        # Down and up both drawn, in the transport's own colour (SSE brown).
        expect(panel.locator("[data-chart=latency] path")).to_have_count(2)
        assert panel.evaluate(LINE_COLOURS) == [page.evaluate(SITE_COLOUR, transport)]
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


def test_workload_page_warns_before_a_run_too_short_for_its_up_rate(page: Page) -> None:
    page.goto("/demo/workload/?preset=dashboard")
    warning = page.locator("[data-too-few]")
    page.get_by_label("Messages per second up").fill("0.05")
    page.get_by_label("Duration (s)").fill("10")
    expect(warning).to_contain_text("this run sends no messages up (0.5 expected)")
    expect(warning).to_contain_text("run it for at least 20 s")

    page.get_by_label("Duration (s)").fill("20")
    expect(warning).to_be_empty()
    expect(page.locator("[data-sentence]")).to_contain_text("0.05 messages/s up")
