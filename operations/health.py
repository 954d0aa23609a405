"""GET /healthz (the process answers) and GET /readyz (it can serve: database, Redis).

Plain ASGI apps ahead of Django (advisor/asgi.py), as a load balancer calls
them every second or so: /healthz touches nothing, and /readyz never waits
more than `TIMEOUT` for a dependency. Neither needs a sign-in; both answer a
host in ALLOWED_HOSTS or an IP address (a load balancer probes by the
server's address, docs/deploy.md), as /metrics does (operations/routing.py).

Cheap under any number of probes: however many arrive at once, each
dependency is asked once, and the answer is kept `FRESH` seconds. The
database is asked on a connection of the probe's own, outside the pool the
requests share: a pool whose connections are all in use means a busy
process, not an unready one, and must not take every process out of the
load balancer at once. What a failed check ran into (host, port, database
name) goes to the log under the request's id, never into the public answer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
import time
from typing import Any

import redis.asyncio as aioredis
from django.conf import settings
from django.db import connections

from advisor.origins import Scope, plain_response

logger = logging.getLogger(__name__)

# Seconds /readyz waits for each dependency before calling it unreachable.
TIMEOUT = 1.0
# Seconds a finished check's answer is given to the probes that follow.
FRESH = 1.0

OK = "ok"
NOT_CONFIGURED = "not configured"
UNREACHABLE = "unreachable"


async def send_json(scope: Scope, send, status: int, document: dict[str, Any]) -> None:
    body = json.dumps(document).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"cache-control", b"no-store"),
                (b"x-content-type-options", b"nosniff"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


async def healthz(scope: Scope, receive, send) -> None:
    if scope["method"] not in {"GET", "HEAD"}:
        await plain_response(send, 405, b"GET /healthz.\n", [(b"allow", b"GET, HEAD")])
        return
    await send_json(scope, send, 200, {"status": "ok"})


async def readyz(scope: Scope, receive, send) -> None:
    if scope["method"] not in {"GET", "HEAD"}:
        await plain_response(send, 405, b"GET /readyz.\n", [(b"allow", b"GET, HEAD")])
        return
    (database, database_why), (redis, redis_why) = await asyncio.gather(
        check_database(), check_redis()
    )
    checks = {"database": database, "redis": redis}
    failed = [f"{name}: {outcome}" for name, outcome in checks.items() if outcome == UNREACHABLE]
    if failed:
        # The why stays here, with this request's id: it names hosts and databases.
        why = {"database": database_why, "redis": redis_why}
        logger.warning(
            "readyz: not ready: %s",
            "; ".join(
                f"{name}: {why[name]}"
                for name, outcome in checks.items()
                if outcome == UNREACHABLE
            ),
        )
        document = {"status": "unavailable", "reason": "; ".join(failed), "checks": checks}
        await send_json(scope, send, 503, document)
        return
    await send_json(scope, send, 200, {"status": "ready", "checks": checks})


def _why(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200]}" if text else type(error).__name__


# The database ----------------------------------------------------------------


class DatabaseProbe:
    """`SELECT 1` on a connection of its own, kept between checks, made again after a failure.

    PostgreSQL: a psycopg connection outside the requests' pool (a busy pool
    is not an unready database). SQLite: Django's connection of the probe's
    thread, as there is no pool. Used from the one thread of `_executor`;
    the lock keeps it safe from any other.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connection = None

    def check(self) -> None:
        with self._lock:
            if connections["default"].vendor != "postgresql":
                self._query_django()
                return
            try:
                if self._connection is None or self._connection.closed:
                    self._connection = self._connect()
                self._connection.execute("SELECT 1")
            except Exception:
                self.close()
                raise

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:
                logger.debug("readyz: closing the probe's connection failed", exc_info=True)

    @staticmethod
    def _connect():
        import psycopg

        params = connections["default"].get_connection_params()
        # Django's adapters and cursor class are for the ORM, not a SELECT 1.
        for key in ("context", "cursor_factory", "prepare_threshold"):
            params.pop(key, None)
        params["connect_timeout"] = max(1, int(TIMEOUT))
        # A database gone silent (no reset, no answer) fails the probe's
        # query within seconds, so it reconnects, rather than hanging its
        # one thread until TCP gives up (many minutes).
        params.setdefault("tcp_user_timeout", int(TIMEOUT * 3000))
        return psycopg.connect(autocommit=True, **params)

    @staticmethod
    def _query_django() -> None:
        connection = connections["default"]
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        finally:
            connection.close()


