from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.browser

TRANSPORTS = ("websocket", "sse")

# Every state a panel shows, in order, so a short-lived "reconnecting" is seen.
RECORD_STATES = """() => {
  window.demoStates = {};
  for (const panel of document.querySelectorAll("[data-panel]")) {
    const field = panel.querySelector("[data-field=state]");
    const states = (window.demoStates[panel.dataset.panel] = [field.textContent]);
    new MutationObserver(() => states.push(field.textContent)).observe(field, {
      childList: true, characterData: true, subtree: true,
    });
  }
}"""


def panel(page: Page, transport: str) -> Locator:
    return page.locator(f"[data-panel={transport}]")


def field(page: Page, transport: str, name: str) -> Locator:
    return panel(page, transport).locator(f"[data-field={name}]")


def number(text: str) -> int:
    return int(re.sub(r"[^0-9]", "", text))


def wait_for_more_events(page: Page, transport: str, than: int) -> None:
    page.wait_for_function(
        """([transport, than]) => {
          const node = document.querySelector(`[data-panel=${transport}] [data-field=events]`);
          return Number(node.textContent.replace(/[^0-9]/g, "")) > than;
        }""",
        arg=[transport, than],
    )


def open_demo(page: Page) -> None:
    page.goto("/demo/")
    for transport in TRANSPORTS:
        expect(field(page, transport, "state")).to_have_text("open")
        wait_for_more_events(page, transport, 0)


def test_demo_panels_receive_feed_without_gaps(page: Page) -> None:
    open_demo(page)
    for transport in TRANSPORTS:
        counted = number(field(page, transport, "events").inner_text())
        wait_for_more_events(page, transport, counted)
        expect(field(page, transport, "gaps")).to_have_text("0")
        expect(field(page, transport, "duplicates")).to_have_text("0")
        expect(field(page, transport, "last-id")).to_have_text(re.compile(r"^\d+$"))


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_demo_drop_reconnects_and_resumes_without_gaps(page: Page, transport: str) -> None:
    open_demo(page)
    page.evaluate(RECORD_STATES)

    panel(page, transport).get_by_role("button", name="Drop connection").click()

    # EventSource comes back by itself after the stream's retry: (2 s).
    expect(field(page, transport, "reconnects")).to_have_text("1")
    expect(field(page, transport, "state")).to_have_text("open")
    states = page.evaluate(f"window.demoStates.{transport}")
    assert any(state.startswith("reconnecting") for state in states)
    assert states[-1] == "open"
    recovery = field(page, transport, "recovery")
    expect(recovery).to_have_attribute("data-gaps", "0")
    expect(recovery).to_contain_text(
        re.compile(r"resumed after #\d+: \d+ missed events? replayed")
    )
    expect(recovery).to_contain_text("0 gaps")
    # The page says which transport needed code of ours to get there.
    credit = {"websocket": "This needed code of ours", "sse": "No code of ours"}
    expect(recovery).to_contain_text(credit[transport])
    if transport == "sse":
        # Two seconds away (retry: 2000) at 4 events a second: what it
        # missed came back as a replay.
        replayed = int(re.search(r"(\d+) missed", recovery.inner_text()).group(1))
        assert replayed >= 4
    expect(field(page, transport, "gaps")).to_have_text("0")
    expect(field(page, transport, "duplicates")).to_have_text("0")
    # The other panel did not notice.
    (other,) = set(TRANSPORTS) - {transport}
    expect(field(page, other, "reconnects")).to_have_text("0")


def test_demo_chat_from_either_panel_appears_in_both(page: Page) -> None:
    open_demo(page)
    messages = {"websocket": "Hello over the socket", "sse": "Hello over a POST"}
    for transport, text in messages.items():
        form = panel(page, transport).locator("[data-chat-form]")
        form.get_by_role("textbox").fill(text)
        form.get_by_role("button", name="Send").click()
        # Cleared once the server took it.
        expect(form.get_by_role("textbox")).to_have_value("")

    for transport in TRANSPORTS:
        log = field(page, transport, "chat-log")
        expect(log.locator("li").filter(has_text=messages["websocket"])).to_contain_text(
            "via WebSocket"
        )
        expect(log.locator("li").filter(has_text=messages["sse"])).to_contain_text(
            "via SSE + POST"
        )


