"""Every page fits the screen, a phone's (390 px) as a desktop's: nothing scrolls sideways.

Every page site.py walks, in every state it brings about (the demo running,
a finished network check...). 390 px is the width of most phones in use. A wide table scrolls
in its own box instead, or shows each row as a card (the result's reasons); the header wraps.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .site import every_page

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 800}
DESKTOP = {"width": 1280, "height": 800}


def overflow(page) -> int:
    """By how many pixels the page is wider than the window (0: it fits)."""
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


# What sticks out furthest: the elements past the window's edge that none
# of their children make so wide, to name in a failure.
STICKING_OUT = """() => {
  const edge = document.documentElement.clientWidth;
  const out = (element) => element.getBoundingClientRect().right > edge + 0.5;
  const inScrollBox = (element) => element.closest(".table-scroll") !== null;
  return [...document.body.querySelectorAll("*")]
    .filter((e) => out(e) && !inScrollBox(e) && ![...e.children].some(out))
    .slice(0, 3)
    .map((e) => `${e.tagName.toLowerCase()}.${[...e.classList].join(".")}: ` +
      `${Math.round(e.getBoundingClientRect().right - edge)} px past the edge`);
}"""


# Boxes whose content spills out of them sideways (the demo's binary
# results did, out of their card), and chart text drawn smaller than 12 px.
SPILLING = """() => [...document.querySelectorAll("main *")]
  .filter((e) => {
    const style = getComputedStyle(e);
    return style.overflowX === "visible" && style.borderRightStyle !== "none";
  })
  .filter((e) => e.checkVisibility() && e.scrollWidth > e.clientWidth + 1)
  .map((e) => `${e.tagName.toLowerCase()}.${[...e.classList].join(".")} ` +
    `spills ${e.scrollWidth - e.clientWidth} px`)"""
SMALL_CHART_TEXT = """() => [...document.querySelectorAll("main svg text")]
  .filter((t) => t.checkVisibility())
  .map((t) => [t.textContent, parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a])
  .filter(([, size]) => size < 12)
  .map(([text, size]) => `chart text "${text}" drawn at ${size.toFixed(1)} px`)"""


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_no_page_scrolls_sideways(site, site_contexts, viewport):
    owner, anonymous = site_contexts(viewport=viewport)
    too_wide = []
    for name, page in every_page(owner, anonymous, site):
        if overflow(page) > 0:
            culprits = "; ".join(page.evaluate(STICKING_OUT))
            too_wide.append(f"{name} is {overflow(page)} px too wide ({culprits})")
        too_wide += [f"{name}: {problem}" for problem in page.evaluate(SPILLING)]
        too_wide += [f"{name}: {problem}" for problem in page.evaluate(SMALL_CHART_TEXT)]
        if page.context is owner:
            # The header wraps rather than push its end off the screen.
            page.evaluate("window.scrollTo(0, 0)")
            expect(page.get_by_role("button", name="Sign out")).to_be_in_viewport()
    assert not too_wide, f"at {viewport['width']} px:\n" + "\n".join(too_wide)


def test_wide_tables_scroll_in_their_own_box_on_a_phone(site, site_contexts):
    page = site_contexts(viewport=PHONE)[0].new_page()

    page.goto("/workspaces/team/portfolio/")
    box = page.locator(".table-scroll", has=page.locator("table.portfolio"))
    assert box.evaluate("box => box.scrollWidth > box.clientWidth")
    # A keyboard reaches it, and can scroll it.
    box.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("box => box.scrollLeft > 0", arg=box.element_handle())
    expect(box).to_have_attribute("tabindex", "0")


# Each cell of the reasons' first row: its column's name as shown, and
# whether it lies within the screen.
REASON_CELLS = """table => [...table.querySelector("tbody tr").children].map((cell) => [
  getComputedStyle(cell, "::before").content.replaceAll('"', ""),
  cell.getBoundingClientRect().right <= document.documentElement.clientWidth,
])"""


def test_reasons_are_a_card_per_answer_on_a_phone(site, site_contexts):
    page = site_contexts(viewport=PHONE)[0].new_page()
    page.goto(site.result)

    table = page.locator("table.reasons").first
    # Every column in sight, Points and Reason too, each under its name;
    # nothing to scroll sideways for.
    assert table.evaluate(REASON_CELLS) == [
        ["none", True],
        ["Answer", True],
        ["Favours", True],
        ["Points", True],
        ["Reason", True],
    ]
    assert table.evaluate("table => table.scrollWidth <= table.clientWidth")
    expect(table.locator("thead")).not_to_be_in_viewport()


def test_reasons_stay_a_table_on_a_desktop(site, site_contexts):
    page = site_contexts(viewport=DESKTOP)[0].new_page()
    page.goto(site.result)

    table = page.locator("table.reasons").first
    expect(table.get_by_role("columnheader", name="Points")).to_be_visible()
    assert table.locator("tbody tr").first.evaluate("row => getComputedStyle(row).display") == (
        "table-row"
    )


def test_portfolio_chart_text_stays_readable_on_a_phone(site, site_contexts):
    page = site_contexts(viewport=PHONE)[0].new_page()
    page.goto("/workspaces/team/portfolio/")

    chart = page.locator(".portfolio-chart img")
    expect(chart).to_be_visible()
    scale = chart.evaluate("img => img.clientWidth / img.naturalWidth")
    # The chart's 14 px labels, drawn at this scale, stay at 12 px or more.
    assert 14 * scale >= 12, f"chart drawn at {scale:.2f} of its size"
