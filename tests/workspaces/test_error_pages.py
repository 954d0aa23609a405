"""Refusals a person sees are the site's pages, with the header and a plain message.

Without 403.html and 404.html, Django answered with a bare "403 Forbidden" or
"Not Found" page when DEBUG is off; and the messages allauth queues at sign-in
and sign-out only showed on its own pages, often much later.
"""

from __future__ import annotations

from .conftest import signed_in

SITE = 'class="site-header"'


def main(page: str) -> str:
    return page[page.index("<main") : page.index("</main>")]


def test_403_is_the_sites_page_with_the_reason(client, people):
    response = signed_in(client, people["viewer"]).get("/workspaces/team/audit/")

    assert response.status_code == 403
    page = response.text
    assert SITE in page
    assert "You may not do this" in page
    assert "Your role does not allow this." in page
    assert "Ask an owner of the workspace" in page


def test_404_is_the_sites_page_and_the_same_for_unknown_and_not_yours(client, people):
    client = signed_in(client, people["outsider"])

    not_yours = client.get("/workspaces/team/")
    unknown = client.get("/workspaces/no-such-space/")

    assert not_yours.status_code == unknown.status_code == 404
    assert SITE in not_yours.text
    assert "Page not found" in not_yours.text
    # The view's reason would tell a member-less workspace from none at all.
    assert "not a member of that workspace" not in not_yours.text
    assert main(not_yours.text) == main(unknown.text)


def test_404_of_a_revoked_share_link_is_the_sites_page(client, db):
    response = client.get("/shared/shr_unknown/")

    assert response.status_code == 404
    assert SITE in response.text
    assert "revoked or has expired" in response.text


def test_signing_out_says_so_on_the_next_page_and_only_there(client, people):
    client = signed_in(client, people["owner"])

    home = client.post("/accounts/logout/", follow=True)

    assert "You have signed out." in home.text
    assert "You have signed out." not in client.get("/accounts/login/").text
