"""The portfolio in a browser without JavaScript: the chart loads, links sort, the form filters."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from playwright.sync_api import expect

from questionnaire.catalogue import get_catalogue
from questionnaire.models import Assessment
from workspaces.models import Membership, Role, Workspace

pytestmark = pytest.mark.browser


@pytest.fixture
def viewer_session(live_server_url) -> str:
    """A viewer of a workspace with one assessment of each verdict; their session cookie."""
    workspace = Workspace.objects.create(slug="team", name="Team One")
    user = get_user_model().objects.create_user("vera")
    Membership.objects.create(workspace=workspace, user=user, role=Role.VIEWER)
    catalogue = get_catalogue()
    for title, preset in [("Chat", "chat"), ("Board", "dashboard")]:
        Assessment.create_scored(
            title, catalogue.preset(preset).answers, workspace=workspace, created_by=user
        )
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def test_viewer_sorts_and_filters_the_portfolio_without_javascript(
    viewer_session, live_server_url, browser_context_factory
) -> None:
    context = browser_context_factory(java_script_enabled=False)
    context.add_cookies([{"name": "sessionid", "value": viewer_session, "url": live_server_url}])
    page = context.new_page()

    page.goto("/workspaces/team/")
    page.get_by_role("link", name="Portfolio").click()
    chart = page.get_by_role("img", name="Bar chart of the workspace's verdicts")
    expect(chart).to_be_visible()
    # The click waits for the new page to start, not for its images.
    page.wait_for_load_state("load")
    assert chart.evaluate("image => image.complete && image.naturalWidth > 0")

    table = page.locator("table.portfolio")
    page.get_by_role("link", name="Title").click()
    expect(table.locator("tbody tr").first).to_contain_text("Board")
    page.get_by_role("link", name="Title").click()
    expect(table.locator("tbody tr").first).to_contain_text("Chat")

    page.get_by_label("Verdict").select_option("websocket")
    page.get_by_role("button", name="Filter").click()
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("Chat")
    expect(page.get_by_role("link", name="Export CSV")).to_have_attribute(
        "href", "/api/portfolio/?verdict=websocket&sort=-title&workspace=team&format=csv"
    )
