"""No page breaks the accessibility rules a machine can check.

axe-core (tests/browser/axe, installed by `make test`) runs on every page
that site.py walks, in every state it brings about; any violation fails.
axe does not check the contrast of what is not text (WCAG 1.4.11), so
non_text_contrast.js does it for what the advisor draws: the borders of its
fields, the step badges, the bars of its charts and the focus ring.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .site import every_page

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 800}

AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"

RUN_AXE = """async () => {
  const { violations } = await axe.run(document, { resultTypes: ["violations"] });
  return violations.map((rule) =>
    `${rule.id} (${rule.impact}): ${rule.help}\\n` +
    rule.nodes.slice(0, 5).map((node) =>
      `    ${node.target.join(" ")}: ${node.failureSummary.split("\\n").slice(1).join(" ")}`
    ).join("\\n"));
}"""

NON_TEXT_CONTRAST = (Path(__file__).resolve().parent / "non_text_contrast.js").read_text()


def axe_violations(page: Page) -> list[str]:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: scripts/ensure-test-deps installs it", pytrace=False)
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    return page.evaluate(RUN_AXE)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_no_page_breaks_a_checked_rule(site, site_contexts, viewport) -> None:
    # A phone's layout is another page: the leaning panel, the tables.
    owner, anonymous = site_contexts(viewport=viewport)
    problems = []
    for name, page in every_page(owner, anonymous, site):
        found = axe_violations(page)
        page.keyboard.press("Shift")
        found += page.evaluate(NON_TEXT_CONTRAST)
        problems += [f"{name}: {problem}" for problem in found]
    assert not problems, "\n".join(problems)


def test_a_validation_error_takes_focus_to_the_error_summary(page: Page) -> None:
    page.goto("/assessments/new/")
    page.get_by_role("button", name="Next →").focus()
    page.keyboard.press("Enter")

    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Please fix")
    # Its links, to each question to fix, come next.
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_attribute("href", "#q-client_messages")


def test_running_the_network_check_keeps_the_keyboard_focus(page: Page) -> None:
    page.goto("/network-check/")
    panel = page.locator("[data-network-check]")
    expect(panel).to_have_attribute("data-ready", "true")
    run = panel.get_by_role("button", name="Run the check")
    run.focus()
    page.keyboard.press("Enter")

    expect(run).to_have_attribute("aria-disabled", "true")
    expect(run).to_be_focused()
    expect(panel).to_have_attribute("data-state", "done", timeout=30_000)
    again = panel.get_by_role("button", name="Run the check again")
    expect(again).to_be_focused()
    expect(again).not_to_have_attribute("aria-disabled", "true")
    expect(panel.get_by_role("status")).to_contain_text("Check complete")


def test_the_leaning_stays_in_sight_on_a_phone(browser_context_factory) -> None:
    page = browser_context_factory(viewport=PHONE).new_page()
    page.goto("/assessments/new/?preset=chat")
    leaning = page.locator("#leaning")
    first_question = page.locator("fieldset.question").first
    # Above the questions, not below them all.
    assert leaning.bounding_box()["y"] < first_question.bounding_box()["y"]

    # Walking back up the step with the keyboard, from its last button:
    # the leaning stays on screen, and never hides what has focus.
    page.get_by_role("button", name="Next →").focus()
    for _ in range(8):
        page.keyboard.press("Shift+Tab")
        expect(leaning.locator(".leaning-verdict")).to_be_in_viewport()
        focused, panel = page.locator(":focus").bounding_box(), leaning.bounding_box()
        hidden = (
            focused["y"] < panel["y"] + panel["height"]
            and focused["y"] + focused["height"] > panel["y"]
        )
        assert not hidden, page.locator(":focus").evaluate("e => e.outerHTML")
