"""Every page of the advisor, in the states a user sees it in, for the checks that hold on all.

The accessibility checks (test_accessibility.py) and the narrow-screen
checks (test_narrow_screens.py) walk the same pages: what the ``site``
fixture (conftest.py) made, found by following the links a signed-in
workspace owner sees, from a few starting pages. A page or a section
someone adds is checked as soon as a page links to it; pages no link
reaches (a share link, an error page) and states a click brings about (each
step of the questionnaire, a validation error mid-way, the demo running, a
finished network check) are visited on purpose, in ``every_page``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Page, expect

# Links not followed: downloads, the JSON API, the admin, signing out (it
# ends the session the walk runs in), and links out of the advisor.
NOT_FOLLOWED = re.compile(r"\.(pdf|md|svg)$|^/api/|^/admin/|^/accounts/logout/")
# Enough for every kind of page, bounded should a page link to endless variants.
MOST_PAGES = 60
# Pages that the links must reach: without them the walk went wrong.
REACHED = (
    "/",
    "/assessments/new/",
    "/assessments/<id>/",
    "/assessments/<id>/edit/",
    "/decisions/waiting/",
    "/workspaces/team/",
    "/workspaces/team/members/",
    "/workspaces/team/tokens/",
    "/workspaces/team/audit/",
    "/workspaces/team/settings/",
    "/workspaces/team/portfolio/",
    "/network-check/",
    "/demo/",
)


@dataclass(frozen=True)
class Site:
    """What the ``site`` fixture made: an owner's session and the paths no link shows."""

    session: str
    result: str
    shared: str
    workspace: str


def kind(url: str) -> str:
    """One name for all pages of a kind: /assessments/<id>/ for every assessment."""
    parts = urlsplit(url)
    path = re.sub(r"/[0-9a-f-]{36}/|/\d+/", "/<id>/", parts.path)
    path = re.sub(r"/shr_[^/]+/", "/<secret>/", path)
    keys = sorted({pair.split("=")[0] for pair in parts.query.split("&") if pair})
    return path + (f"?{'&'.join(keys)}" if keys else "")


def wait_until_ready(page: Page) -> None:
    """The page loaded and htmx has nothing in flight (the decision panel, the leaning)."""
    page.wait_for_load_state("load")
    expect(page.locator("main")).to_be_visible()
    # A locator, not wait_for_function: polling a string predicate is an
    # eval, which the site's Content-Security-Policy refuses.
    expect(page.locator(".htmx-request")).to_have_count(0)


def links(page: Page, origin: str) -> list[str]:
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href.split('#')[0])")
    found = []
    for href in hrefs:
        parts = urlsplit(href)
        if f"{parts.scheme}://{parts.netloc}" != origin or NOT_FOLLOWED.search(parts.path):
            continue
        found.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return found


def walk(page: Page, origin: str, start: list[str]) -> Iterator[tuple[str, Page]]:
    """One page of each kind that links reach from ``start``, ready when yielded."""
    queue, seen = list(start), set()
    while queue and len(seen) < MOST_PAGES:
        path = queue.pop(0)
        if kind(path) in seen:
            continue
        seen.add(kind(path))
        page.goto(path)
        wait_until_ready(page)
        yield path, page
        queue.extend(link for link in links(page, origin) if kind(link) not in seen)
    missing = [path for path in REACHED if path not in seen]
    assert not missing, f"no link led to {missing}: {sorted(seen)}"


def every_page(
    owner: BrowserContext, anonymous: BrowserContext, site: Site
) -> Iterator[tuple[str, Page]]:
    """Visit every page, and each state of one worth checking: (a name, the page) for each.

    ``owner`` is signed in as the site's owner; ``anonymous`` is not.
    """
    page = owner.new_page()
    page.goto("/")
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(page.url))
    start = ["/", site.result, f"/workspaces/{site.workspace}/", "/decisions/waiting/"]
    yield from walk(page, origin, start)

    page.goto(site.shared)
    wait_until_ready(page)
    yield "the share view", page

    page.goto("/no-such-page/")
    yield "the 404 page", page

    # The questionnaire's steps are reached by buttons, not links: each one,
    # the last with its traffic fields too (the walk saw the first).
    page.goto("/assessments/new/")
    wait_until_ready(page)
    count = page.locator("ol.steps button").count()
    for index in range(1, count):
        page.locator(f"button[value=goto-{index}]").click()
        expect(page.locator(".progress-text")).to_contain_text(f"Step {index + 1} of {count}")
        wait_until_ready(page)
        if index == count - 1:
            expect(page.locator("#traffic select").first).to_be_visible()
        yield f"the questionnaire's step {index + 1} of {count}", page

    page.goto("/assessments/new/")
    page.locator("button[value=goto-2]").click()
    expect(page.locator(".progress-text")).to_contain_text("Step 3 of")
    page.get_by_role("button", name="Next →").click()
    expect(page.locator(".error-summary")).to_be_visible()
    yield "the questionnaire's third step after a validation error", page

    page.goto("/demo/")
    for transport in ("websocket", "sse"):
        expect(page.locator(f"[data-panel={transport}] [data-field=state]")).to_have_text("open")
    page.get_by_role("button", name="Send binary").click()
    expect(page.locator("[data-binary-row=post] [data-cell=rtt]")).not_to_be_empty()
    yield "the demo while it runs", page

    page.goto("/network-check/")
    panel = page.locator("[data-network-check]")
    expect(panel).to_have_attribute("data-ready", "true")
    panel.get_by_role("button", name="Run the check").click()
    expect(panel).to_have_attribute("data-state", "done", timeout=30_000)
    yield "the network check once it finished", page

    stranger = anonymous.new_page()
    for path in ("/", "/accounts/login/", "/assessments/new/", site.shared):
        stranger.goto(path)
        wait_until_ready(stranger)
        yield f"{path} signed out", stranger
