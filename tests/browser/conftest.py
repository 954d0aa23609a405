from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from questionnaire.catalogue import get_catalogue
from questionnaire.models import Assessment, DecisionStatus, ShareLink
from workspaces.models import ApiToken, Membership, Role, Workspace

from .site import Site


@pytest.fixture
def site(live_server_url) -> Site:
    """A workspace with something on every page: for the checks that walk them all (site.py).

    Its owner, Olivia, is asked to review one of two assessments (the
    waiting page lists it, the header counts it), has a token, and one
    assessment is shared by a link. Long names, as real ones can be.
    """
    workspace = Workspace.objects.create(slug="team", name="Platform architecture team")
    make = get_user_model().objects.create_user
    owner = make("olivia.owner-of-the-platform-workspace")
    editor = make("edith")
    Membership.objects.create(workspace=workspace, user=owner, role=Role.OWNER)
    Membership.objects.create(workspace=workspace, user=editor, role=Role.EDITOR)
    ApiToken.issue(owner, workspace, name="Continuous integration")
    catalogue = get_catalogue()
    assessments = [
        Assessment.create_scored(
            f"Customer-facing {preset} for the support organisation",
            dict(catalogue.preset(preset).answers),
            workspace=workspace,
            created_by=editor,
        )[0]
        for preset in ("chat", "dashboard")
    ]
    reviewed, shared = assessments
    client = Client()
    client.force_login(editor)
    response = client.post(
        f"{reviewed.get_absolute_url()}review-requests/",
        {"reviewers": [owner.username], "revision": "1"},
    )
    assert response.status_code == 302
    reviewed.refresh_from_db()
    assert reviewed.status == DecisionStatus.IN_REVIEW
    _, secret = ShareLink.issue(shared)
    client.force_login(owner)
    return Site(
        session=client.cookies["sessionid"].value,
        result=reviewed.get_absolute_url(),
        shared=f"/shared/{secret}/",
        workspace=workspace.slug,
    )


@pytest.fixture
def site_contexts(site, live_server_url, browser_context_factory):
    """Factory of (owner's context, a stranger's context) at a viewport."""

    def contexts(**options):
        owner = browser_context_factory(**options)
        owner.add_cookies([{"name": "sessionid", "value": site.session, "url": live_server_url}])
        return owner, browser_context_factory(**options)

    return contexts
