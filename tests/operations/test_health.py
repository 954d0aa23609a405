"""GET /healthz and GET /readyz (operations/health.py)."""

from __future__ import annotations

import asyncio
import time
from unittest.mock import patch

import pytest
from django.db import OperationalError

from operations import health

from .asgi import request

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def test_healthz_ok():
    answer = await request("/healthz")
    assert answer.status == 200
    assert answer.json() == {"status": "ok"}
    assert answer.headers["content-type"] == "application/json"


async def test_healthz_answers_a_load_balancer_by_ip_host(settings):
    # A load balancer names the server's address, which ALLOWED_HOSTS does not list.
    settings.ALLOWED_HOSTS = ["advisor.example.com"]
    assert (await request("/healthz", host="10.0.0.7:8000")).status == 200
    assert (await request("/readyz", host="10.0.0.7:8000")).status == 200
    # Every other route still checks the host.
    assert (await request("/demo/stats/", host="10.0.0.7:8000")).status == 400


async def test_healthz_needs_no_sign_in(settings):
    settings.ADVISOR_ANONYMOUS = False
    settings.ADVISOR_PUBLIC_DEMO = False
    assert (await request("/healthz")).status == 200
    assert (await request("/readyz")).status == 200


async def test_healthz_reads_no_database():
    with patch.object(health.connections["default"], "cursor", side_effect=AssertionError):
        assert (await request("/healthz")).status == 200


async def test_healthz_refuses_post():
    assert (await request("/healthz", method="POST")).status == 405


async def test_readyz_ready_without_redis(settings):
    settings.REDIS_URL = ""
    answer = await request("/readyz")
    assert answer.status == 200
    assert answer.json() == {
        "status": "ready",
        "checks": {"database": "ok", "redis": "not configured"},
    }


async def test_readyz_503_names_the_database_when_it_fails():
    def refuse() -> None:
        raise OperationalError('connection to server at "127.0.0.1", port 1 failed: refused')

    with patch.object(health, "_query_database", refuse):
        answer = await request("/readyz")
    assert answer.status == 503
    document = answer.json()
    assert document["status"] == "unavailable"
    assert document["reason"].startswith("database: unreachable: OperationalError: connection")
    assert document["checks"]["database"].startswith("unreachable")


async def test_readyz_gives_up_on_a_silent_database_within_a_second(settings):
    release = asyncio.Event()
    loop = asyncio.get_running_loop()

    def hang() -> None:
        asyncio.run_coroutine_threadsafe(release.wait(), loop).result(10)

    with patch.object(health, "_query_database", hang):
        started = time.monotonic()
        answer = await request("/readyz")
        elapsed = time.monotonic() - started
        # The next probe waits on the same attempt: no new thread stuck on it.
        attempt = health._database_attempt
        second = await request("/readyz")
        assert health._database_attempt is attempt
        release.set()
        await asyncio.wrap_future(attempt)
    assert answer.status == 503
    assert answer.json()["checks"]["database"].startswith("unreachable: no answer within 1 s")
    assert second.status == 503
    assert elapsed < 2.5


async def test_readyz_503_names_redis_when_it_is_down(settings):
    # Nothing listens on port 1.
    settings.REDIS_URL = "redis://127.0.0.1:1/6"
    started = time.monotonic()
    answer = await request("/readyz")
    assert answer.status == 503
    document = answer.json()
    assert document["checks"]["database"] == "ok"
    assert document["checks"]["redis"].startswith("unreachable: ")
    assert document["reason"].startswith("redis: unreachable")
    assert time.monotonic() - started < 2.5


async def test_readyz_ready_with_redis(settings):
    settings.REDIS_URL = "redis://127.0.0.1:6379/6"
    answer = await request("/readyz")
    assert answer.status == 200
    assert answer.json()["checks"] == {"database": "ok", "redis": "ok"}


async def test_readyz_timeout_says_why_the_last_attempt_failed():
    # A pool that waits longer than a probe: the probe gives up first, and
    # says what the attempt before it ran into.
    def refuse() -> None:
        raise OperationalError("couldn't get a connection after 3.00 sec")

    with patch.object(health, "_query_database", refuse):
        assert (await request("/readyz")).status == 503
    release = asyncio.Event()
    loop = asyncio.get_running_loop()

    def hang() -> None:
        asyncio.run_coroutine_threadsafe(release.wait(), loop).result(10)

    with patch.object(health, "_query_database", hang):
        answer = await request("/readyz")
        release.set()
        await asyncio.wrap_future(health._database_attempt)
    assert answer.json()["checks"]["database"] == (
        "unreachable: no answer within 1 s; the last attempt: "
        "OperationalError: couldn't get a connection after 3.00 sec"
    )
