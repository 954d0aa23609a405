"""GET /healthz (the process answers) and GET /readyz (it can serve: database, Redis).

Plain ASGI apps ahead of Django (advisor/asgi.py), as a load balancer calls
them every second or so: /healthz touches nothing, and /readyz never waits
more than `TIMEOUT` for a dependency. Neither needs a sign-in, and both
answer whatever Host they are asked under: a load balancer probes by the
server's IP address, which ALLOWED_HOSTS does not list (docs/deploy.md).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
from typing import Any

import redis.asyncio as aioredis
from django.conf import settings
from django.db import connections

from advisor.origins import Scope, plain_response

logger = logging.getLogger(__name__)

# Seconds /readyz waits for each dependency before calling it unreachable.
TIMEOUT = 1.0

# One thread for the database check: a database that does not answer holds
# it, and the checks of the next seconds wait on that same attempt (each for
# at most TIMEOUT) instead of starting one thread more each.
_executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="readyz")
_database_attempt: concurrent.futures.Future | None = None
_last_failure = ""


def _remember_failure(attempt: concurrent.futures.Future) -> None:
    global _last_failure
    error = attempt.exception()
    _last_failure = "" if error is None else _why(error)


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
    checks = dict(
        zip(
            ("database", "redis"),
            await asyncio.gather(check_database(), check_redis()),
            strict=True,
        )
    )
    failed = [f"{name}: {outcome}" for name, outcome in checks.items() if outcome not in OK]
    if failed:
        document = {"status": "unavailable", "reason": "; ".join(failed), "checks": checks}
        await send_json(scope, send, 503, document)
        return
    await send_json(scope, send, 200, {"status": "ready", "checks": checks})


OK = frozenset({"ok", "not configured"})


def _why(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200]}" if text else type(error).__name__


def _query_database() -> None:
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        # Back to the pool (PostgreSQL), or closed: this thread keeps none.
        connection.close()


async def check_database() -> str:
    """ "ok", or why the database cannot be used (within TIMEOUT)."""
    global _database_attempt
    if _database_attempt is None or _database_attempt.done():
        _database_attempt = _executor.submit(_query_database)
        _database_attempt.add_done_callback(_remember_failure)
    attempt = _database_attempt
    try:
        await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(attempt)), TIMEOUT)
    except TimeoutError:
        # An attempt can outlast TIMEOUT (the pool waits DATABASE_POOL_TIMEOUT
        # for a connection): the last one that ended says why.
        last = f"; the last attempt: {_last_failure}" if _last_failure else ""
        return f"unreachable: no answer within {TIMEOUT:g} s{last}"
    except Exception as error:
        logger.warning("readyz: the database check failed", exc_info=True)
        return f"unreachable: {_why(error)}"
    return "ok"


async def check_redis() -> str:
    """ "ok", "not configured" without REDIS_URL, or why Redis cannot be used (within TIMEOUT)."""
    if not settings.REDIS_URL:
        return "not configured"
    client = aioredis.from_url(
        settings.REDIS_URL, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT
    )
    try:
        await asyncio.wait_for(client.ping(), TIMEOUT)
    except TimeoutError:
        return f"unreachable: no answer within {TIMEOUT:g} s"
    except Exception as error:
        logger.warning("readyz: the Redis check failed", exc_info=True)
        return f"unreachable: {_why(error)}"
    finally:
        await client.aclose()
    return "ok"
