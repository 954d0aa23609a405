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
from playwright.sync_api import Page

from .site import every_page

pytestmark = pytest.mark.browser

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


def test_no_page_breaks_a_checked_rule(site, site_contexts) -> None:
    owner, anonymous = site_contexts()
    problems = []
    for name, page in every_page(owner, anonymous, site):
        found = axe_violations(page)
        page.keyboard.press("Shift")
        found += page.evaluate(NON_TEXT_CONTRAST)
        problems += [f"{name}: {problem}" for problem in found]
    assert not problems, "\n".join(problems)
