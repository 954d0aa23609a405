"""Every page fits the screen, a phone's (375 px) as a desktop's: nothing scrolls sideways.

A wide table scrolls in its own box instead; the header wraps.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from playwright.sync_api import expect

from questionnaire.catalogue import get_catalogue
from questionnaire.models import Assessment, DecisionStatus
from workspaces.models import Membership, Role, Workspace

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 800}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture
def team(live_server_url) -> dict:
    """A reviewer (with a long name) asked to review one of several assessments."""
    workspace = Workspace.objects.create(slug="team", name="Platform architecture team")
    make = get_user_model().objects.create_user
    editor = make("edith")
    reviewer = make("rita.reviewer-of-many-decisions")
    Membership.objects.create(workspace=workspace, user=editor, role=Role.EDITOR)
    Membership.objects.create(workspace=workspace, user=reviewer, role=Role.REVIEWER)
    catalogue = get_catalogue()
    reviewed = None
    for preset in ("chat", "dashboard"):
        answers = dict(catalogue.preset(preset).answers)
        assessment, _ = Assessment.create_scored(
            f"Customer-facing {preset} for the support organisation",
            answers,
            workspace=workspace,
            created_by=editor,
        )
        reviewed = reviewed or assessment
    client = Client()
    client.force_login(editor)
    response = client.post(
        f"{reviewed.get_absolute_url()}review-requests/",
        {"reviewers": [reviewer.username], "revision": "1"},
    )
    assert response.status_code == 302
    reviewed.refresh_from_db()
    assert reviewed.status == DecisionStatus.IN_REVIEW
    client.force_login(reviewer)
    return {"cookie": client.cookies["sessionid"].value, "result": reviewed.get_absolute_url()}


def overflow(page) -> int:
    """By how many pixels the page is wider than the window (0: it fits)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_no_page_scrolls_sideways(team, live_server_url, browser_context_factory, viewport):
    context = browser_context_factory(viewport=viewport)
    context.add_cookies([{"name": "sessionid", "value": team["cookie"], "url": live_server_url}])
    page = context.new_page()

    for path, ready in (
        ("/", "h1"),
        (team["result"], "#review-form"),
        ("/workspaces/team/portfolio/", "table.portfolio"),
        ("/decisions/waiting/", "h1"),
        ("/cases/", "h1"),
    ):
        page.goto(path)
        expect(page.locator(ready).first).to_be_visible()
        assert overflow(page) <= 0, f"{path} is {overflow(page)} px too wide at {viewport}"
        expect(page.get_by_role("button", name="Sign out")).to_be_in_viewport()


def test_wide_tables_scroll_in_their_own_box_on_a_phone(
    team, live_server_url, browser_context_factory
):
    context = browser_context_factory(viewport=PHONE)
    context.add_cookies([{"name": "sessionid", "value": team["cookie"], "url": live_server_url}])
    page = context.new_page()

    for path, table in (
        (team["result"], "table.reasons"),
        ("/workspaces/team/portfolio/", "table.portfolio"),
    ):
        page.goto(path)
        box = page.locator(".table-scroll", has=page.locator(table))
        assert box.evaluate("box => box.scrollWidth > box.clientWidth"), path
        # A keyboard reaches it, and can scroll it.
        box.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function("box => box.scrollLeft > 0", arg=box.element_handle())
        expect(box).to_have_attribute("tabindex", "0")


def test_portfolio_chart_text_stays_readable_on_a_phone(
    team, live_server_url, browser_context_factory
):
    context = browser_context_factory(viewport=PHONE)
    context.add_cookies([{"name": "sessionid", "value": team["cookie"], "url": live_server_url}])
    page = context.new_page()
    page.goto("/workspaces/team/portfolio/")

    chart = page.locator(".portfolio-chart img")
    expect(chart).to_be_visible()
    scale = chart.evaluate("img => img.clientWidth / img.naturalWidth")
    # The chart's 14 px labels, drawn at this scale, stay at 12 px or more.
    assert 14 * scale >= 12, f"chart drawn at {scale:.2f} of its size"
