from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

PAGE = "/network-check/"
NEW = "/assessments/new/"
HTMX = {"HX-Request": "true"}


def test_network_check_page_offers_the_check_and_names_its_questions(client: Client) -> None:
    response = client.get(PAGE)

    assert response.status_code == 200
    body = response.content.decode()
    assert "Run the check" in body
    assert "js/network_check.js" in body
    # Honest about its reach: this browser to this server, nothing more.
    assert "the path between <strong>this browser</strong> and" in body
    assert 'data-question-text="middleboxes"' in body
    assert 'data-question-text="http_version"' in body
    assert 'data-question-text="stream_buffering"' in body
    # Without JavaScript the page says why nothing runs.
    assert "<noscript>" in body


def test_network_check_page_refuses_post(client: Client) -> None:
    assert client.post(PAGE).status_code == 405


def test_every_page_links_to_the_network_check(client: Client) -> None:
    body = client.get("/").content.decode()

    assert f'href="{PAGE}">Check my network<' in body
    assert f'href="{PAGE}">Check your network first<' in body


def test_wizard_shows_network_check_panel_only_on_network_step(client: Client) -> None:
    first = client.get(NEW).content.decode()
    network = client.post(NEW, {"step": "0", "action": "goto-1"}, headers=HTMX).content.decode()

    assert "data-network-check " not in first
    # Loaded once with the page, outside the part htmx swaps.
    assert "js/network_check.js" in first
    assert 'data-network-check data-mode="wizard"' in network
    assert "Use all suggested answers" in network
