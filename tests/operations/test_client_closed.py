"""Requests whose client went away before the answer: 499, not 500 (operations/requests.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from contextlib import contextmanager
from unittest.mock import patch

import pytest
from asgiref.testing import ApplicationCommunicator
from django.core.signals import request_finished
from prometheus_client import REGISTRY

from operations.logs import JsonFormatter
from operations.requests import ObservedRequests
from questionnaire import views

from .asgi import communicator, http_scope

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

LEANING = "questionnaire:leaning"
# Django takes any 32-character token that matches the cookie's.
CSRF_TOKEN = "a" * 32
CSRF = {"Cookie": f"csrftoken={CSRF_TOKEN}", "X-CSRFToken": CSRF_TOKEN, "HX-Request": "true"}


@pytest.fixture
def access_lines(caplog):
    caplog.set_level(logging.INFO, logger="advisor.access")
    return lambda: [
        json.loads(JsonFormatter().format(record))
        for record in caplog.records
        if record.name == "advisor.access"
    ]


def counted(route: str, status: int, method: str = "POST") -> float:
    labels = {"route": route, "method": method, "status": str(status)}
    return REGISTRY.get_sample_value("advisor_http_requests_total", labels) or 0.0


@contextmanager
def slow_leaning():
    """The leaning view held in its scoring, as a slow request is, until Django
    gives up on it (or the test ends)."""
    entered, release, left = threading.Event(), threading.Event(), threading.Event()
    evaluate = views.evaluate

    async def given_up(**kwargs) -> None:
        # Sent when Django cancels the view, before it waits for the view's thread.
        release.set()

    def held(*args, **kwargs):
        entered.set()
        try:
            release.wait(5)
            return evaluate(*args, **kwargs)
        finally:
            left.set()

    request_finished.connect(given_up)
    try:
        with patch.object(views, "evaluate", held):
            yield entered
    finally:
        request_finished.disconnect(given_up)
        release.set()
        left.wait(5)


async def leaning_request() -> ApplicationCommunicator:
    app = communicator("/assessments/leaning/", method="POST", headers=CSRF)
    await app.send_input({"type": "http.request", "body": b""})
    return app


async def test_request_the_client_cancels_logged_499(access_lines):
    before_499, before_500 = counted(LEANING, 499), counted(LEANING, 500)
    with slow_leaning() as entered:
        app = await leaning_request()
        assert await asyncio.to_thread(entered.wait, 5)
        # The browser cancels it (htmx sends the next one); nginx logs 499.
        await app.send_input({"type": "http.disconnect"})
        await app.wait(5)
        assert await app.receive_nothing()
    [line] = access_lines()
    assert line["status"] == 499
    assert line["level"] == "INFO"
    assert line["route"] == LEANING
    assert line["message"].startswith("POST /assessments/leaning/ 499 ")
    assert counted(LEANING, 499) == before_499 + 1
    assert counted(LEANING, 500) == before_500


async def test_request_the_server_cancels_logged_499(access_lines):
    # What daphne does to a request still running once its client has gone.
    async def waiting(scope, receive, send):
        await asyncio.Event().wait()

    before = counted("unmatched", 499, method="GET")
    app = ApplicationCommunicator(ObservedRequests(waiting), http_scope("/x/"))
    await app.send_input({"type": "http.request", "body": b""})
    assert await app.receive_nothing()
    app.future.cancel()
    await app.wait(5)
    [line] = access_lines()
    assert line["status"] == 499
    assert counted("unmatched", 499, method="GET") == before + 1


async def test_client_gone_while_sending_its_body_logged_499(access_lines):
    app = communicator("/assessments/leaning/", method="POST", headers=CSRF)
    await app.send_input({"type": "http.request", "body": b"answer=", "more_body": True})
    await app.send_input({"type": "http.disconnect"})
    await app.wait(5)
    [line] = access_lines()
    assert line["status"] == 499


async def test_request_the_client_waits_for_still_answered(access_lines):
    before = counted(LEANING, 200)
    app = await leaning_request()
    start = await app.receive_output(5)
    await app.wait(5)
    assert start["status"] == 200
    [line] = access_lines()
    assert line["status"] == 200
    assert counted(LEANING, 200) == before + 1


async def test_view_error_still_500(access_lines):
    before = counted(LEANING, 500)
    with patch.object(views, "evaluate", side_effect=RuntimeError("a bug")):
        app = await leaning_request()
        start = await app.receive_output(5)
        await app.wait(5)
    assert start["status"] == 500
    [line] = access_lines()
    assert line["status"] == 500
    assert counted(LEANING, 500) == before + 1


async def test_exception_after_the_client_left_still_500(access_lines):
    # A fault is a fault, whoever is left to see it.
    async def failing(scope, receive, send):
        assert (await receive())["type"] == "http.disconnect"
        raise RuntimeError("a bug")

    app = ApplicationCommunicator(ObservedRequests(failing), http_scope("/x/"))
    await app.send_input({"type": "http.disconnect"})
    with pytest.raises(RuntimeError):
        await app.wait(5)
    [line] = access_lines()
    assert line["status"] == 500
    assert line["route"] == "unmatched"
