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


@pytest.fixture(autouse=True)
def ask_again():
    # Each test sees its own dependencies' answers, not the last test's kept one.
    health.forget()
    yield
    health.forget()


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


async def test_healthz_and_readyz_refuse_another_host_name(settings):
    settings.ALLOWED_HOSTS = ["advisor.example.com"]
    assert (await request("/healthz", host="evil.example")).status == 400
    assert (await request("/readyz", host="evil.example")).status == 400
    assert (await request("/readyz", host="advisor.example.com")).status == 200


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


async def test_readyz_503_says_only_that_the_database_is_unreachable(caplog):
    def refuse() -> None:
        raise OperationalError('connection to server at "db.internal", port 5432 failed')

    with patch.object(health.database_probe, "check", refuse):
        answer = await request("/readyz", headers={"X-Request-ID": "probe-7"})
    assert answer.status == 503
    document = answer.json()
    assert document["status"] == "unavailable"
    assert document["reason"] == "database: unreachable"
    assert document["checks"]["database"] == "unreachable"
    # Host and port are for the log, not for whoever asks.
    assert b"db.internal" not in answer.body
    [warning] = [r for r in caplog.records if r.name == "operations.health"]
    assert "db.internal" in warning.getMessage()


async def test_readyz_gives_up_on_a_silent_database_within_a_second(settings):
    release = asyncio.Event()
    loop = asyncio.get_running_loop()

    def hang() -> None:
        asyncio.run_coroutine_threadsafe(release.wait(), loop).result(10)

    with patch.object(health.database_probe, "check", hang):
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
    assert answer.json()["checks"]["database"] == "unreachable"
    assert second.status == 503
    assert elapsed < 2.5


async def test_readyz_503_names_redis_when_it_is_down(settings):
    # Nothing listens on port 1.
    settings.REDIS_URL = "redis://127.0.0.1:1/6"
    started = time.monotonic()
    answer = await request("/readyz")
    assert answer.status == 503
    assert answer.json() == {
        "status": "unavailable",
        "reason": "redis: unreachable",
        "checks": {"database": "ok", "redis": "unreachable"},
    }
    assert time.monotonic() - started < 2.5


async def test_readyz_ready_with_redis(settings):
    settings.REDIS_URL = "redis://127.0.0.1:6379/6"
    answer = await request("/readyz")
    assert answer.status == 200
    assert answer.json()["checks"] == {"database": "ok", "redis": "ok"}


async def test_readyz_timeout_logs_why_the_last_attempt_failed(caplog):
    # An attempt can outlast the probe: it gives up first, and the log says
    # what the attempt before it ran into.
    def refuse() -> None:
        raise OperationalError("connection to server at 10.1.2.3 failed")

    with patch.object(health.database_probe, "check", refuse):
        assert (await request("/readyz")).status == 503
    health._database_outcome = (*health._database_outcome[:2], 0.0)  # no longer fresh
    release = asyncio.Event()
    loop = asyncio.get_running_loop()

    def hang() -> None:
        asyncio.run_coroutine_threadsafe(release.wait(), loop).result(10)

    caplog.clear()
    with patch.object(health.database_probe, "check", hang):
        answer = await request("/readyz")
        release.set()
        await asyncio.wrap_future(health._database_attempt)
    assert answer.json()["reason"] == "database: unreachable"
    [warning] = [r for r in caplog.records if r.name == "operations.health"]
    assert warning.getMessage() == (
        "readyz: not ready: database: no answer within 1 s; the last attempt: "
        "OperationalError: connection to server at 10.1.2.3 failed"
    )


async def test_readyz_many_probes_at_once_ask_each_dependency_once(settings):
    settings.REDIS_URL = "redis://127.0.0.1:6379/6"
    checks = 0
    real_check = health.DatabaseProbe.check

    def counted(self) -> None:
        nonlocal checks
        checks += 1
        real_check(self)

    pings = 0
    real_ping = health.RedisProbe._ping

    async def counted_ping(self, client):
        nonlocal pings
        pings += 1
        return await real_ping(self, client)

    with (
        patch.object(health.DatabaseProbe, "check", counted),
        patch.object(health.RedisProbe, "_ping", counted_ping),
        # Kept for the whole test: on a busy machine 50 requests may take
        # longer than the second an answer is kept, and a second check would
        # then be right.
        patch.object(health, "FRESH", 60.0),
    ):
        answers = await asyncio.gather(*[request("/readyz") for _ in range(50)])
    assert {answer.status for answer in answers} == {200}
    assert (checks, pings) == (1, 1)


async def test_readyz_reuses_one_redis_connection(settings):
    import redis

    settings.REDIS_URL = "redis://127.0.0.1:6379/6"
    server = redis.Redis.from_url(settings.REDIS_URL)
    await request("/readyz")
    before = server.info("stats")["total_connections_received"]
    for _ in range(3):
        health.forget()  # past the kept answer: each probe pings
        assert (await request("/readyz")).status == 200
    # Other tests' processes may connect meanwhile; three probes must not add three.
    assert server.info("stats")["total_connections_received"] - before < 3