def test_demo_chat_shows_html_as_text(page: Page) -> None:
    open_demo(page)
    form = panel(page, "sse").locator("[data-chat-form]")
    form.get_by_role("textbox").fill("<b>bold</b> <img src=x onerror=alert(1)>")
    form.get_by_role("button", name="Send").click()

    for transport in TRANSPORTS:
        log = field(page, transport, "chat-log")
        expect(log.locator(".chat-text")).to_have_text("<b>bold</b> <img src=x onerror=alert(1)>")
        expect(log.locator("b, img")).to_have_count(0)


def test_demo_binary_upload_compares_frame_and_post(page: Page) -> None:
    open_demo(page)
    page.get_by_role("button", name="Send binary").click()

    table = page.locator("[data-binary-table]")
    expect(table).to_be_visible()
    websocket = table.locator("[data-binary-row=websocket]")
    post = table.locator("[data-binary-row=post]")
    expect(websocket.locator("[data-cell=checksum]")).to_have_text("matches")
    expect(post.locator("[data-cell=checksum]")).to_have_text("matches")
    frame_bytes = number(websocket.locator("[data-cell=bytes]").inner_text())
    post_bytes = number(post.locator("[data-cell=bytes]").inner_text())
    # 64 KiB by default: a frame adds a few bytes, base64 in JSON a third.
    assert 65536 < frame_bytes < 65536 + 16
    assert post_bytes > frame_bytes * 4 / 3


def test_demo_seven_streams_run_into_connection_limit(page: Page) -> None:
    open_demo(page)
    page.get_by_role("button", name="Open 7 streams").click()

    streams = page.locator("[data-streams] li")
    expect(streams).to_have_count(7)
    # Six connections per origin over HTTP/1.1, one of them the SSE panel's.
    expect(streams.and_(page.locator("[data-state=open]"))).to_have_count(5)
    expect(streams.and_(page.locator("[data-state=stalled]"))).to_have_count(2)
    # The page says what it measured: this live server speaks HTTP/1.1.
    expect(page.locator("#protocol")).to_have_text("http/1.1")
    summary = page.locator("#streams-summary")
    expect(summary).to_contain_text("2 stalled: HTTP/1.1 allows 6 connections per origin")
    expect(summary).to_contain_text("5 of 7 opened")
    expect(summary).to_have_attribute("data-outcome", "stalled")

    page.get_by_role("button", name="Close the 7 streams").click()
    expect(page.get_by_role("button", name="Open 7 streams")).to_be_visible()
    # The server sees the streams go: only the panel's own is left. Chromium
    # may keep a cancelled stream's socket a while (it drains the body to
    # reuse the connection), hence the longer wait.
    page.wait_for_function(
        """() => {
          // The predicate must answer at once: it reads the last answer, asks anew.
          const probe = (window.statsProbe ??= { sse: null, asking: false });
          if (!probe.asking) {
            probe.asking = true;
            fetch("/demo/stats/", { cache: "no-store" })
              .then((response) => response.json())
              .then((body) => { probe.sse = body.subscribers.sse; })
              .finally(() => { probe.asking = false; });
          }
          return probe.sse === 1;
        }""",
        polling=200,
        timeout=30_000,
    )
    expect(field(page, "sse", "state")).to_have_text("open")


def test_demo_links_back_to_questionnaire(page: Page) -> None:
    page.goto("/demo/")
    page.get_by_role("link", name="Back to the questionnaire").click()
    expect(page).to_have_url(re.compile(r"/assessments/new/$"))


def test_result_page_links_to_demo(page: Page, dashboard_answers: dict[str, str]) -> None:
    response = page.request.post(
        "/api/assessments/", data={"title": "Ops dashboard", "answers": dashboard_answers}
    )
    assert response.status == 201
    page.goto(response.json()["url"])
    expect(page.get_by_role("heading", name="Ops dashboard")).to_be_visible()

    # Not only the site header's link: the result itself points to the demo.
    page.locator("main").get_by_role("link", name=re.compile("live demo")).click()
    expect(page).to_have_url(re.compile(r"/demo/$"))
    expect(field(page, "websocket", "state")).to_have_text("open")