database_probe = DatabaseProbe()

# One thread for the database check: a database that does not answer holds
# it, and the checks of the next seconds wait on that same attempt (each for
# at most TIMEOUT) instead of starting one thread more each.
_executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="readyz")
_attempt_lock = threading.Lock()
_database_attempt: concurrent.futures.Future | None = None
# (outcome, why, monotonic time) of the last attempt that finished.
_database_outcome: tuple[str, str, float] | None = None


def _run_database_check() -> tuple[str, str]:
    global _database_outcome
    try:
        database_probe.check()
    except Exception as error:
        outcome = (UNREACHABLE, _why(error))
    else:
        outcome = (OK, "")
    _database_outcome = (*outcome, time.monotonic())
    return outcome


def _database_future() -> tuple[concurrent.futures.Future | None, tuple[str, str] | None]:
    """The running attempt to wait on, or a fresh enough outcome to give at once."""
    global _database_attempt
    with _attempt_lock:
        finished = _database_outcome
        idle = _database_attempt is None or _database_attempt.done()
        if idle and finished is not None and time.monotonic() - finished[2] < FRESH:
            return None, finished[:2]
        if idle:
            _database_attempt = _executor.submit(_run_database_check)
        return _database_attempt, None


def _gave_up() -> tuple[str, str]:
    # An attempt can outlast TIMEOUT (libpq's connect timeout is 2 s at
    # least): the last one that ended says why.
    finished = _database_outcome
    last = f"; the last attempt: {finished[1]}" if finished and finished[1] else ""
    return UNREACHABLE, f"no answer within {TIMEOUT:g} s{last}"


async def check_database() -> tuple[str, str]:
    """("ok", "") or ("unreachable", why), within TIMEOUT."""
    attempt, outcome = _database_future()
    if attempt is None:
        return outcome
    try:
        return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(attempt)), TIMEOUT)
    except TimeoutError:
        return _gave_up()


def database_reachable() -> bool:
    """For sync code (a request thread): whether the database answers, within TIMEOUT.

    Tells a database that is down from a pool that is only busy: both make
    a request wait for a connection of the pool until it gives up.
    """
    attempt, outcome = _database_future()
    if attempt is not None:
        try:
            outcome = attempt.result(TIMEOUT)
        except concurrent.futures.TimeoutError:
            outcome = _gave_up()
    return outcome[0] == OK


def forget() -> None:
    """Forget the kept outcomes, so that the next probe asks again (tests, settings changes)."""
    global _database_outcome
    _database_outcome = None
    redis_probe.forget()


# Redis -----------------------------------------------------------------------


class RedisProbe:
    """PING on one client per event loop (redis-py's asyncio clients belong to one),
    concurrent checks coalesced into one, the outcome kept FRESH seconds."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._url = ""
        self._client: aioredis.Redis | None = None
        self._attempt: asyncio.Task | None = None
        self._outcome: tuple[str, str, float] | None = None

    async def check(self) -> tuple[str, str]:
        if not settings.REDIS_URL:
            return NOT_CONFIGURED, ""
        loop = asyncio.get_running_loop()
        if loop is not self._loop or self._url != settings.REDIS_URL:
            self._loop, self._url = loop, settings.REDIS_URL
            self._client = aioredis.from_url(
                self._url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT
            )
            self._attempt = self._outcome = None
        running = self._attempt is not None and not self._attempt.done()
        if not running:
            if self._outcome is not None and time.monotonic() - self._outcome[2] < FRESH:
                return self._outcome[:2]
            self._attempt = loop.create_task(self._ping(self._client))
        try:
            return await asyncio.wait_for(asyncio.shield(self._attempt), TIMEOUT)
        except TimeoutError:
            return UNREACHABLE, f"no answer within {TIMEOUT:g} s"

    def forget(self) -> None:
        self._outcome = None

    async def _ping(self, client: aioredis.Redis) -> tuple[str, str]:
        try:
            await client.ping()
        except Exception as error:
            outcome = (UNREACHABLE, _why(error))
        else:
            outcome = (OK, "")
        self._outcome = (*outcome, time.monotonic())
        return outcome


redis_probe = RedisProbe()


async def check_redis() -> tuple[str, str]:
    """("ok", ""), ("not configured", "") without REDIS_URL, or ("unreachable", why)."""
    return await redis_probe.check()
