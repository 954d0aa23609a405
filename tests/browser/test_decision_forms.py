"""The decision forms in Chromium: with htmx (the panel swapped, refusals too), and without."""

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
def team(live_server_url) -> dict:
    """An editor's and a reviewer's session cookies, and the editor's assessment's path."""
    workspace = Workspace.objects.create(slug="team", name="Team One")
    cookies = {}
    for name, role in (("edith", Role.EDITOR), ("rita", Role.REVIEWER)):
        user = get_user_model().objects.create_user(name)
        Membership.objects.create(workspace=workspace, user=user, role=role)
        client = Client()
        client.force_login(user)
        cookies[name] = client.cookies["sessionid"].value
    answers = dict(get_catalogue().preset("chat").answers)
    assessment, _ = Assessment.create_scored("Team chat", answers, workspace=workspace)
    return {"cookies": cookies, "path": assessment.get_absolute_url()}


def page_of(browser_context_factory, live_server_url, cookie: str, **options):
    context = browser_context_factory(**options)
    context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_server_url}])
    return context.new_page()


def test_decision_taken_with_htmx(team, live_server_url, browser_context_factory) -> None:
    editor = page_of(browser_context_factory, live_server_url, team["cookies"]["edith"])
    editor.goto(team["path"])
    panel = editor.locator("#decision")

    panel.get_by_label("rita").check()
    panel.get_by_role("button", name="Request review").click()
    expect(panel.locator(".decision-status")).to_have_text("In review")

    # Refused (only spaces): the panel comes back with the reason, the text kept.
    panel.get_by_label("Add a comment").fill("   ")
    panel.get_by_role("button", name="Comment").click()
    expect(editor.locator("#err-comment")).to_have_text("Write a comment.")
    panel.get_by_label("Add a comment").fill("<b>Ready</b> for review")
    panel.get_by_role("button", name="Comment").click()
    expect(panel.locator(".comments")).to_contain_text("<b>Ready</b> for review")
    expect(editor.locator("#err-comment")).to_have_count(0)
    assert editor.url.endswith(team["path"])

    reviewer = page_of(browser_context_factory, live_server_url, team["cookies"]["rita"])
    reviewer.goto(team["path"])
    reviewer.get_by_label("Approve").check()
    reviewer.get_by_label("Comment", exact=True).fill("Fine by me")
    reviewer.get_by_role("button", name="Send review").click()
    expect(reviewer.locator("#decision .decision-status")).to_have_text("Accepted")
    expect(reviewer.locator("#decision .approvals")).to_contain_text("rita approved revision 1")


def test_decision_forms_without_javascript(team, live_server_url, browser_context_factory) -> None:
    editor = page_of(
        browser_context_factory,
        live_server_url,
        team["cookies"]["edith"],
        java_script_enabled=False,
    )
    editor.goto(team["path"])

    editor.get_by_role("button", name="Request review").click()
    expect(editor.locator("#err-review-request")).to_have_text("Name at least one reviewer.")
    editor.get_by_label("rita").check()
    editor.get_by_role("button", name="Request review").click()

    expect(editor.locator("#decision .decision-status")).to_have_text("In review")
    assert editor.url.endswith(team["path"] + "#decision")


def test_focus_stays_in_the_panel_after_a_form_answers(
    team, live_server_url, browser_context_factory
) -> None:
    editor = page_of(browser_context_factory, live_server_url, team["cookies"]["edith"])
    editor.goto(team["path"])
    # A form's answer takes half a second to settle (htmx's is 20 ms): the
    # live refresh its own event brings arrives meanwhile, and must wait for
    # focus to be placed, not replace the panel under it.
    editor.evaluate("() => { window.htmx.config.defaultSettleDelay = 500; }")
    panel = editor.locator("#decision")

    # Refused: focus on the reason, where the form was.
    panel.get_by_role("button", name="Request review").click()
    expect(editor.locator("#err-review-request")).to_be_focused()
    # Taken: focus on the panel's heading, not the top of the page.
    panel.get_by_label("rita").check()
    panel.get_by_role("button", name="Request review").click()
    expect(panel.locator(".decision-status")).to_have_text("In review")
    expect(editor.locator("#decision-heading")).to_be_focused()
    # The header's line followed the panel.
    expect(editor.locator("#decision-summary")).to_contain_text("In review")
