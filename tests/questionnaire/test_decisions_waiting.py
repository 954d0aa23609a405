"""The header's count of decisions waiting for my review, and the page it leads to."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory

from questionnaire import decisions
from questionnaire.models import Assessment
from workspaces.models import Membership, Role, Workspace

pytestmark = pytest.mark.django_db

COUNT = re.compile(r'id="decisions-waiting-count"[^>]*>(\d+)<')


def as_user(user):
    request = RequestFactory().post("/")
    request.user = user
    return request


@pytest.fixture
def world(chat_answers):
    make = get_user_model().objects.create_user
    team = Workspace.objects.create(slug="team", name="Team")
    users = {name: make(name) for name in ("ed", "rita", "vic")}
    for name, role in (("ed", Role.EDITOR), ("rita", Role.REVIEWER), ("vic", Role.VIEWER)):
        Membership.objects.create(workspace=team, user=users[name], role=role)
    a, _ = Assessment.create_scored(
        "<b>Chat</b> & co", chat_answers, workspace=team, created_by=users["ed"]
    )
    decisions.request_review(as_user(users["ed"]), a, ["rita"])
    return {"users": users, "a": a}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_header_counts_decisions_waiting_for_me(world):
    rita = signed_in(world["users"]["rita"])
    page = rita.get("/").content.decode()
    assert COUNT.search(page).group(1) == "1"
    assert 'data-stream="/decisions/stream/"' in page

    decisions.review(as_user(world["users"]["rita"]), world["a"], "approve")

    assert COUNT.search(rita.get("/").content.decode()).group(1) == "0"


def test_header_count_is_zero_for_someone_not_named(world):
    page = signed_in(world["users"]["vic"]).get("/").content.decode()
    assert COUNT.search(page).group(1) == "0"


def test_no_count_and_no_stream_for_someone_not_signed_in(settings, world):
    settings.ADVISOR_ANONYMOUS = True
    page = Client().get("/").content.decode()
    assert "decisions-waiting" not in page
    assert "decision-live" not in page


def test_waiting_page_lists_mine_with_the_title_as_text(world):
    response = signed_in(world["users"]["rita"]).get("/decisions/waiting/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "&lt;b&gt;Chat&lt;/b&gt; &amp; co" in page
    assert "<b>Chat</b>" not in page
    assert f'href="/assessments/{world["a"].pk}/"' in page
    assert response["Cache-Control"].startswith("max-age=0")


def test_waiting_page_empty_once_reviewed_and_for_others(world):
    decisions.review(as_user(world["users"]["rita"]), world["a"], "request_changes", "No")
    for name in ("rita", "vic", "ed"):
        page = signed_in(world["users"][name]).get("/decisions/waiting/").content.decode()
        assert "Nothing is waiting for your review." in page
        assert str(world["a"].pk) not in page


def test_waiting_page_asks_to_sign_in(settings, world):
    settings.ADVISOR_ANONYMOUS = True
    response = Client().get("/decisions/waiting/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/decisions/waiting/")


def test_header_count_stands_out_when_not_zero(world):
    page = signed_in(world["users"]["rita"]).get("/").content.decode()

    assert 'id="decisions-waiting-count" class="badge badge-attention">1<' in page


def test_header_count_hidden_for_someone_who_can_review_nowhere(world):
    vic = signed_in(world["users"]["vic"]).get("/").content.decode()
    ed = signed_in(world["users"]["ed"]).get("/").content.decode()

    # The link stays, hidden: it carries the page's live stream.
    assert re.search(r'<a id="decisions-waiting"[^>]* hidden>', vic)
    assert not re.search(r'<a id="decisions-waiting"[^>]* hidden>', ed)
