from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from playwright.sync_api import expect

from questionnaire.catalogue import get_catalogue
from workspaces.models import Membership, Role, Workspace

pytestmark = pytest.mark.browser


@pytest.fixture
def owner_session(live_server_url) -> str:
    """A signed-in workspace owner's session cookie; made before the browser starts."""
    workspace = Workspace.objects.create(slug="team", name="Team One")
    user = get_user_model().objects.create_user("olivia")
    Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def test_owner_shares_an_assessment_read_only_then_revokes(
    owner_session, live_server_url, browser_context_factory
) -> None:
    context = browser_context_factory()
    context.add_cookies([{"name": "sessionid", "value": owner_session, "url": live_server_url}])
    page = context.new_page()

    page.goto("/assessments/new/?preset=order-tracking")
    # Each step is waited for: a click during the swap would land on the old step.
    for section in get_catalogue().sections[1:]:
        page.get_by_role("button", name="Next →").click()
        expect(page.get_by_role("heading", name=section.title)).to_be_visible()
    page.get_by_role("button", name="See the recommendation").click()
    expect(page).to_have_url(re.compile(r"/assessments/[0-9a-f-]{36}/$"))
    expect(page.locator(".placement")).to_contain_text("Workspace: Team One")

    page.get_by_label("Expires").select_option("7")
    page.get_by_role("button", name="Create share link").click()
    shared_url = page.locator("#new-share-link").input_value()
    assert shared_url.startswith(live_server_url + "/shared/shr_")

    other = browser_context_factory().new_page()
    other.goto(shared_url)
    expect(other.get_by_text("Read-only view shared with you")).to_be_visible()
    expect(other.get_by_role("link", name="Edit answers")).to_have_count(0)
    expect(other.get_by_role("link", name="Download PDF")).to_have_attribute(
        "href", re.compile(r"^/shared/shr_[^/]+/report\.pdf$")
    )

    page.get_by_role("button", name=re.compile("^Revoke the share link")).click()
    expect(page.locator("#share-links")).to_contain_text("revoked")
    response = other.goto(shared_url)
    assert response.status == 404
