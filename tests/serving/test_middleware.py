"""Django's middleware run on the event loop (serving/middleware.py) behaves as Django's own.

The test client goes through the sync stack; the async client through the
ASGI one, where the hooks run inline. The same requests must get the same
answers from both.
"""

from __future__ import annotations

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from django.db import connections
from django.test import AsyncClient, Client

from questionnaire.catalogue import get_catalogue
from questionnaire.models import Assessment

NEW = "/assessments/new/"
HEADERS = [
    "X-Frame-Options",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Cross-Origin-Opener-Policy",
    "Content-Security-Policy",
    "Content-Type",
]


@pytest_asyncio.fixture
async def asgi_client():
    """An async client, and afterwards no database connection left open (PostgreSQL)."""
    yield AsyncClient()
    await sync_to_async(connections.close_all)()


def finish(answers: dict[str, str], **fields: str) -> dict[str, str]:
    """The wizard's last step, submitted with every answer."""
    step = str(len(get_catalogue().sections) - 1)
    return {**answers, "title": "Our chat", "step": step, "action": "finish", **fields}


@pytest.mark.django_db
def test_sync_stack_headers_for_comparison(client):
    # The reference the ASGI tests compare with: Django's own middleware sets these.
    response = client.get("/")
    assert all(response.has_header(name) for name in HEADERS)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_asgi_page_has_the_same_headers_as_wsgi(asgi_client):
    asgi = await asgi_client.get(NEW)
    wsgi = await sync_to_async(Client().get)(NEW)

    assert [asgi.get(name) for name in HEADERS] == [wsgi.get(name) for name in HEADERS]
    assert asgi["Content-Length"] == str(len(asgi.content))
    assert "csrftoken" in asgi.cookies


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_asgi_missing_slash_redirects(asgi_client):
    response = await asgi_client.get("/assessments/new")

    assert (response.status_code, response["Location"]) == (301, NEW)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_asgi_form_post_without_csrf_token_is_refused(chat_answers):
    client = AsyncClient(enforce_csrf_checks=True)
    try:
        response = await client.post(NEW, finish(chat_answers))
    finally:
        await sync_to_async(connections.close_all)()

    assert response.status_code == 403
    assert await Assessment.objects.acount() == 0


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_asgi_form_post_with_csrf_token_is_saved_and_remembered(chat_answers):
    client = AsyncClient(enforce_csrf_checks=True)
    try:
        form = await client.get(NEW)
        token = form.cookies["csrftoken"].value
        saved = await client.post(NEW, finish(chat_answers, csrfmiddlewaretoken=token))
        home = await client.get("/")
    finally:
        await sync_to_async(connections.close_all)()

    assert saved.status_code == 302
    assert "sessionid" in saved.cookies
    # The session, saved by the middleware, lists it on the home page.
    assert f'<a href="{saved["Location"]}">Our chat</a>' in home.text


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_asgi_api_create_answers_with_its_one_revision(asgi_client, chat_answers):
    response = await asgi_client.post(
        "/api/assessments/", {"answers": chat_answers}, content_type="application/json"
    )

    assessment = await Assessment.objects.aget()
    assert response.status_code == 201
    assert (response.json()["id"], response.json()["revision"]) == (str(assessment.pk), 1)
    assert await assessment.revisions.acount() == 1
