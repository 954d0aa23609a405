from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def no_redis(settings) -> None:
    """The probes need no channel layer or feed: keep live servers off any Redis."""
    settings.LIVE_DEMO = {**settings.LIVE_DEMO, "REDIS_URL": ""}
