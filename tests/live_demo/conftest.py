from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from live_demo.feed import Feed, reset_feed

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(autouse=True)
def demo_options(settings) -> dict:
    """A quicker feed than the default, so tests wait less; tests may change more."""
    settings.LIVE_DEMO = {
        **settings.LIVE_DEMO,
        "REDIS_URL": "",
        "FEED_RATE": 20.0,
        "RESUME_WINDOW": 0.3,
    }
    return settings.LIVE_DEMO


@pytest.fixture
def redis_options(settings, demo_options) -> dict:
    """The feed and channel layer on the Redis server, under keys of this test's own."""
    prefix = f"advisor-test:{uuid.uuid4().hex}"
    settings.LIVE_DEMO = {**settings.LIVE_DEMO, "REDIS_URL": REDIS_URL, "REDIS_PREFIX": prefix}
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": prefix},
        }
    }
    yield settings.LIVE_DEMO
    delete_redis_keys(REDIS_URL, prefix)


def delete_redis_keys(url: str, prefix: str) -> None:
    """What a test stored in Redis under its own ``prefix``, and nothing else, deleted."""
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def workload_store_down(settings, monkeypatch) -> None:
    """The workload runs' cache is a Redis server that is down (nothing listens on port 1).

    A cache of its own: the default one stays usable for the tests' clean-up.
    """
    from live_demo.workload.runs import runs

    down = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
    }
    settings.CACHES = {**settings.CACHES, "down": down}
    monkeypatch.setattr(runs, "cache_alias", "down")


@pytest_asyncio.fixture
async def fresh_feed() -> AsyncIterator[None]:
    """Each async test gets its own feed on its own event loop, stopped afterwards."""
    await reset_feed()
    yield
    await reset_feed()


@pytest.fixture
def feed(settings) -> Feed:
    """A feed that does not tick: only the test publishes."""
    return Feed({**settings.LIVE_DEMO, "HISTORY": 5, "MAX_BACKLOG_EVENTS": 3})
